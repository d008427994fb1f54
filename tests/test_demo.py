"""`swapstream demo --quick`: the README's main command, end to end on public-domain faces."""

from __future__ import annotations

import json

import av
import cv2
import numpy as np
import pytest
from swapstream.engine.face.mask import FACE_OVAL
from swapstream.engine.face.tracking import PhotoFaceFinder

from swapstream.cli import main
from swapstream.credentials.verify import verify_file

EXPECTED = (
    "driving.mp4",
    "swapped.mp4",
    "side_by_side.mp4",
    "train_preview.png",
    "train_loss.png",
    "bench.json",
    "bench.png",
    "eval.json",
    "eval.png",
    "index.html",
)


def frames(path):
    with av.open(str(path)) as c:
        return [np.ascontiguousarray(f.to_ndarray(format="bgr24")) for f in c.decode(video=0)]


@pytest.mark.slow
def test_demo_quick_writes_everything_and_swaps_only_the_face(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "-o", str(out)]) == 0
    for name in EXPECTED:
        assert (out / name).stat().st_size > 0, name
    index = (out / "index.html").read_text()
    assert all(name in index for name in ("swapped.mp4", "side_by_side.mp4", "train_preview.png", "bench.png"))
    assert json.loads((out / "bench.json").read_text())
    evaluation = json.loads((out / "eval.json").read_text())  # the swap's own eval figures, on the page
    recognised = evaluation["identity"]["share_recognised_as_target"]
    assert f"{recognised:.0%} of {evaluation['identity']['frames_judged']} frames" in index
    assert "own sharpness" in index and "nearer the target" in index
    with av.open(str(out / "swapped.mp4")) as c:
        assert "synthetically swapped" in c.metadata.get("comment", "")
    for name in ("swapped.mp4", "side_by_side.mp4"):  # signed content credentials (issue 31)
        verdict = verify_file(out / name)
        assert verdict.status == "verified" and verdict.by_swapstream and verdict.synthetic, verdict

    driving, swapped = frames(out / "driving.mp4"), frames(out / "swapped.mp4")
    assert len(swapped) == len(driving) == 90
    finder = PhotoFaceFinder()
    inside_diffs, outside_changed = [], []
    for i in (10, 45, 80):
        face = finder.find(driving[i])[0]
        hull = cv2.convexHull(face.points[list(FACE_OVAL)].round().astype(np.int32))
        mask = np.zeros(driving[i].shape[:2], np.uint8)
        cv2.fillConvexPoly(mask, hull, 255)
        far = cv2.dilate(mask, np.ones((41, 41), np.uint8)) == 0  # well outside the blend mask
        diff = np.abs(driving[i].astype(np.int16) - swapped[i].astype(np.int16)).max(axis=2)
        inside_diffs.append(diff[mask == 255].mean())
        outside_changed.append((diff[far] > 20).mean())
    finder.close()
    assert min(inside_diffs) > 6.0, inside_diffs  # the face was replaced
    # the background was only decoded and re-encoded (H.264 noise stays well under 20 levels)
    assert max(outside_changed) < 0.005, outside_changed
