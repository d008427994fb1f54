"""--reference on real faces: only the chosen person is swapped, through a change of places, a
leave and return, and with a model per person; the other person's pixels stay bit-exact."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from model_fixtures import write_invert_model
from people_fixtures import photo, side_of, two_people
from swap_fixtures import run_swap
from swapstream.engine.face.embedding import FaceEmbedder
from swapstream.engine.face.reference_files import load_reference
from swapstream.engine.face.tracking import FaceFinder, FinderConfig
from video_fixtures import decode

from swapstream.commands.swap_flags import reference_spec

pytest.importorskip("dlib", reason="--reference needs the `eval` extra (dlib)")

A, B = "astronaut", "hopper"  # tests/photo_fixtures.py
PHOTO_FRAME = 100  # the reference photos come from frames the composites never show
N = 36


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("people")
    photos = {}
    for name in (A, B):
        photos[name] = root / f"{name}.png"
        cv2.imwrite(str(photos[name]), photo(name, PHOTO_FRAME))
    finder, embedder = FaceFinder(FinderConfig(max_faces=1)), FaceEmbedder()
    refs = {name: load_reference(photos[name], 0, embedder, finder) for name in (A, B)}
    finder.close()
    invert = write_invert_model(root / "invert.onnx", 64)
    darken = write_invert_model(root / "darken.onnx", 64, darken=True)
    return root, photos, refs, invert, darken


def _untouched(frame, out, side: str) -> bool:
    w = frame.shape[1] // 2
    cols = slice(0, w) if side == "left" else slice(w, None)
    return np.array_equal(frame[:, cols], out[:, cols])


def test_only_the_reference_person_is_swapped_when_they_change_places(setup):
    _, _, refs, invert, _ = setup
    clip = two_people(A, B, N, swap_at=N // 2)
    packets = run_swap(invert, clip.frames, fps=30, references=(refs[A],))
    for i, (frame, p, a_side) in enumerate(zip(clip.frames, packets, clip.a_side, strict=True)):
        assert [side_of(s.landmarks, frame.shape[1]) for s in p.faces] == [a_side], f"frame {i}"
        other = "right" if a_side == "left" else "left"
        assert _untouched(frame, p.frame, other), f"frame {i}: the other person's half changed"
        assert not _untouched(frame, p.frame, a_side), f"frame {i}: the reference person was not swapped"


def test_a_person_who_leaves_and_comes_back_is_swapped_again_and_nobody_else(setup):
    _, _, refs, invert, _ = setup
    clip = two_people(A, B, N, away=(10, 22))
    packets = run_swap(invert, clip.frames, fps=30, references=(refs[A],))
    for i, (frame, p, a_side) in enumerate(zip(clip.frames, packets, clip.a_side, strict=True)):
        assert [side_of(s.landmarks, frame.shape[1]) for s in p.faces] == ([a_side] if a_side else []), f"frame {i}"
        if a_side is None:
            assert np.array_equal(frame, p.frame), f"frame {i}: nothing may change while A is away"


def test_each_person_is_swapped_by_their_own_model(setup):
    _, _, refs, invert, darken = setup
    clip = two_people(A, B, 12)
    b_ref = type(refs[B])(refs[B].name, refs[B].embeddings, target=1)
    packets = run_swap(invert, clip.frames, fps=30, references=(refs[A], b_ref), others={1: darken})
    w = clip.frames[0].shape[1] // 2
    for frame, p in zip(clip.frames, packets, strict=True):
        assert [s.target for s in p.faces] == [0, 1]
        changed = np.abs(p.frame.astype(int) - frame).max(axis=2) > 0
        left, right = changed[:, :w], changed[:, w:]
        assert left.any() and right.any()
        # the left face is inverted (much brighter and much darker pixels), the right one darkened:
        # brighter only where the bicubic paste overshoots at the darkened face's feathered rim
        diff = (p.frame.astype(int) - frame).mean(axis=2)
        assert (diff[:, :w][left] > 32).any() and (diff[:, :w][left] < -32).any()
        assert (diff[:, w:][right] <= 2).mean() > 0.98 and diff[:, w:][right].mean() < -8


def test_convert_with_a_reference_keeps_the_other_person_bit_exact(setup, tmp_path):
    _, photos, _, invert, _ = setup
    clip = two_people(A, B, 20)
    src = tmp_path / "two.mkv"
    writer = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"FFV1"), 30, clip.frames[0].shape[1::-1])
    for f in clip.frames:
        writer.write(f)
    writer.release()
    out = tmp_path / "out.mkv"
    cmd = [sys.executable, "-m", "swapstream", "convert", str(src), "-o", str(out), "-m", str(invert)]
    run = subprocess.run(
        [*cmd, "--lossless", "--no-audio", "--watermark", "off", "--reference", str(photos[B])],
        check=False,
        capture_output=True,
    )
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    inputs, outputs = decode(src), decode(out)
    assert len(outputs) == len(inputs) == 20
    for i, (a, b) in enumerate(zip(inputs, outputs, strict=True)):
        assert _untouched(a, b, "left"), f"frame {i}: person A is not the reference and must not change"
        assert not _untouched(a, b, "right"), f"frame {i}: the reference person was not swapped"


def test_a_reference_without_a_face_is_one_line_and_exit_2(setup, tmp_path):
    _, _, _, invert, _ = setup
    wall = tmp_path / "wall.png"
    cv2.imwrite(str(wall), np.full((200, 200, 3), 128, np.uint8))
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "0001.png"), photo(A, 0))
    for ref, problem in ((wall, "no face found"), (tmp_path / "absent.png", "no such photo or faceset")):
        cmd = [sys.executable, "-m", "swapstream", "convert", str(frames), "-o", str(tmp_path / "out")]
        run = subprocess.run(
            [*cmd, "-m", str(invert), "--reference", str(ref)], check=False, capture_output=True, text=True
        )
        assert run.returncode == 2, run.stderr
        lines = [ln for ln in run.stderr.splitlines() if "error:" in ln]
        assert len(lines) == 1 and str(ref) in lines[0] and problem in lines[0], run.stderr
        assert not (tmp_path / "out").exists()


def test_reference_specs_split_a_model_only_when_one_is_named():
    assert reference_spec("alice.jpg") == (Path("alice.jpg"), None)
    assert reference_spec("alice.jpg:alice.onnx") == (Path("alice.jpg"), Path("alice.onnx"))
    assert reference_spec("C:/faces/alice") == (Path("C:/faces/alice"), None)
    assert reference_spec("C:/faces/alice:D:/m/alice.dfm") == (Path("C:/faces/alice"), Path("D:/m/alice.dfm"))


def test_live_never_swaps_the_wrong_person_while_verdicts_arrive(setup):
    """Live: verdicts land when the embedding process answers; until then a face is not swapped."""
    from swapstream.engine.stages.faces import DetectConfig, DetectStage

    from swapstream.common.pipeline_contract import FramePacket

    _, _, refs, _, _ = setup
    clip = two_people(A, B, N, swap_at=N // 2)
    stage = DetectStage(DetectConfig(faces="all"), offline=False, references=(refs[A],))
    stage.setup()
    chosen = []
    try:
        for i, frame in enumerate(clip.frames):
            p = stage.process(FramePacket(i, i / 30, frame))
            chosen.append([side_of(s.landmarks, frame.shape[1]) for s in p.faces])
            time.sleep(1 / 30)  # a camera's pace: the embedding process answers meanwhile
    finally:
        stage.close()
    for i, (c, a_side) in enumerate(zip(chosen, clip.a_side, strict=True)):
        assert c in ([], [a_side]), f"frame {i}: {c} chosen, A is {a_side}"
    assert sum(c == [a] for c, a in zip(chosen, clip.a_side, strict=True)) >= N // 2, chosen
    assert chosen[N // 2 - 1] == ["left"] and chosen[-1] == ["right"], chosen


def _faceset(root: Path, name: str, picks: list[tuple[str, int]]) -> Path:
    """A faceset made by `swapstream extract` from frames (clip, index) of the test clips."""
    from swapstream.cli import main as cli_main

    stills = root / f"{name}_stills"
    stills.mkdir()
    for clip, index in picks:
        cv2.imwrite(str(stills / f"{Path(clip).stem}_{index:04d}.png"), photo(clip, index))
    assert cli_main(["extract", str(stills), "-o", str(root / name)]) == 0
    return root / name


@pytest.fixture(scope="module")
def facesets(tmp_path_factory):
    """B's faceset with one stray face of A among 12 (as extracting a video where A walks past
    gives), and a faceset of A and B half and half."""
    root = tmp_path_factory.mktemp("facesets")
    b_frames = [(B, i) for i in range(40, 205, 15)]  # 11 frames the composites never show
    return {
        "b_with_a_stray": _faceset(root, "b_with_a_stray", [*b_frames, (A, 150)]),
        "mixed": _faceset(root, "mixed", [*b_frames[:6], *[(A, i) for i in range(40, 130, 15)]]),
    }


def test_a_stranger_is_never_swapped_and_the_own_reference_is(setup, facesets):
    """Issue 26: a stranger's photo or faceset swaps nothing (every output pixel equals the input),
    even a faceset holding one stray face of the person in the video; their own photo swaps them."""
    _, _, refs, invert, _ = setup
    frames = [photo(A, i) for i in range(0, 36, 3)]
    finder, embedder = FaceFinder(FinderConfig(max_faces=1)), FaceEmbedder()
    try:
        stray = load_reference(facesets["b_with_a_stray"], 0, embedder, finder)
    finally:
        finder.close()
    for ref in (refs[B], stray):
        packets = run_swap(invert, frames, fps=10, references=(ref,))
        for i, (frame, p) in enumerate(zip(frames, packets, strict=True)):
            assert p.faces == [] and np.array_equal(frame, p.frame), f"{ref.name}: frame {i} of A was swapped"
    packets = run_swap(invert, frames, fps=10, references=(refs[A],))
    assert all(len(p.faces) == 1 and not np.array_equal(f, p.frame) for f, p in zip(frames, packets, strict=True))


def test_a_faceset_of_two_people_is_refused_with_one_line(setup, facesets, tmp_path):
    _, _, _, invert, _ = setup
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "0001.png"), photo(A, 0))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "swapstream", "convert", str(frames), "-o", str(out), "-m", str(invert)]
    run = subprocess.run([*cmd, "--reference", str(facesets["mixed"])], check=False, capture_output=True, text=True)
    assert run.returncode == 2, run.stderr
    lines = [ln for ln in run.stderr.splitlines() if "error:" in ln]
    assert len(lines) == 1 and "mixed" in lines[0] and "more than one person" in lines[0], run.stderr
    assert not out.exists()


def test_two_faces_of_one_frame_are_never_both_the_reference_person(setup):
    """The same person twice in a frame (a mirror, a screen behind them): at most one is the
    reference, the nearer; the other face stays untouched."""
    _, _, refs, invert, _ = setup
    clip = two_people(A, A, 6)
    for frame, p in zip(clip.frames, run_swap(invert, clip.frames, fps=30, references=(refs[A],)), strict=True):
        assert len(p.faces) == 1
        other = "right" if side_of(p.faces[0].landmarks, frame.shape[1]) == "left" else "left"
        assert _untouched(frame, p.frame, other)


def test_a_face_nearer_to_this_videos_nobody_than_to_the_reference_is_not_accepted(setup):
    """The margin against the video's other faces, on real embeddings: A's face is accepted against
    A's photo, but not once the video has shown a face judged nobody that it resembles more."""
    from swapstream.engine.face.people import decide_first

    _, _, refs, _, _ = setup
    finder, embedder = FaceFinder(FinderConfig(max_faces=1)), FaceEmbedder()
    try:
        frames = [photo(A, i) for i in (30, 33)]  # two frames a tenth of a second apart
        probe, lookalike = (embedder.embed(f, finder.find(f)[0].points) for f in frames)
    finally:
        finder.close()
    assert decide_first((refs[A],), probe) == 0
    assert decide_first((refs[A],), probe, others=[lookalike]) is None
