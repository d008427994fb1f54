"""Faces of every size (issue #17): small faces in big frames are found, tracked, extracted and
swapped; several small faces in one frame are all found; too-small faces are warned about."""

from __future__ import annotations

import logging
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import media
from model_fixtures import write_invert_model
from swapstream.engine.face.align import invert
from swapstream.engine.face.scan import DETECTOR_INPUT, MIN_FACE_IN_INPUT, scan_windows
from swapstream.engine.face.tracking import FaceFinder, FinderConfig, PhotoFaceFinder
from swapstream.engine.stages.faces import AlignStage, DetectConfig, DetectStage
from swapstream.trainer.extract import ExtractConfig, extract

from swapstream.common.faceset import Faceset
from swapstream.common.pipeline_contract import FaceSlot, FramePacket

N_FRAMES = 12
RES = 96


@pytest.fixture(scope="module")
def heads(astronaut_bgr, grace_hopper_bgr) -> dict[str, tuple[np.ndarray, float]]:
    """Head-and-shoulders crops of the two public-domain portraits and their face heights (px)."""
    finder = PhotoFaceFinder(max_faces=1)
    out = {}
    try:
        for name, crop in (("astronaut", astronaut_bgr[0:300, 100:400]), ("grace", grace_hopper_bgr[50:400, 80:430])):
            crop = np.ascontiguousarray(crop)
            out[name] = (crop, finder.find(crop)[0].height)
    finally:
        finder.close()
    return out


def place(canvas: np.ndarray, head: tuple[np.ndarray, float], face_px: float, x: int, y: int) -> None:
    """Paste a head crop scaled so its face is `face_px` tall, top-left corner at (x, y)."""
    image, height = head
    k = face_px / height
    small = cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    canvas[y : y + small.shape[0], x : x + small.shape[1]] = small


def small_face_frames(heads, face_px=60, size=(1280, 720)) -> list[np.ndarray]:
    """The astronaut's face `face_px` tall in a big grey frame, drifting 2 px per frame."""
    frames = []
    for i in range(N_FRAMES):
        canvas = np.full((size[1], size[0], 3), 96, np.uint8)
        place(canvas, heads["astronaut"], face_px, 700 + 2 * i, 300 + i)
        frames.append(canvas)
    return frames


def write_video(frames: list[np.ndarray], path: Path) -> Path:
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        s.options = {"crf": "12"}
        for fr in frames:
            out.mux(s.encode(av.VideoFrame.from_ndarray(fr, format="bgr24")))
        out.mux(s.encode())
    return path


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [np.ascontiguousarray(f.to_ndarray(format="bgr24")) for f in c.decode(video=0)]


def test_scan_tiles_cover_the_frame_at_the_size_that_finds_min_face():
    wins = scan_windows(1920, 1080, 40)
    assert (wins[0].w, wins[0].h) == (1920, 1080)
    tiles = wins[1:]
    smallest = min(t.w for t in tiles)
    assert smallest * MIN_FACE_IN_INPUT / DETECTOR_INPUT <= 40
    covered = np.zeros((1080, 1920), bool)
    for t in tiles:
        if t.w == smallest:
            covered[t.y : t.y + t.h, t.x : t.x + t.w] = True
    assert covered.all()
    assert len(scan_windows(640, 480, 40)) == 1, "a VGA frame shrunk whole already finds 47 px faces"


def test_small_face_is_tracked_without_redetecting(heads):
    frames = small_face_frames(heads, face_px=50, size=(1920, 1080))
    finder = FaceFinder(FinderConfig(max_faces=1))
    try:
        found = [finder.process(fr, i / 30) for i, fr in enumerate(frames)]
    finally:
        finder.close()
    assert all(len(f) == 1 for f in found)
    assert all(45 < f[0].height < 55 for f in found)
    assert finder.scans == 1, "one detection, then FaceMesh follows the face on its own square"
    xs = [float(f[0].points[:, 0].mean()) for f in found]
    assert 15 < xs[-1] - xs[0] < 30, "the landmarks follow the 2 px/frame drift"


def test_face_that_leaves_and_a_new_one_are_picked_up(heads):
    blank = np.full((720, 1280, 3), 96, np.uint8)
    one = blank.copy()
    place(one, heads["astronaut"], 80, 200, 200)
    two = one.copy()
    place(two, heads["grace"], 120, 800, 150)
    finder = FaceFinder(FinderConfig(max_faces=4, redetect_every=5, smooth=False))
    try:
        counts = [len(finder.process(fr, i / 30)) for i, fr in enumerate([one] * 3 + [blank] * 2 + [one] + [two] * 6)]
    finally:
        finder.close()
    assert counts[:3] == [1, 1, 1] and counts[3:5] == [0, 0] and counts[5] == 1
    assert counts[-1] == 2, "a face coming into view is found by the periodic re-detection"


def test_several_small_faces_in_one_frame_are_all_found(heads):
    frame = np.full((1080, 1920, 3), 96, np.uint8)
    astronaut, grace = heads["astronaut"], heads["grace"]
    place(frame, astronaut, 60, 150, 600)
    place(frame, (cv2.flip(grace[0], 1), grace[1]), 70, 700, 150)
    place(frame, grace, 90, 1200, 600)
    place(frame, (cv2.flip(astronaut[0], 1), astronaut[1]), 140, 1500, 80)
    detect = DetectStage(DetectConfig(faces="all", smooth=False), offline=True)
    detect.setup()
    try:
        packet = detect.process(FramePacket(0, 0.0, frame))
    finally:
        detect.close()
    assert len(packet.faces) == 4
    xs = [float(s.landmarks[:, 0].mean()) for s in packet.faces]
    assert xs == sorted(xs) and xs[0] < 400 and xs[-1] > 1500


def test_extract_keeps_a_small_face_clip_and_warns_it_is_small(heads, tmp_path):
    clip = write_video(small_face_frames(heads, face_px=60), tmp_path / "far.mp4")
    fs, summary = extract([clip], tmp_path / "fs", ExtractConfig(), progress=False)
    assert len({f.frame for f in fs.faces}) >= 0.95 * N_FRAMES
    assert any("too small for a useful 256 px crop" in w for w in summary.warnings)
    _, summary = extract([clip], tmp_path / "fs64", ExtractConfig(size=64), progress=False)
    assert not summary.warnings, "a 60 px face fills a 64 px crop without upscaling"


def test_align_warns_once_about_a_face_too_small_for_the_model(heads, caplog):
    frame = small_face_frames(heads, face_px=50)[0]
    finder = PhotoFaceFinder(max_faces=1)
    try:
        landmarks = finder.find(frame)[0].landmarks
    finally:
        finder.close()
    align = AlignStage("whole", 256)
    with caplog.at_level(logging.WARNING):
        for i in range(3):
            align.process(FramePacket(i, i / 30, frame, faces=[FaceSlot(landmarks=landmarks)]))
    assert caplog.text.count("too small for a sharp swap") == 1 and align.upscaled == 3


def test_extract_keeps_s13_wide_shot(tmp_path):
    _, summary = extract([media("s13.mp4")], tmp_path / "fs", ExtractConfig(every=2), progress=False)
    frames = len(range(0, summary.frames_read, 2))
    assert len(Faceset.open(tmp_path / "fs")) >= 0.9 * frames, summary.rejected


def test_small_face_is_swapped_and_the_background_is_untouched(heads, tmp_path, caplog):
    from swapstream.engine.engine_config import load_engine_config
    from swapstream.engine.pipeline.build import swap_stages
    from swapstream.engine.runtime.providers import RuntimeConfig
    from swapstream.engine.runtime.swap_model import load_swap_model

    clip = write_video(small_face_frames(heads, face_px=60), tmp_path / "far.mp4")
    model = load_swap_model(write_invert_model(tmp_path / "m.onnx", RES), RuntimeConfig(providers=("cpu",)))
    stages = swap_stages(model, load_engine_config().replace(swap={"color": "none"}), offline=True)
    for stage in stages:
        stage.setup()
    try:
        with caplog.at_level(logging.WARNING):
            for i, frame in enumerate(decode(clip)):
                packet = FramePacket(i, i / 30, frame.copy())
                for stage in stages:
                    packet = stage.process(packet)
                assert len(packet.faces) == 1, f"frame {i}: the 60 px face was not found"
                (slot,) = packet.faces
                h, w = frame.shape[:2]
                alpha = cv2.warpAffine(slot.mask, invert(slot.matrix), (w, h), flags=cv2.INTER_LINEAR)
                outside = cv2.dilate((alpha > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) == 0
                assert np.array_equal(frame[outside], packet.frame[outside]), f"frame {i}: background changed"
                inside = cv2.warpAffine(slot.hull, invert(slot.matrix), (w, h), flags=cv2.INTER_NEAREST) > 0
                changed = np.abs(frame.astype(int) - packet.frame).max(axis=2)[inside] > 16
                assert inside.sum() > 500 and changed.mean() > 0.5, f"frame {i}: the face was not swapped"
    finally:
        for stage in stages:
            stage.close()
    assert "too small for a sharp swap" not in caplog.text, "60 px is plenty for a 96 px model"
