"""Shared fixtures: real faces only (public-domain photos shipped in dependencies, test clips)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "media"


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
