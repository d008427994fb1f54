"""`swapstream extract` on real video and photos, resume, and every bad input.

The video is the astronaut's clip (tests/photo_fixtures.py, 90 frames); what a photo cannot show (a
person who blinks and talks) is counted on d18.mp4 of ../shared/media."""

from __future__ import annotations

import json
import shutil

import av
import cv2
import numpy as np
import pytest
from conftest import media
from swapstream.engine.face.align import face_type, invert, template_points, transform_points
from swapstream.trainer.extract import ExtractConfig, extract
from swapstream.trainer.faceset_info import describe, expression_coverage

from swapstream.cli import main
from swapstream.common.faceset import Faceset


def eye_jitter(fs: Faceset) -> float:
    """Mean second difference (px) of where the crop's template eye corners sit in the frame."""
    tp = template_points(face_type(fs.face_type), fs.size)[:4]
    pts = np.array([transform_points(tp, invert(f.matrix)) for f in fs.faces])
    return float(np.linalg.norm(np.diff(pts, 2, axis=0), axis=2).mean())


CLIP_FRAMES = 90  # conftest.face_clips


@pytest.fixture(scope="module")
def clip_faceset(tmp_path_factory, face_clip):
    out = tmp_path_factory.mktemp("fs") / "astronaut"
    assert main(["extract", str(face_clip), "-o", str(out)]) == 0
    return out


def test_extract_video_keeps_frames_writes_valid_faceset(clip_faceset):
    fs = Faceset.open(clip_faceset)
    assert len(fs) >= 0.95 * CLIP_FRAMES
    assert fs.face_type == "whole" and fs.size == 256
    frames = [f.frame for f in fs.faces]
    assert frames == sorted(frames) and len(set(frames)) == len(frames)
    for i in (0, len(fs) // 2, len(fs) - 1):
        rec = fs.faces[i]
        img, mask = fs.image(i), fs.mask(i)
        assert img.shape == (256, 256, 3) and mask.shape == (256, 256)
        assert 0.2 < (mask > 127).mean() < 0.8
        # landmarks are inside the crop and the mask covers the nose tip
        assert (rec.landmarks >= 0).all() and (rec.landmarks < 256).all()
        x, y = rec.landmarks[4].round().astype(int)
        assert mask[y, x] == 255
    assert (clip_faceset / "contact_sheet.png").exists()
    info = describe(clip_faceset)
    assert info["count"] == len(fs) and sum(b["count"] for b in info["yaw_histogram"]) == len(fs)
    # A photo that moves never blinks nor opens its mouth: the faceset says what it lacks.
    e = info["expressions"]
    assert sum(e["eyes"].values()) == sum(e["mouth"].values()) == len(fs)
    assert e["eyes"]["closed"] == 0 and e["mouth"]["wide open"] == 0
    assert any("blink" in w for w in e["warnings"]) and any("mouth" in w for w in e["warnings"])


def test_expressions_of_a_person_who_blinks_and_talks(tmp_path):
    """d18 blinks (eval sees it around frames 94-98 and 185-187) and opens the mouth wide to speak."""
    out = tmp_path / "d18"
    assert main(["extract", str(media("d18.mp4")), "-o", str(out)]) == 0
    e = describe(out)["expressions"]
    assert e["eyes"]["closed"] >= 1 and e["mouth"]["wide open"] >= 10 and not e["warnings"]


def test_expression_coverage_warns_about_what_a_target_never_does():
    rng = np.random.default_rng(0)
    open_eyes, talking = rng.uniform(0.08, 0.1, 200), rng.uniform(0.0, 0.5, 200)
    blinks = np.concatenate([open_eyes, [0.02, 0.025]])
    seen = expression_coverage(blinks, np.concatenate([talking, [0.0, 0.0]]))
    assert seen["eyes"]["closed"] == 2 and not seen["warnings"]
    # Relative to the person's open eye: narrow eyes that never close are not "closed".
    narrow = expression_coverage(open_eyes * 0.5, talking)
    assert narrow["eyes"]["closed"] == 0 and narrow["eyes"]["open"] == 200
    assert any("blink" in w for w in narrow["warnings"])
    still = expression_coverage(open_eyes, rng.uniform(0.0, 0.1, 200))
    assert still["mouth"]["open"] == still["mouth"]["wide open"] == 0
    assert any("mouth" in w for w in still["warnings"])


def test_second_run_adds_nothing(clip_faceset, face_clip, capsys):
    before = (clip_faceset / "faceset.json").read_text()
    assert main(["extract", str(face_clip), "-o", str(clip_faceset)]) == 0
    assert "already done" in capsys.readouterr().out
    assert json.loads((clip_faceset / "faceset.json").read_text())["faces"] == json.loads(before)["faces"]


def test_smoothing_lowers_jitter(clip_faceset, face_clip, tmp_path):
    raw, _ = extract([face_clip], tmp_path / "raw", ExtractConfig(smooth=False), progress=False)
    assert eye_jitter(Faceset.open(clip_faceset)) < 0.5 * eye_jitter(raw)


def test_interrupted_run_resumes_to_the_same_faceset(clip_faceset, face_clip, tmp_path):
    out = tmp_path / "resumed"
    stop = ExtractConfig().segment + 10  # the first segment is saved, the second is cut short
    assert stop < CLIP_FRAMES

    def stop_at(n):
        if n == stop:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        extract([face_clip], out, ExtractConfig(), progress=False, on_frame=stop_at)
    partial = Faceset.open(out)
    assert 0 < len(partial) < stop
    extract([face_clip], out, ExtractConfig(), progress=False)
    clean, resumed = Faceset.open(clip_faceset), Faceset.open(out)
    assert [f.file for f in clean.faces] == [f.file for f in resumed.faces]
    for a, b in zip(clean.faces[::20], resumed.faces[::20]):
        np.testing.assert_array_equal(a.landmarks, b.landmarks)
        assert (clip_faceset / a.file).read_bytes() == (out / b.file).read_bytes()


def test_photos_and_folder(astronaut_bgr, grace_hopper_bgr, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "astronaut.png"), astronaut_bgr)
    cv2.imwrite(str(photos / "grace.jpg"), grace_hopper_bgr)
    blurred = cv2.GaussianBlur(astronaut_bgr, (0, 0), 3)
    cv2.imwrite(str(photos / "blurred.png"), blurred)
    fs, summary = extract([photos], tmp_path / "fs", ExtractConfig(), progress=False)
    assert len(fs) == 2
    assert summary.rejected["blurred"] == 1
    assert {f.source.split("-")[0] for f in fs.faces} == {"astronaut", "grace"}
    # Two portraits, eyes open and lips closed: the CLI says what a model of them cannot learn.
    assert main(["extract", str(photos), "-o", str(tmp_path / "fs_cli")]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "note:" in line]
    assert len(notes) == 2 and "no closed eyes" in notes[0] and "no open mouth" in notes[1]


def _bad(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    # progress-bar redraws may precede it; the error itself is exactly one line, the last
    errors = [line for line in err.replace("\r", "\n").splitlines() if "error:" in line]
    assert len(errors) == 1 and err.endswith(errors[0])
    return errors[0]


def test_bad_inputs(face_clip, tmp_path, capsys):
    out = str(tmp_path / "fs")
    assert "no such file" in _bad(["extract", str(tmp_path / "missing.mp4"), "-o", out], capsys)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert "empty.mp4: empty file" in _bad(["extract", str(empty), "-o", out], capsys)
    text = tmp_path / "text.jpg"
    text.write_text("this is not an image")
    assert "text.jpg: not an image" in _bad(["extract", str(text), "-o", out], capsys)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(face_clip.read_bytes()[:60000])
    assert "truncated.mp4: cannot open as a video" in _bad(["extract", str(truncated), "-o", out], capsys)
    audio_only = tmp_path / "audio.m4a"
    with av.open(str(face_clip)) as src, av.open(str(audio_only), "w") as dst:
        a_in = src.streams.audio[0]
        a_out = dst.add_stream_from_template(a_in)
        for packet in src.demux(a_in):
            if packet.dts is not None:
                packet.stream = a_out
                dst.mux(packet)
    assert "audio.m4a: no video stream" in _bad(["extract", str(audio_only), "-o", out], capsys)
    noface = tmp_path / "sky.png"
    cv2.imwrite(str(noface), np.tile(np.linspace(0, 255, 320, dtype=np.uint8), (240, 1)))
    assert "sky.png: no face found" in _bad(["extract", str(noface), "-o", out], capsys)
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert "cannot write here" in _bad(["extract", str(noface), "-o", str(blocker / "fs")], capsys)


def test_appending_with_another_contract_is_refused(clip_faceset, tmp_path, capsys, astronaut_bgr):
    copy = tmp_path / "copy"
    shutil.copytree(clip_faceset, copy)
    photo = tmp_path / "a.png"
    cv2.imwrite(str(photo), astronaut_bgr)
    err = _bad(["extract", str(photo), "-o", str(copy), "--size", "128"], capsys)
    assert "cannot append whole at 128 px" in err
    assert Faceset.open(copy).faces[0].file == Faceset.open(clip_faceset).faces[0].file
