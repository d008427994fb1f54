"""`convert --resume` never mixes and never trips over what an earlier run left (issue 26, items
1, 6 and 7), in the style of tests/test_bad_inputs.py: every refusal is one line, exit 2, and
leaves every input and existing output byte-identical.

- 1: a file that changes pixels (the occlusion model, a reference photo), replaced in place under
  the same name between a run and its --resume, is refused by its content hash, naming the flag.
- 6: a kept part that was damaged (cut short, bytes changed, or never recorded as finished) is
  converted again with a one-line warning, and the output equals an uninterrupted run's.
- 7: a refused convert leaves no NAME.parts/ (which would block a later --resume) and no empty
  output folder.

The clip: 30 frames of d18 at 256x192 with a keyframe every 15 frames; `--segment-seconds 0.5`
cuts it into 2 segments, converted losslessly with the colour-inverting contract model, so equal
frames mean equal pixels. "Interrupted" is a Ctrl-C raised in this process once the first part is
finished.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from bad_input_media import clip_frames, digest, leftovers, truncated_clip, write_clip
from model_fixtures import write_invert_model
from onnx import TensorProto, helper
from video_fixtures import decode

from swapstream.cli import main

pytestmark = pytest.mark.media

FRAMES, GOP, RES = 30, 15, 64
SEGMENTS = ["--segment-seconds", "0.5", "--lossless", "--color", "none"]


def write_occluder(path: Path, value: int, resolution: int = 48) -> Path:
    """An occlusion model (its contract, as train-mask writes it) that says VALUE everywhere:
    0 = nothing in front of the face, 255 = the face is covered (the driver is kept)."""
    from swapstream.engine.runtime.occluder import OccluderContract

    r = resolution
    nodes = [
        helper.make_node("Slice", ["face", "c0", "c1", "axis3"], ["first"]),
        helper.make_node("Cast", ["first"], ["first_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["first_f", "zero"], ["zeros"]),
        helper.make_node("Add", ["zeros", "value"], ["out_f"]),
        helper.make_node("Cast", ["out_f"], ["occlusion"], to=TensorProto.UINT8),
    ]
    inits = [
        helper.make_tensor("c0", TensorProto.INT64, [1], [0]),
        helper.make_tensor("c1", TensorProto.INT64, [1], [1]),
        helper.make_tensor("axis3", TensorProto.INT64, [1], [3]),
        helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("value", TensorProto.FLOAT, [], [float(value)]),
    ]
    graph = helper.make_graph(
        nodes,
        "constant_occluder",
        [helper.make_tensor_value_info("face", TensorProto.UINT8, ["N", r, r, 3])],
        [helper.make_tensor_value_info("occlusion", TensorProto.UINT8, ["N", r, r, 1])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for k, v in OccluderContract("whole", r, iterations=1).to_metadata().items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def run_cli(argv: list, capsys) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("parts26")
    write_clip(root / "clip.mp4", clip_frames("astronaut", FRAMES), gop=GOP)
    write_invert_model(root / "model.onnx", RES)
    write_occluder(root / "occ_clear.onnx", 0)
    write_occluder(root / "occ_covered.onnx", 255)
    return root


def base_argv(work: Path, out: Path, *extra) -> list:
    return ["convert", work / "clip.mp4", "-m", work / "model.onnx", "-o", out, *SEGMENTS, *extra]


@pytest.fixture(scope="module")
def reference(work) -> list[np.ndarray]:
    """The frames of a plain, uninterrupted convert."""
    out = work / "reference.mkv"
    assert main([str(a) for a in base_argv(work, out)]) == 0
    return decode(out)


def interrupt_after_first_part(argv: list, monkeypatch, capsys) -> Path:
    """Run ARGV with a Ctrl-C once its first part is finished; returns the parts folder it left."""
    import swapstream.convert_parts.work as segment_work

    real = segment_work.run_segment

    def stop_after_first(task, tick=None):
        if task.index >= 1:
            raise KeyboardInterrupt
        return real(task, tick)

    with monkeypatch.context() as patch:
        patch.setattr(segment_work, "run_segment", stop_after_first)
        code, err = run_cli(argv, capsys)
    assert code == 130 and "--resume" in err, err
    out = Path(argv[argv.index("-o") + 1])
    parts = out.with_name(out.stem + ".parts")
    assert (parts / f"part_00000{out.suffix}").is_file() and not (parts / f"part_00001{out.suffix}").exists()
    return parts


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    return lines[0]


# -- 1: every file that changes pixels is recorded by its content --------------------------------
def test_resume_refuses_an_occlusion_model_replaced_under_the_same_name(work, tmp_path, monkeypatch, capsys):
    occ = shutil.copyfile(work / "occ_clear.onnx", tmp_path / "occ.onnx")
    out = tmp_path / "out.mkv"
    argv = base_argv(work, out, "--mask", "occlusion", "--occluder", occ)
    interrupt_after_first_part(argv, monkeypatch, capsys)
    shutil.copyfile(work / "occ_covered.onnx", occ)  # another train-mask model, the same name
    before = {**digest(work), **digest(tmp_path)}
    code, err = run_cli([*argv, "--resume"], capsys)
    assert code == 2, err
    line = one_error_line(err)
    assert all(w in line for w in ("out.parts", "another occlusion model", "--occluder", "occ.onnx")), line
    assert {**digest(work), **digest(tmp_path)} == before
    # With the occluder it was made with, the resume gives the frames of one uninterrupted run.
    shutil.copyfile(work / "occ_clear.onnx", occ)
    code, err = run_cli([*argv, "--resume"], capsys)
    assert code == 0 and "1 kept from an earlier run" in err, err
    whole = tmp_path / "whole.mkv"
    assert run_cli(base_argv(work, whole, "--mask", "occlusion", "--occluder", occ), capsys)[0] == 0
    assert all(np.array_equal(a, b) for a, b in zip(decode(out), decode(whole), strict=True))


def test_resume_refuses_a_reference_photo_replaced_under_the_same_name(work, tmp_path, monkeypatch, capsys):
    pytest.importorskip("dlib", reason="--reference needs the `eval` extra (dlib)")
    from people_fixtures import photo

    ref = tmp_path / "who.png"
    cv2.imwrite(str(ref), photo("d18.mp4", 180))
    out = tmp_path / "out.mkv"
    argv = base_argv(work, out, "--reference", ref)
    interrupt_after_first_part(argv, monkeypatch, capsys)
    cv2.imwrite(str(ref), photo("d19.mp4", 180))  # someone else, the same file name
    before = digest(tmp_path)
    code, err = run_cli([*argv, "--resume"], capsys)
    assert code == 2, err
    line = one_error_line(err)
    assert all(w in line for w in ("another reference photo or faceset", "--reference 1", "who.png")), line
    assert digest(tmp_path) == before


# -- 6: a damaged kept part is converted again ---------------------------------------------------
def _cut_short(part: Path, parts: Path) -> None:
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])


def _bytes_changed(part: Path, parts: Path) -> None:
    data = bytearray(part.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    part.write_bytes(bytes(data))


def _cut_short_unrecorded(part: Path, parts: Path) -> None:
    """A writer killed between finishing the part and recording it: no checksum to compare."""
    manifest = json.loads((parts / "manifest.json").read_text())
    manifest["parts"] = {}
    (parts / "manifest.json").write_text(json.dumps(manifest))
    _cut_short(part, parts)


@pytest.mark.parametrize("damage", [_cut_short, _bytes_changed, _cut_short_unrecorded], ids=lambda f: f.__name__[1:])
def test_a_damaged_kept_part_is_converted_again(work, reference, tmp_path, monkeypatch, capsys, caplog, damage):
    out = tmp_path / "out.mkv"
    argv = base_argv(work, out)
    parts = interrupt_after_first_part(argv, monkeypatch, capsys)
    damage(parts / "part_00000.mkv", parts)
    inputs = digest(work)
    code, err = run_cli([*argv, "--resume"], capsys)
    assert code == 0, err
    notes = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "part_00000.mkv" in r.getMessage()]
    assert len(notes) == 1 and "converting its segment again" in notes[0] and "\n" not in notes[0], notes
    assert "kept from an earlier run" not in err  # nothing was kept: both segments converted now
    frames = decode(out)
    assert len(frames) == FRAMES and all(np.array_equal(a, b) for a, b in zip(frames, reference, strict=True))
    assert digest(work) == inputs and not parts.exists() and not leftovers(tmp_path)


def test_a_sound_kept_part_is_kept(work, reference, tmp_path, monkeypatch, capsys, caplog):
    out = tmp_path / "out.mkv"
    argv = base_argv(work, out)
    parts = interrupt_after_first_part(argv, monkeypatch, capsys)
    recorded = json.loads((parts / "manifest.json").read_text())["parts"]
    assert list(recorded) == ["part_00000.mkv"] and recorded["part_00000.mkv"]["frames"] == GOP
    code, err = run_cli([*argv, "--resume"], capsys)
    assert code == 0 and "1 kept from an earlier run" in err and "again" not in caplog.text, err
    assert all(np.array_equal(a, b) for a, b in zip(decode(out), reference, strict=True))


# -- 7: a refused convert leaves nothing behind --------------------------------------------------
def test_a_refused_convert_leaves_no_parts_folder_to_block_a_resume(work, tmp_path, capsys):
    """The encoder is opened by the first segment, after the parts folder was made: refused there,
    the folder holding only a manifest went, so the corrected --resume run is not told its parts
    were 'made with other settings'."""
    out = tmp_path / "out.mp4"
    argv = ["convert", work / "clip.mp4", "-m", work / "model.onnx", "-o", out, "--segment-seconds", "0.5"]
    before = digest(work)
    code, err = run_cli([*argv, "--codec", "bogus"], capsys)
    assert code == 2 and "bogus" in one_error_line(err), err
    assert digest(work) == before and not list(tmp_path.iterdir())
    code, err = run_cli([*argv, "--resume"], capsys)
    assert code == 0, err
    assert len(decode(out)) == FRAMES


def test_a_refused_folder_of_videos_leaves_no_output_folder(work, tmp_path, capsys):
    """The first video's parts folder is made, then the second video is refused (truncated)."""
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copyfile(work / "clip.mp4", videos / "a_good.mp4")
    truncated_clip(videos / "b_truncated.mp4", clip_frames("astronaut", FRAMES))
    before = digest(videos)
    out = tmp_path / "swapped"
    code, err = run_cli(["convert", videos, "-m", work / "model.onnx", "-o", out, "--resume"], capsys)
    assert code == 2 and "b_truncated.mp4" in one_error_line(err), err
    assert digest(videos) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["videos"]


def test_a_parts_folder_without_a_finished_part_does_not_block_a_resume(work, reference, tmp_path, monkeypatch, capsys):
    """A run killed before its first part was finished leaves NAME.parts/ with only its manifest:
    nothing to keep, so a --resume with other settings starts afresh instead of being refused."""
    out = tmp_path / "out.mkv"
    parts = interrupt_after_first_part(base_argv(work, out, "--blend", "poisson"), monkeypatch, capsys)
    (parts / "part_00000.mkv").unlink()  # as if killed before it was renamed into place
    code, err = run_cli([*base_argv(work, out), "--resume"], capsys)
    assert code == 0, err
    assert all(np.array_equal(a, b) for a, b in zip(decode(out), reference, strict=True))
    assert not parts.exists()
