"""Shared fixtures: real faces only (public-domain photos shipped in dependencies, test clips)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest
import pyvirtualcam

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "media"


@pytest.fixture(scope="session", autouse=True)
def private_config_folder() -> Path:
    """XDG_CONFIG_HOME of every test (and the commands they start): the per-user signing key that
    content credentials make at first use goes there, never into the real ~/.config. A folder of
    its own, not under pytest's basetemp, which a concurrent pytest run may rotate away (matplotlib
    keeps its config there too)."""
    folder = Path(tempfile.mkdtemp(prefix="swapstream-test-config-"))
    saved = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(folder)
    yield folder
    if saved is None:
        os.environ.pop("XDG_CONFIG_HOME", None)
    else:
        os.environ["XDG_CONFIG_HOME"] = saved
    shutil.rmtree(folder, ignore_errors=True)


def media(name: str) -> Path:
    """Path of a test clip in ../shared/media, or skip the test with the reason."""
    path = MEDIA / name
    if not path.exists():
        pytest.skip(f"test media {path} is absent (it ships only with the project's shared folder)")
    return path


@pytest.fixture(scope="session")
def astronaut_bgr() -> np.ndarray:
    """skimage's astronaut (NASA portrait of Eileen Collins, public domain), BGR uint8 (512, 512, 3)."""
    import skimage.data

    return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="session")
def grace_hopper_bgr() -> np.ndarray:
    """matplotlib's grace_hopper.jpg (US Navy portrait, public domain), BGR uint8 (600, 512, 3)."""
    from matplotlib import cbook

    return cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))


def optional_media_frames(*picks: tuple[str, int]) -> list[np.ndarray]:
    """BGR frames (clip name, frame index) from ../shared/media, for tests where they are extras:
    clips or frames that are absent are left out instead of skipping the test."""
    frames = []
    for name, index in picks:
        cap = cv2.VideoCapture(str(MEDIA / name))
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = cap.read()
        cap.release()
        if ok:
            frames.append(frame)
    return frames


# A pyvirtualcam backend registered for the tests of live and studio (no v4l2loopback here).
BACKEND = "swapstream-test"


class RecordingCamera:
    """A pyvirtualcam backend that keeps what it is sent (frames arrive flattened to 1-D)."""

    instances: ClassVar[list[RecordingCamera]] = []

    def __init__(self, width, height, fps, fourcc, device, **kw):
        self.width, self.height, self.fps, self.fourcc = width, height, fps, fourcc
        self._device = device or "/dev/video-test"
        self.frames: list[np.ndarray] = []
        self.closed = False
        RecordingCamera.instances.append(self)

    def send(self, frame):
        self.frames.append(frame.copy())

    def close(self):
        self.closed = True

    def device(self):
        return self._device

    def native_fourcc(self):
        return self.fourcc


@pytest.fixture
def camera_backend():
    RecordingCamera.instances.clear()
    pyvirtualcam.register_backend(BACKEND, RecordingCamera)
    yield RecordingCamera.instances
    # Registration is process-wide: without this, later tests would find a "camera".
    del pyvirtualcam.camera.BACKENDS[BACKEND]
