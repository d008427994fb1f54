"""`swapstream live`: a file played in real time into a virtual camera (through a test backend
registered with pyvirtualcam), a recording, and the one-line error when no device exists."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import pyvirtualcam
from conftest import BACKEND
from model_fixtures import write_invert_model
from pyvirtualcam.util import encode_fourcc

from swapstream.cli import main


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return write_invert_model(tmp_path_factory.mktemp("model") / "invert.onnx", 96)


def test_live_file_to_virtual_camera_and_recording(camera_backend, model, face_clip, tmp_path, capsys):
    clip = face_clip
    record = tmp_path / "rec.mp4"
    argv = ["live", "-m", str(model), "--source", str(clip), "--max-frames", "45", "--providers", "cpu"]
    code = main([*argv, "--vcam", "--vcam-backend", BACKEND, "--record", str(record)])
    err = capsys.readouterr().err
    assert code == 0, err
    (cam,) = camera_backend
    assert (cam.width, cam.height, cam.fps) == (480, 480, 30.0)
    assert cam.fourcc == encode_fourcc(pyvirtualcam.PixelFormat.BGR.value) and cam.closed
    frames = cam.frames
    assert frames and all(f.shape == (480 * 480 * 3,) and f.dtype == np.uint8 for f in frames)
    summary = [line for line in err.splitlines() if line.startswith("live:") and "frames in" in line][-1]
    n_out = int(summary.split()[1])
    dropped = int(summary.split("dropped")[0].split(",")[-1])
    assert len(frames) == n_out and n_out + dropped == 45, summary
    assert "fps | latency p50" in err, "no status line"
    with av.open(str(clip)) as c:
        first = next(c.decode(video=0)).to_ndarray(format="bgr24")
    assert np.abs(frames[0].reshape(480, 480, 3).astype(int) - first).max() > 100, "the face was not swapped"
    with av.open(str(record)) as c:
        assert sum(1 for _ in c.decode(video=0)) == n_out
        assert "synthetic" in c.metadata.get("comment", "").lower()


def test_no_virtual_camera_device_says_how_to_get_one(model, face_clip, capsys):
    clip = face_clip
    code = main(["live", "-m", str(model), "--source", str(clip), "--vcam"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "v4l2loopback" in err[0] and "OBS" in err[0], err


def test_camera_that_cannot_be_opened(model, capsys):
    code = main(["live", "-m", str(model), "--source", "/dev/video-nonexistent-42"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "cannot be opened" in err[0], err
