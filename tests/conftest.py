"""Shared fixtures: real faces only (public-domain photos shipped in dependencies, clips rendered
from them, and the clips of ../shared/media for what a photo cannot show).

SWAPSTREAM_TEST_MEDIA=FOLDER reads the shared clips from FOLDER instead of ../shared/media; pointing
it at a folder that does not exist (SWAPSTREAM_TEST_MEDIA=/nonexistent) runs the suite as a fresh
clone does, so that `pytest -rs` lists what would skip there and why.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import photo_fixtures
import pytest
import pyvirtualcam

from swapstream.demo import media as demo_media

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
MEDIA = Path(os.environ.get("SWAPSTREAM_TEST_MEDIA") or REPO.parent / "shared" / "media")


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
    return demo_media.astronaut_bgr()


@pytest.fixture(scope="session")
def grace_hopper_bgr() -> np.ndarray:
    """matplotlib's grace_hopper.jpg (US Navy portrait, public domain), BGR uint8 (600, 512, 3)."""
    return demo_media.grace_hopper_bgr()


@pytest.fixture(scope="session")
def face_clips(tmp_path_factory) -> dict[str, Path]:
    """person -> clip (tests/photo_fixtures.py): 90 frames (3 s) of the astronaut or Grace Hopper
    moving, 480x480 at 30 fps, H.264 + AAC, in one folder (a studio source can switch between
    them). The stand-ins for the close-ups of ../shared/media, rendered once per session."""
    folder = tmp_path_factory.mktemp("face_clips")
    clips = {p: folder / f"{p}.mp4" for p in photo_fixtures.PEOPLE}
    return {p: photo_fixtures.write_face_clip(path, photo_fixtures.face_frames(p, 90)) for p, path in clips.items()}


@pytest.fixture(scope="session")
def face_clip(face_clips) -> Path:
    """The astronaut's clip of face_clips: a face in every frame."""
    return face_clips["astronaut"]


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
