"""`swapstream convert` end to end on a real clip with the colour-inverting contract model.

The clip: the first 40 frames of the astronaut's clip (tests/photo_fixtures.py) with frame 15
replaced by a black frame (no face), and its audio cut to the same length. Converted losslessly
(FFV1), the output must have every frame, in order, bit-exact outside the blend mask, changed
inside the face, the black frame untouched, the audio present with the input's duration, and
the synthetic-media label.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from model_fixtures import write_invert_model
from swapstream.engine.face.align import invert, warp_face
from video_fixtures import audio_seconds, cut_with_audio, decode

from swapstream.cli import main

N_FRAMES = 40
BLACK_AT = 15
RES = 96


@pytest.fixture(scope="module")
def clip(tmp_path_factory, face_clip) -> Path:
    """40 frames of the astronaut's clip (frame 15 black) + its audio for the same 1.33 s, H.264 in MP4."""
    src = face_clip
    out = tmp_path_factory.mktemp("clip") / "clip.mp4"

    def black_frame(i: int, img: np.ndarray) -> np.ndarray:
        return np.zeros_like(img) if i == BLACK_AT else img

    return cut_with_audio(src, out, N_FRAMES, options={"crf": "12"}, edit=black_frame)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return write_invert_model(tmp_path_factory.mktemp("model") / "invert.onnx", RES)


@pytest.fixture(scope="module")
def converted(clip, model, tmp_path_factory):
    """Run the pipeline once through the library (to see each face's matrix and blend mask)."""
    from swapstream.engine.engine_config import load_engine_config
    from swapstream.engine.pipeline.build import swap_stages
    from swapstream.engine.pipeline.runner import Pipeline, PipelinePolicy
    from swapstream.engine.runtime.providers import RuntimeConfig
    from swapstream.engine.runtime.swap_model import load_swap_model
    from swapstream.engine.stages.capture import VideoFileSource
    from swapstream.engine.stages.sink_file import VideoFileSink
    from swapstream.engine.stages.sink_live import TeeSink

    class FaceRecorder(VideoFileSink.__mro__[1]):  # a plain Sink
        def __init__(self):
            self.faces = []

        def write(self, packet):
            self.faces.append([(s.matrix.copy(), s.mask.copy(), s.hull.copy()) for s in packet.faces])

    out = tmp_path_factory.mktemp("out") / "swapped.mkv"
    # No colour transfer nor detail here: inside the face every pixel is then exactly 255 - input.
    cfg = load_engine_config().replace(output={"codec": "ffv1"}, swap={"color": "none", "detail": 0.0})
    swap_model = load_swap_model(model, RuntimeConfig(providers=("cpu",)))
    recorder = FaceRecorder()
    pipe = Pipeline(
        VideoFileSource(clip),
        swap_stages(swap_model, cfg, offline=True),
        TeeSink([VideoFileSink(out, cfg.output, audio_from=clip), recorder]),
        PipelinePolicy(live=False, queue_depth=4),
    )
    stats = pipe.run()
    return out, recorder.faces, stats


def test_every_frame_in_order_and_untouched_outside_the_mask(clip, converted):
    out, faces, stats = converted
    src, dst = decode(clip), decode(out)
    assert len(dst) == len(src) == N_FRAMES
    assert stats.frames == N_FRAMES and stats.frames_without_face == 1
    for i, (a, b, fs) in enumerate(zip(src, dst, faces, strict=True)):
        h, w = a.shape[:2]
        support = np.zeros((h, w), np.uint8)
        inside = np.zeros((h, w), bool)
        expected = a.astype(np.float32)
        for m, mask, hull in fs:
            inv = invert(m)
            alpha = cv2.warpAffine(mask, inv, (w, h), flags=cv2.INTER_LINEAR)[..., None]
            support |= (alpha[..., 0] > 0).astype(np.uint8)
            inside |= cv2.warpAffine(hull, inv, (w, h), flags=cv2.INTER_NEAREST) > 0
            # The engine pastes the crop bicubically (engine/image/blend.py, bicubic_warp).
            swapped = cv2.warpAffine(255 - warp_face(a, m, RES), inv, (w, h), flags=cv2.INTER_CUBIC)
            expected = expected * (1 - alpha) + swapped.astype(np.float32) * alpha
        outside = cv2.dilate(support, np.ones((5, 5), np.uint8)) == 0
        assert np.array_equal(a[outside], b[outside]), f"frame {i}: pixels outside the blend mask changed"
        if fs:
            # Inside: the alpha blend of the inverted crop, placed with the inverse alignment.
            close = np.abs(expected - b).max(axis=2) <= 4
            assert close[inside].mean() > 0.98, f"frame {i}: the face was not swapped as expected"
            assert (np.abs(a.astype(int) - b).max(axis=2)[inside] > 16).mean() > 0.5, f"frame {i}: face unchanged"


def test_frame_without_a_face_is_bit_exact(clip, converted):
    out, faces, _ = converted
    assert faces[BLACK_AT] == []
    assert np.array_equal(decode(clip)[BLACK_AT], decode(out)[BLACK_AT])
    assert all(len(f) == 1 for i, f in enumerate(faces) if i != BLACK_AT)


def test_audio_copied_with_same_duration_and_label(clip, converted):
    out, _, _ = converted
    assert abs(audio_seconds(out) - audio_seconds(clip)) < 0.03
    with av.open(str(out)) as c:
        assert "synthetic" in c.metadata.get("COMMENT", c.metadata.get("comment", "")).lower()
        assert c.streams.video[0].codec_context.name == "ffv1"
    assert not list(out.parent.glob(".*partial*")), "temporary file left behind"


def test_cli_convert_mp4_summary(clip, model, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    code = main(["convert", str(clip), "-m", str(model), "-o", str(out), "--max-frames", "17", "--color", "lct"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "17 frames, 16 faces swapped, 1 frames without a face" in err
    assert len(decode(out)) == 17
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == "h264" and c.streams.audio
        assert "synthetic" in c.metadata.get("comment", "").lower()
    assert abs(audio_seconds(out) - 17 / 30) < 0.05


def one_line_error(capsys, argv, expected_code=2) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == expected_code, err
    assert len(err.splitlines()) == 1, err
    return err


def test_bad_inputs_fail_with_one_line(clip, model, tmp_path, capsys):
    out = str(tmp_path / "o.mp4")
    missing = str(tmp_path / "nope.mp4")
    assert "no such file" in one_line_error(capsys, ["convert", missing, "-m", str(model), "-o", out])
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    assert "junk.mp4" in one_line_error(capsys, ["convert", str(junk), "-m", str(model), "-o", out])
    bad_model = write_invert_model(tmp_path / "other.onnx", RES, template_id="someone-elses-template")
    err = one_line_error(capsys, ["convert", str(clip), "-m", str(bad_model), "-o", out])
    assert "other.onnx" in err and "template" in err
    err = one_line_error(capsys, ["convert", str(clip), "-m", str(model), "-o", str(tmp_path / "no" / "dir.mp4")])
    assert "does not exist" in err
    assert "overwrite the input" in one_line_error(capsys, ["convert", str(clip), "-m", str(model), "-o", str(clip)])
    assert "FFV1" in one_line_error(capsys, ["convert", str(clip), "-m", str(model), "-o", out, "--lossless"])
    assert "--color" in one_line_error(capsys, ["convert", str(clip), "-m", str(model), "-o", out, "--color", "x"])
    assert not (tmp_path / "o.mp4").exists() and not list(tmp_path.glob(".*partial*"))
