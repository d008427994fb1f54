"""Never lose a user's file (issue 11): every command against the mistakes users and hostile
testers make. Each case checks the exit code, that the one error line names the file or flag,
and - the point - that every input and every pre-existing output is byte-identical afterwards
and no temp file is left behind. Signals are sent for real to running subprocesses.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import time

import cv2
import numpy as np
import pytest
from bad_input_media import (
    TINY_PRESET,
    Command,
    broken_models,
    clip_frames,
    decode,
    digest,
    leftovers,
    truncated_clip,
    write_clip,
)

from swapstream.cli import main


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """inputs/ (everything a command reads, plus a pre-existing output) and the tiny facesets."""
    root = tmp_path_factory.mktemp("bad_inputs")
    inp = root / "inputs"
    inp.mkdir()
    frames = clip_frames("astronaut", 30)
    write_clip(inp / "clip.mp4", frames[:12])
    write_clip(inp / "existing.mp4", frames[12:24])  # a good output from an earlier run
    write_clip(inp / "rotated.mp4", [np.rot90(f, -1) for f in frames[:6]], rotation=90)
    truncated_clip(inp / "truncated.mp4", frames)
    broken_models(inp)
    (inp / "empty_label.yaml").write_text('output:\n  label: ""\n')
    (inp / "faceset").mkdir()
    (inp / "faceset" / "faceset.json").write_text("{}")
    (inp / "tiny.yaml").write_text(TINY_PRESET)
    os.mkfifo(inp / "fifo.mp4")
    return root


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def fill(argv: str, work, tmp_path) -> list[str]:
    return argv.format(i=work / "inputs", o=tmp_path).split()


CONVERT = "convert {i}/clip.mp4 -m {i}/model.onnx"
TRAIN = "train -a {i}/faceset -b {i}/faceset -o {o}/run"
EVAL = "eval --driving {i}/clip.mp4 --swapped {i}/existing.mp4 --identity {i}/faceset"
LIVE = "live -m {i}/model.onnx"
STUDIO = "studio -m {i}/model.onnx --port 0 --source {i}/clip.mp4"
BENCH = "bench -m {i}/model.onnx --source {i}/clip.mp4"

# (id, argv, the words the one error line must hold)
REFUSED = [
    # 1. a live recording never replaces its source (or the model)
    ("live-record-onto-source", LIVE + " --source {i}/clip.mp4 --record {i}/clip.mp4", ["clip.mp4", "overwrite"]),
    ("live-record-onto-model", LIVE + " --source {i}/clip.mp4 --record {i}/model.onnx", ["model.onnx", "overwrite"]),
    ("studio-record-onto-source", STUDIO + " --record {i}/clip.mp4", ["clip.mp4", "overwrite"]),
    (
        "studio-record-onto-model",
        STUDIO + " --source {i}/clip.mp4 --record {i}/model.onnx",
        ["model.onnx", "overwrite"],
    ),
    # 2. reports never replace an input
    ("eval-json-onto-driving", EVAL + " --json {i}/clip.mp4", ["--json", "clip.mp4", "overwrite"]),
    ("eval-plot-onto-swapped", EVAL + " --plot {i}/existing.mp4", ["--plot", "existing.mp4", "overwrite"]),
    ("eval-json-into-identity", EVAL + " --json {i}/faceset/faceset.json", ["faceset.json", "input folder"]),
    ("convert-onto-model", CONVERT + " -o {i}/model.onnx", ["model.onnx", "overwrite"]),
    ("convert-onto-reference", CONVERT + " -o {i}/faceset --reference {i}/faceset", ["faceset", "overwrite"]),
    ("bench-json-onto-source", BENCH + " --json {i}/clip.mp4", ["--json", "clip.mp4", "overwrite"]),
    ("bench-plot-onto-model", BENCH + " --plot {i}/model.onnx", ["--plot", "model.onnx", "overwrite"]),
    ("bench-json-unwritable", BENCH + " --json /proc/bench.json", ["/proc/bench.json", "cannot write"]),
    ("bench-frames", BENCH + " --frames 1", ["--frames"]),
    # two outputs of one command naming one file (issue 26): the second would replace the first
    ("bench-json-and-plot-one-file", BENCH + " --json {o}/b.json --plot {o}/./b.json", ["--json and --plot", "same"]),
    ("eval-json-and-plot-one-file", EVAL + " --json {o}/r.json --plot {o}/../{o.name}/r.json", ["r.json", "same"]),
    # 7. truncated input: declared vs decoded, exit 2 unless --allow-partial
    ("convert-truncated", "convert {i}/truncated.mp4 -m {i}/model.onnx -o {o}/out.mp4", ["truncated.mp4", "30 frames"]),
    ("extract-truncated", "extract {i}/truncated.mp4 -o {o}/fs", ["truncated.mp4", "30 frames", "--allow-partial"]),
    # 9. numeric flags are checked at the edge, with their range
    ("train-minutes-nan", TRAIN + " --minutes nan", ["--minutes", "finite"]),
    ("train-minutes-inf", TRAIN + " --minutes inf", ["--minutes", "finite"]),
    ("train-lr-nan", TRAIN + " --iters 2 --lr nan", ["--lr"]),
    ("train-threads-0", TRAIN + " --iters 2 --threads 0", ["--threads"]),
    ("train-threads-huge", TRAIN + " --iters 2 --threads 100000", ["--threads", "100000"]),
    ("train-seed-negative", TRAIN + " --iters 2 --seed -1", ["--seed"]),
    ("train-batch-negative", TRAIN + " --iters 2 --batch-size -1", ["--batch-size"]),
    ("convert-threads-negative", CONVERT + " -o {o}/o.mp4 --threads -1", ["--threads"]),
    ("convert-threads-huge", CONVERT + " -o {o}/o.mp4 --threads 100000", ["--threads"]),
    ("convert-crf", CONVERT + " -o {o}/o.mp4 --crf -5", ["--crf", "0..51"]),
    ("convert-preset", CONVERT + " -o {o}/o.mp4 --preset bogus", ["--preset", "bogus"]),
    ("convert-max-frames", CONVERT + " -o {o}/o.mp4 --max-frames -1", ["--max-frames"]),
    ("convert-detail", CONVERT + " -o {o}/o.mp4 --detail 3", ["--detail"]),
    ("export-trt-batch", "export {i}/faceset -o {o}/m.onnx --trt-max-batch 0", ["--trt-max-batch"]),
    ("extract-every", "extract {i}/clip.mp4 -o {o}/fs --every 0", ["--every"]),
    ("eval-every", EVAL + " --every 0", ["--every"]),
    ("live-duration", LIVE + " --source {i}/clip.mp4 --duration -1", ["--duration"]),
    ("demo-minutes", "demo -o {o}/demo --train-minutes nan", ["--train-minutes"]),
    # 10. unwritable outputs are found before any work
    ("eval-json-unwritable", EVAL + " --json /proc/swapstream/report.json", ["report.json", "cannot write"]),
    ("export-unwritable", "export {i}/faceset -o /proc/model.onnx", ["/proc/model.onnx", "cannot write"]),
    ("convert-unwritable", CONVERT + " -o /proc/out.mp4", ["/proc/out.mp4", "cannot write"]),
    # 11. model outputs are checked against the contract at load
    ("info-bad-dtype", "info {i}/bad_dtype.onnx", ["bad_dtype.onnx", "float", "uint8"]),
    ("convert-bad-shape", "convert {i}/clip.mp4 -m {i}/bad_shape.onnx -o {o}/o.mp4", ["bad_shape.onnx", "shape"]),
    # ... and against their weights_sha256, which binds the face type to the weights (issue 26)
    (
        "convert-zeroed-hash",
        CONVERT.replace("model.onnx", "zeroed_hash.onnx") + " -o {o}/o.mp4",
        ["zeroed_hash", "sha256"],
    ),
    ("info-edited-face-type", "info {i}/edited_face_type.onnx", ["edited_face_type.onnx", "does not match"]),
    # 13. the synthetic-media label cannot be blanked
    ("convert-empty-label", CONVERT + " -o {o}/o.mp4 --config {i}/empty_label.yaml", ["empty_label.yaml", "label"]),
    # 15. messages say what the file is
    ("extract-fifo", "extract {i}/fifo.mp4 -o {o}/fs", ["fifo.mp4", "not a regular file"]),
    ("convert-fifo", "convert {i}/fifo.mp4 -m {i}/model.onnx -o {o}/o.mp4", ["fifo.mp4", "not a regular file"]),
    ("live-missing-file", LIVE + " --source {i}/missing.mp4", ["missing.mp4", "no such file"]),
]


@pytest.mark.parametrize(("argv", "words"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_refused_with_one_line_and_nothing_touched(work, tmp_path, capsys, argv, words):
    before = digest(work)
    code, err = run_cli(fill(argv, work, tmp_path), capsys)
    lines = [line for line in err.splitlines() if "error:" in line]
    assert code == 2, err
    assert len(lines) == 1 and all(w in lines[0] for w in words), err
    assert "empty file" not in err and "cannot be opened" not in err  # a FIFO, a missing file: said so
    assert digest(work) == before
    assert not leftovers(work) and not leftovers(tmp_path)
    assert not [p for p in tmp_path.iterdir() if p.suffix in (".mp4", ".json", ".onnx")]


@pytest.mark.parametrize("command", ["convert", "extract"])
def test_allow_partial_uses_the_frames_that_decode(work, tmp_path, capsys, command):
    out = tmp_path / ("out.mp4" if command == "convert" else "fs")
    extra = ["-m", str(work / "inputs" / "model.onnx")] if command == "convert" else []
    argv = [command, str(work / "inputs" / "truncated.mp4"), *extra, "-o", str(out), "--allow-partial"]
    code, err = run_cli(argv, capsys)
    assert code == 0, err
    assert out.exists()
    if command == "convert":
        assert 0 < len(decode(out)) < 30


def test_rotation_flag_is_applied_on_decode(work, tmp_path, capsys):
    """A phone clip stored sideways plays upright: frames are turned by the display flag, so the
    output (rotation 0) has the displayed size and the upright picture."""
    from swapstream.trainer.media_inputs import iter_video

    upright = clip_frames("astronaut", 6)
    decoded = [f for _, _, f in iter_video(work / "inputs" / "rotated.mp4")]
    assert decoded[0].shape == upright[0].shape
    assert np.abs(decoded[0].astype(int) - upright[0]).mean() < 4  # codec noise only
    out = tmp_path / "out.mkv"
    argv = ["convert", str(work / "inputs" / "rotated.mp4"), "-m", str(work / "inputs" / "model.onnx")]
    code, err = run_cli([*argv, "-o", str(out), "--lossless", "--color", "none", "--watermark", "off"], capsys)
    assert code == 0, err
    frames = decode(out)
    assert len(frames) == 6 and frames[0].shape == upright[0].shape
    assert (frames[0] == decoded[0]).all(axis=2).mean() > 0.5  # untouched outside the face


@pytest.mark.parametrize(("umask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_outputs_honour_the_umask(work, tmp_path, capsys, umask, file_mode, dir_mode):
    old = os.umask(umask)
    try:
        base = ["convert", str(work / "inputs" / "clip.mp4"), "-m", str(work / "inputs" / "model.onnx")]
        assert run_cli([*base, "-o", str(tmp_path / "v.mp4"), "--max-frames", "2"], capsys)[0] == 0
        assert run_cli([*base, "-o", str(tmp_path / "frames"), "--max-frames", "2"], capsys)[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "v.mp4").stat().st_mode) == file_mode
    assert stat.S_IMODE((tmp_path / "frames").stat().st_mode) == dir_mode


# -- signals ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_convert_keeps_the_finished_part_beside_the_output(work, tmp_path, sig):
    """3 + 4: an existing output is never replaced; the finished part is a valid NAME.partial.mp4."""
    long_clip = tmp_path / "long.mp4"
    write_clip(long_clip, clip_frames("hopper", 150))
    out = tmp_path / "existing.mp4"
    shutil.copyfile(work / "inputs" / "existing.mp4", out)
    before = {**digest(work), "out": digest(tmp_path)}
    cmd = Command(["convert", str(long_clip), "-m", str(work / "inputs" / "model.onnx"), "-o", str(out)])
    cmd.wait_for(r"convert:\s+\d+%\|[^|]*\| ([5-9]|[1-9]\d)/150")  # a few frames are done
    cmd.proc.send_signal(sig)
    code, err = cmd.finish()
    assert code == 130, err
    assert "interrupted: kept the" in err and "existing.partial.mp4" in err and "was not touched" in err
    assert {**digest(work), "out": {k: v for k, v in digest(tmp_path).items() if "partial" not in k}} == before
    kept = decode(tmp_path / "existing.partial.mp4")
    assert 5 <= len(kept) < 150
    assert f"kept the {len(kept)} finished frames" in err
    assert not leftovers(tmp_path)


def test_live_recording_is_finalised_when_the_terminal_closes(work, tmp_path):
    """4: SIGHUP (and SIGTERM) stop `live` like Ctrl-C: the recording is closed under its name."""
    source = write_clip(tmp_path / "source.mp4", clip_frames("hopper", 150))
    record = tmp_path / "record.mp4"
    cmd = Command(["live", "-m", str(work / "inputs" / "model.onnx"), "--source", str(source), "--record", str(record)])
    cmd.wait_for(r"\d+\.\d fps \| latency")  # the first status line: frames are flowing
    cmd.proc.send_signal(signal.SIGHUP)
    code, err = cmd.finish()
    assert code == 130, err
    assert f"interrupted: the recording {record} was finalised" in err
    assert 0 < len(decode(record)) < 150
    assert not leftovers(tmp_path)


@pytest.fixture(scope="module")
def facesets(work):
    """Two tiny real facesets (A: the astronaut, B: Grace Hopper), 8 faces each at 64 px."""
    from swapstream.trainer.extract import ExtractConfig, extract

    out = {}
    for name, clip in (("a", "astronaut"), ("b", "hopper")):
        video = write_clip(work / f"src_{name}.mp4", clip_frames(clip, 8))
        out[name] = work / f"fs_{name}"
        extract([video], out[name], ExtractConfig(face_type="whole", size=64), progress=False)
    return out["a"], out["b"]


def train_argv(facesets, run, *extra) -> list[str]:
    a, b = facesets
    preset = str(run.parent / "tiny.yaml")
    (run.parent / "tiny.yaml").write_text(TINY_PRESET)
    return ["train", "-a", str(a), "-b", str(b), "-o", str(run), "--preset", preset, "--threads", "1", *extra]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_train_saves_a_checkpoint(facesets, tmp_path, sig):
    from swapstream.trainer.checkpoint import load_checkpoint

    run = tmp_path / "run"
    cmd = Command(train_argv(facesets, run, "--iters", "1000000", "--no-progress"))
    cmd.wait_until((run / "loss.png").exists)  # the first report is drawn just before the loop
    time.sleep(2.0)  # into the loop (a signal during setup exits without a checkpoint: nothing to keep yet)
    cmd.proc.send_signal(sig)
    code, err = cmd.finish()
    assert code == 130, err
    assert "interrupted: the checkpoint" in err and "--resume" in err
    assert load_checkpoint(run / "checkpoint.pt")["iteration"] >= 0
    assert not leftovers(run)


def test_resume_keeps_its_facesets_and_cleans_a_killed_save(facesets, tmp_path, capsys):
    """5 + 12: a killed save's temp file is removed by later runs; --resume with -a/-b swapped is
    refused (checkpoint untouched) unless --replace-facesets."""
    run = tmp_path / "run"
    assert run_cli(train_argv(facesets, run, "--iters", "2", "--no-progress"), capsys)[0] == 0
    stale = run / ".checkpoint.pt.abcd1234.tmp"
    stale.write_bytes(b"\0" * 1024)
    os.utime(stale, (1, 1))  # long untouched: its writer was killed
    checkpoint = (run / "checkpoint.pt").read_bytes()
    a, b = facesets
    swapped = train_argv((b, a), run, "--iters", "3", "--no-progress", "--resume")
    code, err = run_cli(swapped, capsys)
    assert code == 2 and "-a and -b are swapped" in err and "--replace-facesets" in err, err
    assert (run / "checkpoint.pt").read_bytes() == checkpoint
    assert not stale.exists()
    assert run_cli([*swapped, "--replace-facesets"], capsys)[0] == 0


# -- third-party log noise ------------------------------------------------------------------------
@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
def test_first_stderr_line_is_ours(work, tmp_path, verbose):
    """15: MediaPipe/TFLite/absl lines are dropped unless --verbose (a photo without a face: refused
    once MediaPipe has looked at it)."""
    sky = tmp_path / "sky.png"
    cv2.imwrite(str(sky), np.tile(np.linspace(0, 255, 320, dtype=np.uint8), (240, 1)))
    cmd = Command(["extract", str(sky), "-o", str(tmp_path / "fs")], verbose=verbose)
    code, err = cmd.finish()
    assert code == 2
    noise = [line for line in err.splitlines() if "W0000" in line or "TensorFlow Lite" in line or "absl" in line]
    assert bool(noise) == verbose, err
    assert err.rstrip().splitlines()[-1].startswith("swapstream extract: error: ")
