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
from swapstream.engine.face.tracking import FaceFinder
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
    finder, embedder = FaceFinder(), FaceEmbedder()
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
        # the left face is inverted (much brighter and much darker pixels), the right one darkened
        diff = (p.frame.astype(int) - frame).mean(axis=2)
        assert (diff[:, :w][left] > 32).any() and (diff[:, :w][left] < -32).any()
        assert (diff[:, w:][right] <= 2).mean() > 0.99 and diff[:, w:][right].mean() < -8


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
        [*cmd, "--lossless", "--no-audio", "--reference", str(photos[B])], check=False, capture_output=True
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
