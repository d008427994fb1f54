"""`swapstream convert` in segments (issue 15): every video-to-video convert resumes frame-exact
and runs the same on Ray workers.

The clip: 60 frames of the astronaut's clip (tests/photo_fixtures.py) with a keyframe every 15 and
its audio; `--segment-seconds 0.5` cuts
it into 4 segments. Converted losslessly (FFV1) with the colour-inverting contract model, so
equal outputs mean equal pixels. The reference is a plain single-process convert, uninterrupted:
what a crashed-and-resumed run, an interrupted-and-resumed run and a Ray run must reproduce.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import pytest
from bad_input_media import Command, clip_frames, truncated_clip
from model_fixtures import write_invert_model
from video_fixtures import audio_seconds, cut_with_audio, decode

from swapstream.cli import main

FRAMES, GOP, RES = 60, 15, 96
SEGMENTS = ["--segment-seconds", "0.5", "--lossless", "--color", "none"]


def write_clip(source: Path, path: Path, frames: int = FRAMES, first: int = 0) -> Path:
    """FRAMES frames of SOURCE from FIRST, H.264 with a keyframe every GOP frames, plus its audio."""
    options = {"crf": "16", "g": str(GOP), "keyint_min": str(GOP)}
    return cut_with_audio(source, path, frames, first, options)


def video_packets(path: Path) -> list[tuple[int, bytes]]:
    with av.open(str(path)) as c:
        return [(p.pts, bytes(p)) for p in c.demux(video=0) if p.size]


def pts_of(path: Path) -> list[int]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [round(f.pts * s.time_base * 30) for f in c.decode(s)]  # in frames at 30 fps


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def work(tmp_path_factory, face_clip) -> Path:
    root = tmp_path_factory.mktemp("parts")
    write_clip(face_clip, root / "clip.mp4")
    write_invert_model(root / "invert.onnx", RES)
    write_invert_model(root / "other.onnx", RES, preset="other")
    return root


@pytest.fixture(scope="module")
def reference(work) -> Path:
    """A plain convert (no --resume, no --workers), uninterrupted, in this process."""
    out = work / "reference.mkv"
    code = main(["convert", str(work / "clip.mp4"), "-m", str(work / "invert.onnx"), "-o", str(out), *SEGMENTS])
    assert code == 0
    return out


def convert_cmd(work: Path, out: Path, *extra: str) -> Command:
    return Command(
        ["convert", str(work / "clip.mp4"), "-m", str(work / "invert.onnx"), "-o", str(out), *SEGMENTS, *extra]
    )


def test_plan_cuts_at_keyframes_near_the_target():
    from swapstream.engine.stages.segment_source import plan_segments

    assert plan_segments([0, 20, 40, 60, 80], 90, 30) == [(0, 20), (20, 40), (40, 60), (60, 90)]
    assert plan_segments([0, 250], 400, 120) == [(0, 250), (250, 400)]  # a keyframe within 2.5 targets
    assert plan_segments([0], 1000, 120) == [(0, 1000)]  # no keyframe to start another segment on
    assert plan_segments([0, 500, 990], 1000, 120) == [(0, 500), (500, 1000)]  # the next one; none < half a target
    assert plan_segments([0], 10, 120) == [(0, 10)]


def test_segments_join_into_the_input_timing_with_audio_and_label(work, reference):
    assert len(decode(reference)) == FRAMES
    # The input's frame times (MKV shifts them all by the audio's priming delay, 23 ms here).
    start = pts_of(reference)[0]
    assert [t - start for t in pts_of(reference)] == pts_of(work / "clip.mp4")
    assert abs(audio_seconds(reference) - audio_seconds(work / "clip.mp4")) < 0.03
    with av.open(str(reference)) as c:
        assert "synthetic" in c.metadata.get("COMMENT", c.metadata.get("comment", "")).lower()
        assert c.streams.video[0].codec_context.name == "ffv1"
    assert not (work / "reference.parts").exists(), "the parts folder is removed once joined"


def _crash_after_two_parts(work: Path, out: Path) -> None:
    """Start a plain convert and SIGKILL it once two parts are finished: no clean-up at all."""
    cmd = convert_cmd(work, out)
    parts = out.with_suffix(".parts")
    cmd.wait_until((parts / "part_00001.mkv").exists, timeout=120)
    cmd.proc.send_signal(signal.SIGKILL)
    cmd.finish()


def test_killed_convert_resumes_to_the_same_output_and_refuses_other_settings(work, reference, capsys):
    out = work / "crashed.mkv"
    _crash_after_two_parts(work, out)
    parts = work / "crashed.parts"
    kept = {p.name: p.stat().st_mtime_ns for p in parts.glob("part_*.mkv")}
    assert {"part_00000.mkv", "part_00001.mkv"} <= set(kept) and len(kept) < 4 and not out.exists()
    base = ["convert", work / "clip.mp4", "-m", work / "invert.onnx", "-o", out]
    for extra, words in (
        ([], ["crashed.parts", "--resume"]),  # never reused silently
        (["--resume", *SEGMENTS, "--color", "rct"], ["other settings", "swap.color", "'none' there, 'rct' here"]),
        (["--resume", *SEGMENTS, "--max-frames", "50"], ["segment plan"]),
    ):
        code, err = run_cli([*base, *extra], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and all(w in err for w in words), err
    code, err = run_cli([*base[:3], work / "other.onnx", "-o", out, "--resume", *SEGMENTS], capsys)
    assert code == 2 and "another model file" in err, err
    code, err = run_cli([*base, "--resume", *SEGMENTS], capsys)
    assert code == 0, err
    assert f"{len(kept)} kept from an earlier run" in err
    assert video_packets(out) == video_packets(reference)  # byte-identical video stream
    assert abs(audio_seconds(out) - audio_seconds(reference)) < 1e-6
    assert not parts.exists() and not list(work.glob(".crashed*"))


def test_interrupted_convert_keeps_a_playable_part_and_resumes_to_the_same_output(work, reference, capsys):
    """A plain convert stopped by SIGTERM: the frames finished so far as a playable NAME.partial.mkv
    (the reference's first frames, with audio and label) and the finished segments for --resume."""
    out = work / "interrupted.mkv"
    cmd = convert_cmd(work, out)
    cmd.wait_until((work / "interrupted.parts" / "part_00000.mkv").exists, timeout=120)
    cmd.proc.send_signal(signal.SIGTERM)
    code, err = cmd.finish()
    assert code == 130, err
    assert "interrupted: kept the" in err and "interrupted.partial.mkv" in err, err
    assert "finished segments in" in err and "interrupted.parts" in err and "--resume" in err, err
    names = sorted(p.name for p in (work / "interrupted.parts").iterdir())
    assert names[0] == "manifest.json" and all(n.startswith("part_") and n.count(".") == 1 for n in names[1:]), names
    partial = decode(work / "interrupted.partial.mkv")
    assert f"kept the {len(partial)} finished frames" in err and GOP <= len(partial) < FRAMES
    assert all(np.array_equal(a, b) for a, b in zip(partial, decode(reference)[: len(partial)], strict=True))
    assert abs(audio_seconds(work / "interrupted.partial.mkv") - len(partial) / 30) < 0.05
    assert not out.exists() and not list(work.glob(".interrupted*"))
    code, err = run_cli(
        ["convert", work / "clip.mp4", "-m", work / "invert.onnx", "-o", out, "--resume", *SEGMENTS], capsys
    )
    assert code == 0, err
    assert video_packets(out) == video_packets(reference)


def test_a_video_that_cannot_be_cut_converts_in_one_pipeline_unless_resume_is_asked(work, tmp_path, capsys, caplog):
    """A truncated input with --allow-partial: its last frames may not decode, so no plan can hold."""
    clip = truncated_clip(tmp_path / "truncated.mp4", clip_frames("astronaut", 30))
    base = ["convert", clip, "-m", work / "invert.onnx", "--allow-partial"]
    code, err = run_cli([*base, "-o", tmp_path / "resumable.mp4", "--resume"], capsys)
    assert code == 2 and "in one pipeline, not resumable" in err, err
    code, err = run_cli([*base, "-o", tmp_path / "out.mp4"], capsys)
    assert code == 0, err
    assert "converting it in one pipeline (it cannot be resumed)" in caplog.text
    assert 0 < len(decode(tmp_path / "out.mp4")) < 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4", "truncated.mp4"]


def test_without_ray_workers_say_how_to_install_it(work, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)
    argv = ["convert", work / "clip.mp4", "-m", work / "invert.onnx", "-o", tmp_path / "o.mkv", "--workers", "2"]
    code, err = run_cli(argv, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "pip install 'swapstream[cluster]'" in err
    assert not list(tmp_path.iterdir())


# -- Ray ------------------------------------------------------------------------------------------
def test_a_convert_that_started_ray_removes_only_its_own_session_folder(work, face_clip, tmp_path, capsys, monkeypatch):
    """Ray's temp root gets a session folder per local instance; a run removes the one it made
    and leaves another instance's alone. (Runs before the module's shared Ray instance starts.)"""
    ray = pytest.importorskip("ray")
    assert not ray.is_initialized()
    with tempfile.TemporaryDirectory(prefix="ss-ray-") as short:  # Ray's socket paths are < 108 bytes
        monkeypatch.setenv("RAY_TMPDIR", short)
        other = Path(short) / "ray" / "session_2026-01-01_00-00-00_000000_1"
        other.mkdir(parents=True)
        (other / "logs").write_text("another instance's")
        write_clip(face_clip, tmp_path / "clip.mp4", frames=20)
        out = tmp_path / "o.mkv"
        argv = ["convert", tmp_path / "clip.mp4", "-m", work / "invert.onnx", "-o", out, "--workers", "1"]
        code, err = run_cli([*argv, *SEGMENTS], capsys)
        assert code == 0, err
        assert len(decode(out)) == 20
        assert sorted(p.name for p in other.parent.iterdir()) == [other.name], "the run's session folder stayed"
        assert (other / "logs").read_text() == "another instance's"


@pytest.fixture(scope="module")
def ray_instance(work):
    """A local Ray instance with 2 CPUs for this module; its workers kill themselves once on the
    part named by SWAPSTREAM_TEST_KILL_PART (set before the workers start, so they inherit it)."""
    ray = pytest.importorskip("ray")
    from swapstream.convert_parts.on_ray import start_ray, stop_ray
    from swapstream.convert_parts.work import KILL_MARKER_ENV, KILL_PART_ENV

    saved = {k: os.environ.get(k) for k in (KILL_PART_ENV, KILL_MARKER_ENV)}
    os.environ[KILL_PART_ENV] = str(work / "on_ray.parts" / "part_00002.mkv")
    os.environ[KILL_MARKER_ENV] = str(work / "killed-once")
    started = start_ray(workers=2, cluster=None)
    assert started is not None
    try:
        yield ray
    finally:
        stop_ray(started)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_two_ray_workers_give_exactly_the_frames_of_a_plain_convert(work, reference, ray_instance, capsys):
    """The issue's test: `--workers 2 --lossless` == a single-process `--lossless` convert, pixel for pixel."""
    out = work / "workers2.mkv"
    argv = ["convert", work / "clip.mp4", "-m", work / "invert.onnx", "-o", out, "--workers", "2", *SEGMENTS]
    code, err = run_cli(argv, capsys)
    assert code == 0, err
    ours, plain = decode(out), decode(reference)
    assert len(ours) == len(plain) == FRAMES
    assert all(np.array_equal(a, b) for a, b in zip(ours, plain, strict=True))
    assert pts_of(out) == pts_of(reference)
    assert abs(audio_seconds(out) - audio_seconds(reference)) < 1e-6
    with av.open(str(out)) as c:
        assert "synthetic" in c.metadata.get("COMMENT", c.metadata.get("comment", "")).lower()


def test_ray_workers_give_the_frames_of_one_process_and_retry_a_killed_worker(work, reference, ray_instance, capsys):
    out = work / "on_ray.mkv"
    t0 = time.monotonic()
    code, err = run_cli(
        ["convert", work / "clip.mp4", "-m", work / "invert.onnx", "-o", out, "--workers", "2", *SEGMENTS], capsys
    )
    assert code == 0, err
    assert (work / "killed-once").read_text().startswith("killed pid"), "the fault was not injected"
    assert video_packets(out) == video_packets(reference), "a Ray run must equal the single-process run"
    assert abs(audio_seconds(out) - audio_seconds(reference)) < 1e-6
    assert ray_instance.is_initialized(), "a Ray instance the caller started stays up"
    print(f"ray convert: {time.monotonic() - t0:.1f} s")


def test_a_folder_of_videos_fans_out_over_the_workers(work, ray_instance, face_clip, tmp_path, capsys):
    folder = tmp_path / "inputs"
    folder.mkdir()
    write_clip(face_clip, folder / "a.mp4", frames=20)
    write_clip(face_clip, folder / "b.mp4", frames=20, first=30)
    out = tmp_path / "swapped"
    code, err = run_cli(["convert", folder, "-m", work / "invert.onnx", "-o", out, "--workers", "2", *SEGMENTS], capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["a.mkv", "b.mkv"]
    assert [len(decode(out / n)) for n in ("a.mkv", "b.mkv")] == [20, 20]
    code, err = run_cli(
        ["convert", folder, "-m", work / "invert.onnx", "-o", out, "--workers", "2", "--resume", *SEGMENTS], capsys
    )
    assert code == 0 and "already converted" in err, err
