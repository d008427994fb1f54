"""Moving faces for the tests, rendered from public-domain portraits that ship inside dependencies,
so that a fresh clone (no ../shared/media) runs every test that needs only a real face that moves.

Two people, two different women: "astronaut" (skimage.data.astronaut(), NASA portrait of Eileen
Collins) and "hopper" (matplotlib's grace_hopper.jpg, US Navy portrait of Grace Hopper). A clip is
the portrait's head and shoulders moved the way a head moves in front of a webcam, as the demo
renders its driving clip (swapstream.demo.media.motion_frames: slow rotation, zoom, drift and
changes of light), at 30 fps; files carry a quiet 440 Hz tone as their audio track.

A photo never blinks, never opens its mouth and is alone in the frame: tests of expressions over
time, small faces in wide shots, several people in one shot and real occluders stay on the clips
of ../shared/media (conftest.media).
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from swapstream.demo.media import astronaut_bgr, grace_hopper_bgr, motion_frames

PEOPLE = ("astronaut", "hopper")
FPS = 30
SIDE = 480  # the close-ups of ../shared/media are 480-512 px square
AUDIO_RATE = 44100
AUDIO_CHUNK = 1024  # samples per AAC frame
RENDER = 128  # frames are rendered in runs of a multiple of this, so that most callers share one


def _portrait(person: str) -> np.ndarray:
    """BGR uint8 head and shoulders, square, cut so that both people sit alike: the face (its
    landmarks) 0.42 of the height, centred across and a little above the middle."""
    if person == "astronaut":
        return astronaut_bgr()[0:262, 94:356]
    if person == "hopper":
        return grace_hopper_bgr()[0:488, 18:506]
    raise ValueError(f"unknown person {person!r} (one of {PEOPLE})")


@functools.cache
def _rendered(person: str, count: int, side: int) -> tuple[np.ndarray, ...]:
    """count read-only BGR uint8 (side, side, 3) frames; frame i is the same for every count."""
    seed = PEOPLE.index(person) + 1
    frames = tuple(motion_frames(_portrait(person), count, fps=FPS, size=side, seed=seed))
    for frame in frames:
        frame.setflags(write=False)
    return frames


def face_frames(person: str, count: int, side: int = SIDE, first: int = 0) -> list[np.ndarray]:
    """Frames first .. first+count-1 of PERSON's clip: writable BGR uint8 (side, side, 3) copies,
    rendered once per test session."""
    rendered = _rendered(person, RENDER * math.ceil((first + count) / RENDER), side)
    return [frame.copy() for frame in rendered[first : first + count]]


def write_face_clip(path: Path, frames: list[np.ndarray], options: dict[str, str] | None = None) -> Path:
    """BGR frames as H.264 (yuv420p, 30 fps, libx264 OPTIONS, default crf 16) in an MP4 with a
    440 Hz AAC tone of the same duration; returns path."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "yuv420p"
        video.options = options or {"crf": "16"}
        audio = out.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        samples = len(frames) * AUDIO_RATE // FPS
        tone = (0.1 * np.sin(2 * math.pi * 440 * np.arange(samples) / AUDIO_RATE)).astype(np.float32)
        for start in range(0, samples, AUDIO_CHUNK):
            chunk = av.AudioFrame.from_ndarray(tone[None, start : start + AUDIO_CHUNK], format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = AUDIO_RATE, start
            out.mux(audio.encode(chunk))
        out.mux(audio.encode(None))
    return path


def aligned_faces(person: str, count: int, size: int, first: int = 0) -> tuple[list, list, list]:
    """PERSON's frames first .. first+count-1 aligned 'whole' at size px: (crops uint8 (size, size, 3)
    BGR, crop landmarks float32 (478, 2), poses (yaw, pitch) degrees)."""
    from swapstream.engine.face.align import alignment_matrix, transform_points, warp_face
    from swapstream.engine.face.pose import yaw_pitch_roll
    from swapstream.engine.face.tracking import PhotoFaceFinder

    finder = PhotoFaceFinder(max_faces=1)
    crops, points, poses = [], [], []
    try:
        for frame in face_frames(person, count, first=first):
            lm = finder.find(frame)[0].landmarks
            m = alignment_matrix(lm, "whole", size)
            crops.append(warp_face(frame, m, size))
            points.append(transform_points(lm, m)[:, :2].astype(np.float32))
            poses.append(tuple(yaw_pitch_roll(lm)[:2]))
    finally:
        finder.close()
    return crops, points, poses
