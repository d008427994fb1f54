"""Stages and sources on their own: camera faults, sink failures, image folders, faces=all,
engine config validation."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest
from pipeline_fixtures import CountingSource
from swapstream.engine.engine_config import EngineConfig, load_engine_config
from swapstream.engine.pipeline.runner import Pipeline, PipelinePolicy, run_sequential
from swapstream.engine.stages.camera import CameraConfig, CameraSource
from swapstream.engine.stages.capture import ImageFolderSource, VideoFileSource
from swapstream.engine.stages.faces import AlignStage, DetectConfig, DetectStage
from swapstream.engine.stages.sink_file import EncoderConfig, ImageSequenceSink, VideoFileSink

from swapstream.common.errors import UserError


class FakeCapture:
    """Stands in for cv2.VideoCapture: delivers `frames` frames, then reads fail."""

    def __init__(self, frames: int, opened: bool = True):
        self.left, self.opened = frames, opened

    def isOpened(self):
        return self.opened

    def set(self, prop, value):
        return True

    def get(self, prop):
        return 30.0

    def read(self):
        if self.left <= 0:
            return False, None
        self.left -= 1
        return True, np.full((48, 64, 3), 7, np.uint8)

    def release(self):
        self.opened = False


FAST_RETRY = CameraConfig(width=64, height=48, reopen_attempts=2, backoff_s=0.01)


def test_camera_reopens_then_reports_a_clear_error():
    opens = []

    def open_capture(device):
        opens.append(device)
        # first open: 5 frames; second (a reopen): 3 more; then the camera is gone.
        return FakeCapture({1: 5, 2: 3}.get(len(opens), 0), opened=len(opens) <= 2)

    cam = CameraSource(2, FAST_RETRY, open_capture=open_capture)
    info = cam.setup()
    assert (info.width, info.height, info.realtime) == (64, 48, True)
    got = []
    with pytest.raises(UserError, match="camera 2: stopped delivering frames and 2 reopen attempts failed"):
        for p in cam.frames(threading.Event()):
            got.append(p.seq)
    # setup read 1 of the first 5; 4 + 2 (the reopen check read 1 of 3) delivered as packets.
    assert got == list(range(6)) and cam.reopens == 1
    cam.close()


def test_camera_that_cannot_be_opened_or_delivers_nothing():
    with pytest.raises(UserError, match="camera 0: cannot be opened"):
        CameraSource(0, FAST_RETRY, open_capture=lambda d: FakeCapture(0, opened=False)).setup()
    with pytest.raises(UserError, match="delivers no frames"):
        CameraSource(0, FAST_RETRY, open_capture=lambda d: FakeCapture(0)).setup()


class FailingVideoSink(VideoFileSink):
    def write(self, packet):
        if packet.seq == 10:
            raise OSError(28, "No space left on device")
        super().write(packet)


def test_sink_failing_mid_run_leaves_no_file(tmp_path):
    out = tmp_path / "out.mp4"
    pipe = Pipeline(CountingSource(40, size=64), [], FailingVideoSink(out, EncoderConfig()), PipelinePolicy(False, 2))
    with pytest.raises(OSError, match="No space left"):
        pipe.run()
    assert list(tmp_path.iterdir()) == [], "a half-written file was left behind"


def test_video_sink_refuses_changing_frame_size_and_discards(tmp_path):
    class Growing(CountingSource):
        def frames(self, stop):
            for p in super().frames(stop):
                if p.seq == 3:
                    p.frame = np.zeros((16, 16, 3), np.uint8)
                yield p

    out = tmp_path / "out.mkv"
    with pytest.raises(UserError, match="frame 3 is 16x16"):
        run_sequential(Growing(6), [], VideoFileSink(out, EncoderConfig(codec="ffv1")))
    assert list(tmp_path.iterdir()) == []


def test_image_folder_roundtrip_is_lossless(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(4)]
    for i, im in enumerate(images):
        cv2.imwrite(str(src / f"f{i}.png"), im)
    (src / "notes.txt").write_text("ignored")
    run_sequential(ImageFolderSource(src), [], ImageSequenceSink(tmp_path / "out"))
    out = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in out] == [f"{i:06d}.png" for i in range(4)]
    assert all(np.array_equal(cv2.imread(str(p)), im) for p, im in zip(out, images, strict=True))
    with pytest.raises(UserError, match="no images"):
        ImageFolderSource(tmp_path).setup()


def test_unreadable_video_file(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 1000)
    with pytest.raises(UserError, match=r"bad\.mp4: cannot be read as a video"):
        VideoFileSource(bad).setup()


def test_detect_all_faces_left_to_right_and_align(astronaut_bgr, grace_hopper_bgr):
    """Two real faces side by side: 'all' finds both, in order; 'largest' keeps the bigger one."""
    left = cv2.resize(astronaut_bgr[0:300, 100:400], (400, 400))
    right = cv2.resize(grace_hopper_bgr[50:400, 80:430], (300, 300))
    right = cv2.copyMakeBorder(right, 0, 100, 0, 0, cv2.BORDER_REPLICATE)
    frame = np.ascontiguousarray(np.hstack([left, right]))
    from swapstream.common.pipeline_contract import FramePacket

    found = {}
    for faces, expected in (("all", 2), ("largest", 1)):
        detect = DetectStage(DetectConfig(faces=faces, smooth=False))
        detect.setup()
        align = AlignStage("whole", 64)
        try:
            p = align.process(detect.process(FramePacket(0, 0.0, frame.copy())))
        finally:
            detect.close()
        assert len(p.faces) == expected, faces
        xs = [float(s.landmarks[:, 0].mean()) for s in p.faces]
        assert xs == sorted(xs)
        found[faces] = p.faces
        for s in p.faces:
            assert s.crop.shape == (64, 64, 3) and s.hull.shape == (64, 64) and s.hull.max() == 255
            assert s.matrix.shape == (2, 3)
    assert found["all"][0].landmarks[:, 0].mean() < 400 < found["all"][1].landmarks[:, 0].mean()
    heights = [np.linalg.norm(s.landmarks[10, :2] - s.landmarks[152, :2]) for s in found["all"]]
    biggest = found["all"][int(np.argmax(heights))]
    np.testing.assert_allclose(found["largest"][0].landmarks, biggest.landmarks, atol=1.0)


def test_engine_yaml_equals_defaults_and_is_validated(tmp_path):
    assert load_engine_config() == EngineConfig()
    bad = tmp_path / "e.yaml"
    bad.write_text("version: 1\nswap:\n  colour: rct\n")
    with pytest.raises(UserError, match=r"unknown key swap\.colour"):
        load_engine_config(bad)
    bad.write_text("version: 1\nlive:\n  queue_depth: 5\n")
    with pytest.raises(UserError, match="queue_depth must be 1 or 2"):
        load_engine_config(bad)
    bad.write_text("version: 1\ndetect:\n  smooth: 3\n")
    with pytest.raises(UserError, match=r"detect\.smooth must be bool"):
        load_engine_config(bad)
    with pytest.raises(UserError, match="no such config file"):
        load_engine_config(tmp_path / "missing.yaml")
