"""A refused run changes nothing and leaves nothing (issue 26, items 3, 4, 5 and 7), in the style of
tests/test_bad_inputs.py: exit 2, one error line naming the file, every input and existing output
byte-identical afterwards, and no file or folder the run made is left.

- 3: extract into an existing faceset is all or nothing: a truncated video is refused before any
  work, and a refusal found part way (past segment boundaries) leaves faceset.json and its files
  as they were; a killed run leaves faceset.json as it was and the next run resumes.
- 4: extract never writes into a folder it reads (nor reads from the folder it writes).
- 5: live and studio --record never replace an existing file.
- 7: extract that finds no face leaves no faceset; train refused after making its run folder
  leaves no folder.
"""

from __future__ import annotations

import shutil
import signal
import subprocess

import cv2
import numpy as np
import pytest
from bad_input_media import TINY_PRESET, Command, clip_frames, digest, leftovers, truncated_clip, write_clip

from swapstream.cli import main

pytestmark = pytest.mark.media


def run_cli(argv: list, capsys) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def refused(argv: list, capsys, *words: str) -> str:
    """Run ARGV; it must exit 2 with one error line holding WORDS."""
    code, err = run_cli(argv, capsys)
    lines = [line for line in err.replace("\r", "\n").splitlines() if "error:" in line]
    assert code == 2 and len(lines) == 1, err
    assert all(w in lines[0] for w in words), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def work(tmp_path_factory, astronaut_bgr):
    """clips/ (a good 8-frame clip, a truncated one, a faceless photo), photos/ (the astronaut) and
    fs/: a faceset extracted from the good clip, with its contact sheet."""
    root = tmp_path_factory.mktemp("outputs26")
    clips = root / "clips"
    clips.mkdir()
    frames = clip_frames("astronaut", 30)
    write_clip(clips / "good.mp4", frames[:8])
    write_clip(clips / "more.mp4", frames[8:30])
    truncated_clip(clips / "truncated.mp4", frames)
    cv2.imwrite(str(clips / "sky.png"), np.tile(np.linspace(0, 255, 320, dtype=np.uint8), (240, 1)))
    (root / "photos").mkdir()
    cv2.imwrite(str(root / "photos" / "astronaut.png"), astronaut_bgr)
    assert main(["extract", str(clips / "good.mp4"), "-o", str(root / "fs"), "--size", "64"]) == 0
    return root


@pytest.fixture
def faceset(work, tmp_path):
    """A copy of the module's faceset, free to be changed."""
    return shutil.copytree(work / "fs", tmp_path / "fs")


def faceset_files(fs) -> set[str]:
    return {str(p.relative_to(fs)) for p in fs.rglob("*") if p.is_file()}


# -- 3: extract changes a faceset all at once, or not at all -------------------------------------
def test_a_truncated_video_is_refused_before_any_work(work, faceset, capsys):
    before = {**digest(work / "clips"), **digest(faceset)}
    refused(["extract", work / "clips" / "truncated.mp4", "-o", faceset, "--size", "64"], capsys, "truncated.mp4")
    assert {**digest(work / "clips"), **digest(faceset)} == before
    assert not leftovers(faceset)


def test_a_refusal_found_part_way_leaves_the_faceset_as_it_was(work, faceset):
    """The refusal comes after segment boundaries were saved and faces written: none of it stays."""
    from swapstream.trainer.extract import ExtractConfig, extract

    from swapstream.common.errors import UserError

    before = digest(faceset)

    def refuse_at(frames_read: int) -> None:
        if frames_read == 15:
            raise UserError("clip: decoding failed after 15 frames")

    cfg = ExtractConfig(size=64, segment=4)
    with pytest.raises(UserError):
        extract([work / "clips" / "more.mp4"], faceset, cfg, progress=False, on_frame=refuse_at)
    assert digest(faceset) == before
    # The same run, not refused, adds the clip's faces all at once.
    fs, _ = extract([work / "clips" / "more.mp4"], faceset, cfg, progress=False)
    assert len(fs) > len([k for k in before if k.startswith("faces/")])
    listed = {rel for r in fs.faces for rel in (r.file, r.mask)}
    assert {f for f in faceset_files(faceset) if f.startswith(("faces/", "masks/"))} == listed


def test_a_killed_extract_leaves_faceset_json_and_resumes(work, faceset, tmp_path):
    """SIGKILL after a segment boundary: faceset.json is untouched; the next run resumes from the
    saved state and gives exactly the faceset of one uninterrupted run."""
    from swapstream.common.faceset import PENDING, Faceset

    long_clip = write_clip(tmp_path / "long.mp4", clip_frames("hopper", 140))
    manifest = (faceset / "faceset.json").read_bytes()
    cmd = Command(["extract", str(long_clip), "-o", str(faceset), "--size", "64"])
    cmd.wait_for(r"\| (6[5-9]|[7-9]\d|1[0-3]\d)/140", timeout=120)  # past the boundary at frame 64
    cmd.proc.send_signal(signal.SIGKILL)
    cmd.finish()
    assert (faceset / "faceset.json").read_bytes() == manifest and (faceset / PENDING).is_file()
    clean = shutil.copytree(work / "fs", tmp_path / "clean")
    assert main(["extract", str(long_clip), "-o", str(clean), "--size", "64"]) == 0
    assert main(["extract", str(long_clip), "-o", str(faceset), "--size", "64"]) == 0
    assert not (faceset / PENDING).exists()
    assert [f.file for f in Faceset.open(faceset).faces] == [f.file for f in Faceset.open(clean).faces]
    assert {k: v for k, v in digest(faceset).items() if k != "faceset.json"} == {
        k: v for k, v in digest(clean).items() if k != "faceset.json"
    }


# -- 4: extract never reads what it writes ------------------------------------------------------
OWN_FOLDER = [
    ("output-is-the-input-folder", "{w}/photos", "{w}/photos", ["photos", "is the input folder"]),
    ("output-inside-the-input-folder", "{w}/photos", "{w}/photos/fs", ["fs", "inside the input folder"]),
    ("input-folder-inside-the-output", "{fs}/faces", "{fs}", ["holds the input"]),
    ("input-file-inside-the-output", "{fs}/contact_sheet.png", "{fs}", ["holds the input", "contact_sheet.png"]),
]


@pytest.mark.parametrize(("inp", "out", "words"), [c[1:] for c in OWN_FOLDER], ids=[c[0] for c in OWN_FOLDER])
def test_extract_refuses_an_output_folder_tangled_with_its_inputs(work, faceset, capsys, inp, out, words):
    inp, out = (s.format(w=work, fs=faceset) for s in (inp, out))
    before = {**digest(work / "photos"), **digest(faceset)}
    refused(["extract", inp, "-o", out, "--size", "64"], capsys, "-o", *words)
    assert {**digest(work / "photos"), **digest(faceset)} == before
    assert sorted(p.name for p in (work / "photos").iterdir()) == ["astronaut.png"]


# -- 5: a recording never replaces a file -------------------------------------------------------
@pytest.mark.parametrize("command", ["live", "studio"])
def test_record_refuses_an_existing_file(work, tmp_path, capsys, command):
    from model_fixtures import write_invert_model

    model = write_invert_model(tmp_path / "model.onnx", 64)
    existing = shutil.copyfile(work / "clips" / "more.mp4", tmp_path / "finished.mp4")
    before = digest(tmp_path)
    argv = [command, "-m", model, "--source", work / "clips" / "good.mp4", "--record", existing]
    if command == "live":
        refused(argv, capsys, "finished.mp4", "exists")
    else:  # a studio that accepted it would serve until stopped: run it apart, with a deadline
        cmd = Command([str(a) for a in (*argv, "--port", "0")])
        try:
            code, err = cmd.finish(timeout=60)
        except subprocess.TimeoutExpired:
            cmd.proc.kill()
            cmd.finish()
            raise AssertionError("the studio started instead of refusing --record onto an existing file") from None
        lines = [line for line in err.splitlines() if "error:" in line]
        assert code == 2 and len(lines) == 1 and "finished.mp4" in lines[0] and "exists" in lines[0], err
    assert digest(tmp_path) == before and not leftovers(tmp_path)


# -- 7: a run that made nothing leaves nothing ---------------------------------------------------
def test_extract_that_finds_no_face_leaves_no_faceset(work, faceset, tmp_path, capsys):
    sky = work / "clips" / "sky.png"
    refused(["extract", sky, "-o", tmp_path / "new" / "fs"], capsys, "sky.png", "no face")
    assert not (tmp_path / "new").exists()
    before = digest(faceset)  # an existing faceset: not even the faceless source is recorded
    refused(["extract", sky, "-o", faceset, "--size", "64"], capsys, "sky.png", "no face")
    assert digest(faceset) == before


def test_extract_that_keeps_no_face_leaves_no_faceset(work, tmp_path, capsys):
    """Faces found but every one rejected (too small for --min-face): nothing made, nothing left."""
    refused(["extract", work / "clips" / "good.mp4", "-o", tmp_path / "fs", "--min-face", "1000"], capsys, "no face")
    assert not list(tmp_path.iterdir())


BAD_TRAIN = [
    ("faceset-unreadable", ["-a", "{w}/fs_broken"], ["fs_broken"]),
    ("faceset-too-small", ["-a", "{w}/fs", "--preset", "live"], ["fs", "px"]),
]


@pytest.mark.parametrize(("extra", "words"), [c[1:] for c in BAD_TRAIN], ids=[c[0] for c in BAD_TRAIN])
def test_refused_train_leaves_no_run_folder(work, tmp_path, capsys, extra, words):
    broken = work / "fs_broken"
    broken.mkdir(exist_ok=True)
    (broken / "faceset.json").write_text("{}")
    (tmp_path / "tiny.yaml").write_text(TINY_PRESET)
    preset = [] if "--preset" in extra else ["--preset", tmp_path / "tiny.yaml"]
    argv = ["train", "-b", work / "fs", *(e.format(w=work) for e in extra), *preset, "--iters", "2"]
    before = digest(work)
    refused([*argv, "-o", tmp_path / "runs" / "run1"], capsys, *words)
    assert digest(work) == before and not (tmp_path / "runs").exists()
