"""Held-out occluders for benchmarks/occlusion.py, drawn in frame pixels over real driving frames.

None of these constructions is used in training (trainer/occluder_shapes.py builds hands from an
ellipse and capsules, cups from a tapered quad, ...): here the hand is one fixed outline polygon,
the cup a rounded body with a C-shaped handle arc and a stripe, the microphone a grilled capsule
head on a thin boom, the glasses thick rounded-rectangle rims, the hair wavy sine locks. Each
moves across the face along its own path. `occluder(kind, t, face, rng_seed, tex)` returns
(alpha float32 (H, W) in [0, 1], colour float32 (H, W, 3)).
"""

from __future__ import annotations

import cv2
import numpy as np

KINDS = ("hand", "cup", "mic", "glasses", "hair")
SUB, K = 4, 16

# An open hand, palm centre at (0, 0), fingers up, in units of the hand's height.
HAND = np.array(
    [
        (-0.28, 0.55), (-0.30, 0.15), (-0.48, -0.05), (-0.52, -0.14), (-0.45, -0.17), (-0.26, -0.02),
        (-0.27, -0.42), (-0.22, -0.47), (-0.16, -0.42), (-0.13, -0.12), (-0.10, -0.52), (-0.04, -0.56),
        (0.02, -0.51), (0.03, -0.12), (0.08, -0.48), (0.14, -0.50), (0.18, -0.44), (0.16, -0.08),
        (0.24, -0.35), (0.30, -0.35), (0.32, -0.29), (0.26, 0.10), (0.22, 0.55),
    ],
    np.float32,
)  # fmt: skip


class Face:
    """Where the face is in a clean frame: landmarks (478, 2) in frame pixels; derived anchors."""

    def __init__(self, landmarks: np.ndarray):
        lm = landmarks[:, :2].astype(np.float32)
        self.lm = lm
        self.eyes = (lm[[33, 133, 159, 145]].mean(0), lm[[362, 263, 386, 374]].mean(0))
        self.mouth = lm[[13, 14, 78, 308]].mean(0)
        self.height = float(np.linalg.norm(lm[10] - lm[152]))
        self.centre = lm[[10, 152, 234, 454]].mean(0)
        self.forehead = lm[10]


def vec(x: float, y: float) -> np.ndarray:
    """A 2-vector to offset points with."""
    return np.array((x, y), np.float32)


def _poly(alpha: np.ndarray, pts: np.ndarray) -> None:
    cv2.fillPoly(alpha, [np.round(pts * K).astype(np.int32)], 1.0, cv2.LINE_AA, SUB)


def _rot(a: float) -> np.ndarray:
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)


def hand(t: float, f: Face, alpha: np.ndarray) -> None:
    """The outline enters from the lower right and sweeps over mouth and cheek."""
    h = f.height * 0.75
    start, end = f.centre + vec(f.height * 0.9, f.height * 0.6), f.mouth + vec(-f.height * 0.15, 0)
    c = start + (end - start) * min(1.0, 1.6 * t)
    pts = HAND @ _rot(-0.5 + 0.4 * t).T * h + c
    _poly(alpha, pts)
    arm = np.array([(-0.2, 0.5), (0.2, 0.5), (0.35, 2.0), (-0.35, 2.0)], np.float32) @ _rot(-0.5 + 0.4 * t).T * h + c
    _poly(alpha, arm)


def cup(t: float, f: Face, alpha: np.ndarray) -> None:
    """A mug rises from below to the chin and mouth, then tilts."""
    w = f.height * 0.22
    top = f.mouth + vec(f.height * 0.05, f.height * (0.9 - 0.85 * min(1.0, 1.5 * t)))
    body = cv2.ellipse2Poly((0, 0), (100, 100), 0, 0, 180, 10).astype(np.float32) / 100 * (w, w * 0.3)
    outline = np.vstack([[(-w, 0), (w, 0)], [(w, w * 2.2)], body[::-1] + vec(0, w * 2.2), [(-w, w * 2.2)]])
    r = _rot(0.3 * max(0.0, t - 0.6))
    _poly(alpha, outline @ r.T + top)
    axes = (int(w * 0.55 * K), int(w * 0.7 * K))
    cv2.ellipse(alpha, _i(top + vec(w, w)), axes, 0, -90, 90, 1.0, max(1, int(w * 0.18)), cv2.LINE_AA, SUB)


def mic(t: float, f: Face, alpha: np.ndarray) -> None:
    """A capsule head on a thin boom from the lower left, in front of the mouth."""
    r = f.height * 0.09
    head = f.mouth + vec(f.height * (-0.5 + 0.6 * t), f.height * 0.1)
    boom_end = head + vec(-f.height * 1.2, f.height * 1.5)
    cv2.line(alpha, _i(head), _i(boom_end), 1.0, max(2, int(r * 0.35)), cv2.LINE_AA, SUB)
    d = (boom_end - head) / np.linalg.norm(boom_end - head)
    cv2.line(alpha, _i(head), _i(head + d * r * 1.2), 1.0, int(2 * r), cv2.LINE_AA, SUB)


def glasses(t: float, f: Face, alpha: np.ndarray) -> None:
    """Thick rounded-rectangle rims on the eyes, a bridge and temple arms (follows the face)."""
    span = float(np.linalg.norm(f.eyes[1] - f.eyes[0]))
    wob = (0.0, span * 0.05 * np.sin(6.28 * t))
    th = max(2, int(span * 0.07))
    for e in f.eyes:
        c = e + wob
        box = cv2.boxPoints(((float(c[0]), float(c[1])), (span * 0.7, span * 0.45), 0)).astype(np.float32)
        outer = np.zeros_like(alpha)
        _poly(outer, box)
        outer = cv2.dilate(outer, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (th, th)))
        inner = cv2.erode(outer, np.ones((2 * th + 1, 2 * th + 1), np.uint8))
        np.maximum(alpha, outer - inner, out=alpha)
    cv2.line(
        alpha,
        _i(f.eyes[0] + wob + vec(span * 0.35, 0)),
        _i(f.eyes[1] + wob - vec(span * 0.35, 0)),
        1.0,
        th,
        cv2.LINE_AA,
        SUB,
    )
    for e, s in ((f.eyes[0], -1), (f.eyes[1], 1)):
        cv2.line(alpha, _i(e + wob + vec(s * span * 0.35, 0)), _i(e + wob + vec(s * span * 0.9, -span * 0.05)), 1.0, th,
                 cv2.LINE_AA, SUB)  # fmt: skip


def hair(t: float, f: Face, alpha: np.ndarray) -> None:
    """Wavy locks (2% of the face height wide) falling from the forehead over one eye and cheek, swaying."""
    for i in range(7):
        x0 = f.forehead[0] - f.height * (0.05 + 0.05 * i)
        ys = np.linspace(f.forehead[1] - f.height * 0.1, f.eyes[0][1] + f.height * (0.25 + 0.05 * i), 30)
        sway = f.height * 0.06 * np.sin(6.28 * t + i)
        xs = x0 + f.height * 0.04 * np.sin((ys - ys[0]) / f.height * 9 + i) + sway * (ys - ys[0]) / (ys[-1] - ys[0])
        cv2.polylines(alpha, [np.round(np.stack([xs, ys], 1) * K).astype(np.int32)], False, 1.0,
                      max(2, int(f.height * 0.02)), cv2.LINE_AA, SUB)  # fmt: skip


def _i(p) -> tuple[int, int]:
    return round(float(p[0]) * K), round(float(p[1]) * K)


DRAW = {"hand": hand, "cup": cup, "mic": mic, "glasses": glasses, "hair": hair}


def colour(kind: str, shape: tuple[int, int], f: Face, clean: np.ndarray, tex: np.ndarray, t: float) -> np.ndarray:
    """float32 (H, W, 3): skin of the driver for the hand, printed mug, dark metal, dark hair."""
    h, w = shape
    if kind == "hand":
        cheek = clean[int(f.centre[1]) - 5 : int(f.centre[1]) + 5, int(f.centre[0]) - 30 : int(f.centre[0]) + 30]
        base = cheek.reshape(-1, 3).mean(0) * (0.92, 0.95, 1.05)
        col = np.broadcast_to(base, (h, w, 3)).astype(np.float32)
    elif kind == "cup":
        col = np.full((h, w, 3), (235, 235, 240), np.float32)
        col[int(f.mouth[1]) :: 14] = (40, 40, 200)  # red stripes (BGR)
    elif kind == "mic":
        col = np.full((h, w, 3), 45, np.float32)
        col[::3, ::3] = 110  # the grille
    elif kind == "glasses":
        col = np.broadcast_to(np.array((20, 25, 30), np.float32), (h, w, 3)).copy()
    else:
        col = cv2.resize(tex, (w, h)).astype(np.float32) * 0.35 + np.array((20, 35, 60), np.float32) * 0.65
    ys = np.linspace(-1, 1, h, dtype=np.float32)[:, None, None]
    return np.clip(col * (1 + 0.12 * ys), 0, 255)


def occluder(kind: str, t: float, f: Face, clean: np.ndarray, tex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, colour) of `kind` at time t in [0, 1] of its segment, over the frame `clean`."""
    alpha = np.zeros(clean.shape[:2], np.float32)
    DRAW[kind](t, f, alpha)
    return np.clip(alpha, 0, 1), colour(kind, clean.shape[:2], f, clean, tex, t)
