"""Detection costs only what it must (issue 29): live, with --faces largest, a tracked face is
followed by one landmark pass per frame and no detection scan runs while it holds; with --faces
all, free slots are looked for every redetect_every frames."""

from __future__ import annotations

import numpy as np
from photo_fixtures import face_frames
from swapstream.engine.stages.faces import DetectConfig, DetectStage

from swapstream.common.pipeline_contract import FramePacket

FRAMES = 45


def _run(faces: str) -> tuple[int, int, list[int]]:
    """(detection scans, landmark passes, faces per frame) over the astronaut's moving clip, each
    480 px frame in the middle of a 1280x720 one (the live tiles exist at this size)."""
    stage = DetectStage(DetectConfig(faces=faces, smooth=False), offline=False)
    stage.setup()
    landmarker = stage._finder._landmarker
    passes, run = [0], landmarker.run

    def counted(*args, **kw):
        passes[0] += 1
        return run(*args, **kw)

    landmarker.run = counted
    found = []
    try:
        for i, face in enumerate(face_frames("astronaut", FRAMES)):
            frame = np.full((720, 1280, 3), 80, np.uint8)
            frame[120:600, 400:880] = face
            found.append(len(stage.process(FramePacket(i, i / 30, frame)).faces))
        return stage._finder.scans, passes[0], found
    finally:
        stage.close()


def test_largest_scans_once_then_follows_the_face_with_one_landmark_pass_per_frame():
    scans, passes, found = _run("largest")
    assert found == [1] * FRAMES
    assert scans == 1, "no detection scan while the one face is tracked"
    assert passes <= FRAMES + 2, "one landmark pass per frame (two more when the face is first found)"
    all_scans, _, all_found = _run("all")
    assert all_found == [1] * FRAMES
    assert all_scans >= FRAMES // 15, "'all' keeps looking for more faces while slots are free"
