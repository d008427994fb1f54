"""Blur rejection relative to the source (issue #11, item 8): ordinary footage, soft or sharp, keeps
its faces with the default settings; a filter that throws most of a source away says so, loudly,
naming the option."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import MEDIA, media
from swapstream.trainer.extract import ExtractConfig, extract
from swapstream.trainer.media_inputs import video_frame_count

from swapstream.cli import main

CLIPS = sorted(p.name for p in MEDIA.glob("*.mp4")) or ["d18.mp4"]  # absent folder: media() skips
FRAMES_PER_CLIP = 24  # a subset (--every) keeps the test fast


def kept_share(path: Path, tmp_path: Path, frames: int = FRAMES_PER_CLIP) -> tuple[float, dict]:
    every = max(1, video_frame_count(path) // frames)
    fs, summary = extract([path], tmp_path / "fs", ExtractConfig(every=every), progress=False)
    found = sum(p.faces_found for p in fs.sources.values())
    assert found >= 0.8 * frames, f"{path.name}: faces found in only {found} sampled frames"
    return len(fs) / found, dict(summary.rejected)


@pytest.mark.parametrize("clip", CLIPS)
def test_every_shared_clip_keeps_its_faces(clip, tmp_path):
    share, rejected = kept_share(media(clip), tmp_path)
    assert share >= 0.9, f"{clip}: kept {share:.0%}; rejected {rejected}"


def soft_low_bitrate_copy(src: Path, dst: Path, face_px: float = 120, face_in_src: float = 290) -> Path:
    """`src` downscaled so its face is ~face_px tall, re-encoded at 60 kbit/s (phone-call quality)."""
    with av.open(str(src)) as c, av.open(str(dst), "w") as out:
        v = c.streams.video[0]
        k = face_px / face_in_src
        w, h = 2 * round(v.width * k / 2), 2 * round(v.height * k / 2)
        s = out.add_stream("libx264", rate=v.average_rate)
        s.width, s.height, s.pix_fmt, s.bit_rate = w, h, "yuv420p", 60_000
        for frame in c.decode(v):
            small = cv2.resize(frame.to_ndarray(format="bgr24"), (w, h), interpolation=cv2.INTER_AREA)
            out.mux(s.encode(av.VideoFrame.from_ndarray(small, format="bgr24")))
        out.mux(s.encode())
    return dst


@pytest.fixture(scope="module")
def soft_clip(tmp_path_factory, face_clip) -> Path:
    """The astronaut's clip (a face ~200 px tall) as a phone call would carry it."""
    soft = tmp_path_factory.mktemp("soft") / "astronaut_soft.mp4"
    return soft_low_bitrate_copy(face_clip, soft, face_in_src=200)


def test_soft_low_bitrate_copy_keeps_its_faces(soft_clip, tmp_path):
    share, rejected = kept_share(soft_clip, tmp_path, frames=72)  # small frames: a bigger sample is cheap
    assert share >= 0.9, f"kept {share:.0%}; rejected {rejected}"


def test_an_absolute_floor_that_rejects_most_is_loud(soft_clip, tmp_path, capsys):
    """Every face rejected: no faceset is left, and the one error line names the option (issue 26)."""
    out = tmp_path / "fs"
    assert main(["extract", str(soft_clip), "-o", str(out), "--every", "12", "--min-sharpness", "1e9"]) == 2
    err = capsys.readouterr().err
    assert "no face kept" in err and "rejected as blurred" in err and "--min-sharpness" in err
    assert not out.exists()


def test_a_much_blurrier_frame_than_the_source_is_dropped(face_clip, tmp_path):
    """A clip whose every 4th frame is strongly blurred: those go, the rest stay."""
    src = face_clip
    path = tmp_path / "mixed.mp4"
    with av.open(str(src)) as c, av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 480, 480, "yuv420p"
        s.options = {"crf": "16"}
        for i, frame in enumerate(c.decode(video=0)):
            if i == 48:
                break
            img = frame.to_ndarray(format="bgr24")
            if i % 4 == 3:
                img = cv2.GaussianBlur(img, (0, 0), 3)
            out.mux(s.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
        out.mux(s.encode())
    fs, summary = extract([path], tmp_path / "fs", ExtractConfig(), progress=False)
    kept = {f.frame for f in fs.faces}
    assert not kept & set(range(3, 48, 4)), "blurred frames were kept"
    assert len(kept) >= 0.9 * 36 and summary.rejected["blurred"] >= 10
    assert all((tmp_path / "fs" / f.file).exists() for f in fs.faces)
    assert len(list((tmp_path / "fs" / "faces").glob("*.jpg"))) == len(fs), "files of dropped faces removed"


def test_a_single_photo_is_never_judged_blurred(astronaut_bgr, tmp_path):
    photo = tmp_path / "soft.png"
    cv2.imwrite(str(photo), cv2.GaussianBlur(astronaut_bgr, (0, 0), 2))
    fs, summary = extract([photo], tmp_path / "fs", ExtractConfig(), progress=False)
    assert len(fs) == 1 and not summary.rejected["blurred"]


def test_sharpness_is_measured_at_the_face_resolution(astronaut_bgr):
    """A face half the size reads about as sharp (never as blurred because it was upscaled)."""
    from swapstream.engine.face.tracking import PhotoFaceFinder
    from swapstream.trainer.face_checks import sharpness

    finder = PhotoFaceFinder(max_faces=1)
    try:
        values = []
        for k in (1.0, 0.5):
            img = cv2.resize(astronaut_bgr, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
            values.append(sharpness(img, finder.find(img)[0].landmarks, "whole", 256))
    finally:
        finder.close()
    assert values[1] > 0.5 * values[0], values
    assert np.isfinite(values).all()
