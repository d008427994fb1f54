"""`swapstream eval` on real faces: a video against itself, and a crude real face replacement.

Clips are the moving public-domain faces of tests/photo_fixtures.py (A = the astronaut, B = Grace
Hopper), written losslessly (FFV1) so that pixels outside the face survive exactly, as they would in a perfect
conversion. B's face is pasted into A's frames through the alignment contract (warp B's aligned
crop through the inverse of A's matrix, inside A's face hull), and B's identity faceset is built
from other frames of B in the faceset format.
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from photo_fixtures import face_frames
from swapstream.engine.face.align import alignment_matrix, invert, transform_points, warp_face
from swapstream.engine.face.embedding import EmbedderMissing
from swapstream.engine.face.landmarks import FaceMesh
from swapstream.engine.face.mask import hull_mask
from swapstream.engine.quality import evaluate as evaluate_module
from swapstream.engine.quality.evaluate import EvalConfig, evaluate
from swapstream.engine.quality.expression import ExpressionSample, compare_expressions
from swapstream.engine.quality.video import PairedVideos

from swapstream.cli import build_parser
from swapstream.commands import evaluate as eval_command
from swapstream.common.errors import UserError

CLIP_FRAMES = 36
EVERY = 4
CROP = 256


def run_eval(argv: list[str]) -> int:
    """`swapstream eval ARGS` through the real parser, without importing the other commands."""
    args = build_parser({"eval": eval_command}).parse_args(["eval", *argv])
    return args._run(args)


def write_lossless(path: Path, frames: list[np.ndarray]) -> Path:
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        s = c.add_stream("ffv1", rate=30)
        s.width, s.height, s.pix_fmt = w, h, "bgr0"
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="bgr24")):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


def landmarks_of(mesh: FaceMesh, frame: np.ndarray) -> np.ndarray:
    faces = mesh.process(frame)
    assert faces, "test media frame without a face"
    return faces[0].landmarks


def write_faceset(root: Path, crops: list[np.ndarray], crop_landmarks: list[np.ndarray]) -> Path:
    (root / "faces").mkdir(parents=True)
    records = []
    for i, (crop, lm) in enumerate(zip(crops, crop_landmarks, strict=True)):
        cv2.imwrite(str(root / "faces" / f"{i:04d}.jpg"), crop)
        records.append({"file": f"faces/{i:04d}.jpg", "mask": f"masks/{i:04d}.png", "source": "b", "frame": i,
                        "landmarks": np.round(lm[:, :2], 2).tolist(), "matrix": np.eye(2, 3).tolist(),
                        "yaw": 0.0, "pitch": 0.0, "roll": 0.0, "sharpness": 1.0})  # fmt: skip
    manifest = {"format": "swapstream-faceset", "version": 1, "face_type": "whole", "size": CROP,
                "template": "mp478-sym-v1", "contract": 1, "sources": {}, "faces": records}  # fmt: skip
    (root / "faceset.json").write_text(json.dumps(manifest))
    return root


def paste_face(frame_a: np.ndarray, lm_a: np.ndarray, frame_b: np.ndarray, lm_b: np.ndarray) -> np.ndarray:
    """A's frame with B's face inside A's face hull: a crude but real face replacement."""
    m_a, m_b = alignment_matrix(lm_a, "whole", CROP), alignment_matrix(lm_b, "whole", CROP)
    crop_b = warp_face(frame_b, m_b, CROP)
    mask = hull_mask(transform_points(lm_a, m_a), CROP, "whole")
    mask = cv2.GaussianBlur(cv2.erode(mask, np.ones((9, 9), np.uint8)), (0, 0), 3)
    h, w = frame_a.shape[:2]
    back = invert(m_a)
    face = cv2.warpAffine(crop_b, back, (w, h), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(mask, back, (w, h), flags=cv2.INTER_LINEAR)[..., None].astype(np.float32) / 255
    return np.round(frame_a * (1 - alpha) + face * alpha).astype(np.uint8)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("eval")
    a, b = face_frames("astronaut", CLIP_FRAMES), face_frames("hopper", CLIP_FRAMES)
    mesh = FaceMesh(static=True)
    try:
        swapped = [
            paste_face(fa, landmarks_of(mesh, fa), fb, landmarks_of(mesh, fb)) for fa, fb in zip(a, b, strict=True)
        ]
        # B's identity from frames the swap never used.
        crops, crop_lms = [], []
        for fb in face_frames("hopper", 64, first=64)[::8]:
            lm = landmarks_of(mesh, fb)
            m = alignment_matrix(lm, "whole", CROP)
            crops.append(warp_face(fb, m, CROP))
            crop_lms.append(transform_points(lm, m).astype(np.float32))
    finally:
        mesh.close()
    return {
        "driving": write_lossless(tmp / "a.mkv", a),
        "swapped": write_lossless(tmp / "a_as_b.mkv", swapped),
        "short": write_lossless(tmp / "a_short.mkv", a[:10]),
        "short_blurred": write_lossless(
            tmp / "a_short_blurred.mkv", [cv2.GaussianBlur(f, (0, 0), 2.0) for f in a[:10]]
        ),
        "small": write_lossless(tmp / "small.mkv", [cv2.resize(f, (64, 64)) for f in a[:3]]),
        "faceset_b": write_faceset(tmp / "faceset_b", crops, crop_lms),
    }


def test_video_against_itself_through_the_cli(clips, tmp_path, capsys):
    out_json, out_png = tmp_path / "r" / "eval.json", tmp_path / "eval.png"
    argv = ["--driving", str(clips["driving"]), "--swapped", str(clips["driving"]),
            "--identity", str(clips["faceset_b"]), "--every", str(EVERY), "--no-progress",
            "--json", str(out_json), "--plot", str(out_png)]  # fmt: skip
    assert run_eval(argv) == 0
    printed = capsys.readouterr().out
    assert "flicker ratio" in printed and "sharpness ratio" in printed
    r = json.loads(out_json.read_text())
    assert r["format"] == "swapstream-eval"
    assert r["frames"] == CLIP_FRAMES and r["frames_measured"] == CLIP_FRAMES // EVERY
    assert r["swapped_faces_lost"] == 0
    idt = r["identity"]
    assert idt["share_nearer_target"] <= 0.05 and idt["share_recognised_as_target"] <= 0.05, idt
    assert idt["mean_distance_to_driving"] < idt["mean_distance_to_target"]
    assert idt["trusted"] and idt["separation"] > 2, idt
    ex = r["expression"]
    assert ex["mouth_correlation"] > 0.99 and ex["eye_correlation"] > 0.99, ex
    assert ex["mouth_state_agreement"] == 1.0 and ex["mouth_opening_error"] == 0.0, ex
    assert ex["closed_eyes_followed"] in (None, 1.0), ex
    assert ex["pose_error_deg"] < 0.01
    assert r["stability"]["flicker_ratio"] == pytest.approx(1.0, abs=1e-6)
    assert r["sharpness"]["ratio"] == 1.0 and r["sharpness"]["frames_compared"] == CLIP_FRAMES // EVERY
    assert r["background"]["changed_share"] == 0.0
    assert len(r["curves"]["frame"]) == CLIP_FRAMES // EVERY
    assert cv2.imread(str(out_png)) is not None
    assert not list(tmp_path.rglob("*.tmp"))


def test_face_replaced_by_another_person_moves_identity_toward_them(clips):
    report = evaluate(EvalConfig(clips["driving"], clips["swapped"], clips["faceset_b"], every=EVERY, progress=False))
    idt = report.identity
    assert idt is not None and idt.trusted, idt
    assert idt.share_nearer_target >= 0.8 and idt.share_recognised_as_target >= 0.8, idt
    assert idt.mean_distance_to_target < idt.mean_distance_to_driving
    # The paste stays inside A's face hull: the background is untouched.
    assert report.background.changed_share < 0.005, report.background
    # B's face does not follow A's head: the metric must see it.
    assert report.expression is not None and report.expression.pose_error_deg > 0.5, report.expression
    assert report.stability.flicker_ratio is not None and report.stability.flicker_ratio > 1.0


def test_without_the_judge_the_other_metrics_still_come(clips, monkeypatch):
    def missing():
        raise EmbedderMissing("the `eval` extra is missing (pip install 'swapstream[eval]'): no dlib")

    monkeypatch.setattr(evaluate_module, "FaceEmbedder", missing)
    report = evaluate(EvalConfig(clips["short"], clips["short"], clips["faceset_b"], every=2, progress=False))
    assert report.identity is None and "eval" in report.identity_skipped
    assert report.expression is not None and report.expression.mouth_correlation > 0.99
    assert report.frames == 10


def test_a_blurred_face_has_a_sharpness_ratio_well_below_one(clips, monkeypatch):
    def missing():
        raise EmbedderMissing("not needed here")

    monkeypatch.setattr(evaluate_module, "FaceEmbedder", missing)
    report = evaluate(EvalConfig(clips["short"], clips["short_blurred"], clips["faceset_b"], every=3, progress=False))
    assert report.sharpness.frames_compared == 4
    assert report.sharpness.ratio < 0.4, report.sharpness
    assert len(report.curves.sharpness_swapped) == 4


def test_mismatched_videos_are_refused(clips):
    with pytest.raises(UserError, match=r"small\.mkv: frame size 64x64"):
        evaluate(EvalConfig(clips["driving"], clips["small"], clips["faceset_b"], progress=False))
    with PairedVideos(clips["driving"], clips["short"]) as pair, pytest.raises(UserError, match=r"a_short\.mkv: ends"):
        for _ in pair:
            pass


def test_bad_inputs_are_user_errors(clips, tmp_path):
    with pytest.raises(UserError, match=r"nope\.mp4: no such file"):
        evaluate(EvalConfig(clips["driving"], tmp_path / "nope.mp4", clips["faceset_b"], progress=False))
    with pytest.raises(UserError, match="not a faceset"):
        evaluate(EvalConfig(clips["driving"], clips["driving"], tmp_path, progress=False))
    bad = tmp_path / "bad"
    bad.mkdir()
    manifest = json.loads((clips["faceset_b"] / "faceset.json").read_text())
    manifest["faces"][0]["landmarks"] = [[0, 0]] * 5
    (bad / "faceset.json").write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="face 0: landmarks"):
        evaluate(EvalConfig(clips["driving"], clips["driving"], bad, progress=False))
    (tmp_path / "text.mp4").write_text("not a video")
    argv = ["--driving", str(tmp_path / "text.mp4"), "--swapped", str(clips["driving"]),
            "--identity", str(clips["faceset_b"])]  # fmt: skip
    with pytest.raises(UserError, match=r"text\.mp4: not a readable video"):
        run_eval(argv)
    with pytest.raises(SystemExit, match="2"):  # refused by the parser, one line naming --every
        run_eval([*argv[2:], "--driving", str(clips["driving"]), "--every", "0"])


def test_expression_states_see_what_a_correlation_cannot():
    """A swap that holds its mouth wide open while the driver's lips stay together, with the same
    small movements, correlates perfectly and is in the driver's mouth state in no frame; eyes
    that never close follow none of the driver's blinks. A faithful copy agrees in every frame."""
    n = 60
    lips = np.random.default_rng(0).uniform(0.0, 0.03, n)
    eyes = np.full(n, 0.1)
    eyes[10:14] = 0.02  # the driver blinks
    driver = [ExpressionSample(m, e, 0.0, 0.0, 0.0) for m, e in zip(lips, eyes, strict=True)]
    held_open = [ExpressionSample(0.4 + m, 0.1, 0.0, 0.0, 0.0) for m in lips]
    result = compare_expressions(driver, held_open)
    assert result.mouth_correlation > 0.99
    assert result.mouth_state_agreement == 0.0 and result.mouth_opening_error == pytest.approx(0.4)
    assert result.closed_eyes_followed == 0.0 and result.driver_closed_eye_frames == 4
    faithful = compare_expressions(driver, driver)
    assert faithful.mouth_state_agreement == 1.0 and faithful.closed_eyes_followed == 1.0
    assert compare_expressions(held_open, held_open).closed_eyes_followed is None  # no blink to follow
