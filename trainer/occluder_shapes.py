"""Synthetic occluders pasted onto aligned faces, for training the occlusion model (NumPy + OpenCV).

`occlude(face, landmarks, rng, textures)` returns the face with 0-3 occluders composited over it
and the occluder's alpha (the training target: 1 where something covers the face). Shapes:
random polygons and ellipses, skin-toned hand silhouettes (palm, fingers, forearm from a crop
edge), thin dark glasses-like frames on the eyes, hair (loose strands, or fringes of parallel wavy
locks), cup- and microphone-like shapes. Their colour comes from patches of other crops
(backgrounds, hair, clothes, other faces' surroundings), the face's own skin tone (hands on skin
are the hard case), the crop's own hair for strands, or flat colours, with shading and noise.
The benchmark (benchmarks/occlusion.py) draws its own, different shapes.
"""

from __future__ import annotations

import cv2
import numpy as np

SHAPES = ("polygon", "ellipse", "hand", "glasses", "strands", "cup", "mic")
SHAPE_WEIGHTS = np.array([0.15, 0.1, 0.25, 0.12, 0.13, 0.12, 0.13])
AA = cv2.LINE_AA
SUB = 4  # drawing sub-pixel bits
K = 1 << SUB


def vec(x: float, y: float) -> np.ndarray:
    """A 2-vector to offset points with."""
    return np.array((x, y), np.float32)


def _p(x: float, y: float) -> tuple[int, int]:
    return round(x * K), round(y * K)


def _edge_point(rng: np.random.Generator, s: int) -> np.ndarray:
    """A point just outside one crop edge (mostly the bottom and sides: where hands come from)."""
    side = rng.choice(4, p=[0.45, 0.25, 0.25, 0.05])
    t = rng.uniform(0.1, 0.9) * s
    return np.array([(t, s * 1.1), (-0.1 * s, t), (s * 1.1, t), (t, -0.1 * s)][side], np.float32)


def _face_point(rng: np.random.Generator, lm: np.ndarray) -> np.ndarray:
    """A random landmark of the face, jittered: occluders land on the face, not beside it."""
    return lm[rng.integers(len(lm))] + rng.normal(0, 2.0, 2).astype(np.float32)


def draw_polygon(rng, s, lm, alpha):
    c = _face_point(rng, lm)
    n = int(rng.integers(3, 9))
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = rng.uniform(0.08, 0.35) * s * rng.uniform(0.5, 1.0, n)
    pts = np.stack([c[0] + rad * np.cos(ang), c[1] + rad * np.sin(ang)], 1)
    cv2.fillPoly(alpha, [np.round(pts * K).astype(np.int32)], 1.0, AA, SUB)


def draw_ellipse(rng, s, lm, alpha):
    c = _face_point(rng, lm)
    axes = _p(*(rng.uniform(0.05, 0.3, 2) * s))
    cv2.ellipse(alpha, _p(*c), axes, rng.uniform(0, 180), 0, 360, 1.0, -1, AA, SUB)


def _capsule(alpha, a, b, width: float) -> None:
    cv2.line(alpha, _p(*a), _p(*b), 1.0, max(1, round(width)), AA, SUB)


def draw_hand(rng, s, lm, alpha):
    """Palm (rotated ellipse) with 4 fingers in a fan, a thumb and a forearm to a crop edge."""
    palm = _face_point(rng, lm)
    wrist = _edge_point(rng, s)
    d = palm - wrist
    up = d / (np.linalg.norm(d) + 1e-6)  # from wrist toward the fingertips
    side = np.array([-up[1], up[0]])
    size = rng.uniform(0.18, 0.4) * s
    cv2.ellipse(
        alpha,
        _p(*palm),
        _p(size * 0.45, size * 0.55),
        np.degrees(np.arctan2(up[1], up[0])) + 90,
        0,
        360,
        1,
        -1,
        AA,
        SUB,
    )
    _capsule(alpha, wrist, palm, size * rng.uniform(0.6, 0.85))
    spread = rng.uniform(0.05, 0.35)
    curl = rng.uniform(0.3, 1.0)  # fists have short fingers
    for i, off in enumerate(np.linspace(-0.3, 0.3, 4)):
        base = palm + up * size * 0.4 + side * off * size
        direction = up + side * (off * spread * 3)
        length = size * curl * (0.75 + 0.2 * (1 - abs(i - 1.5) / 1.5)) * rng.uniform(0.85, 1.1)
        tip = base + direction / np.linalg.norm(direction) * length
        _capsule(alpha, base, tip, size * 0.16)
    sign = rng.choice([-1, 1])
    thumb_base = palm + side * sign * size * 0.35
    _capsule(alpha, thumb_base, thumb_base + (side * sign * 0.7 + up * 0.5) * size * 0.5, size * 0.18)


def draw_glasses(rng, s, lm, alpha):
    """Two lens outlines around the eyes, a bridge and temples; sometimes dark lenses."""
    eyes = [lm[[33, 133, 159, 145]].mean(0), lm[[362, 263, 386, 374]].mean(0)]
    half = np.linalg.norm(eyes[1] - eyes[0]) * rng.uniform(0.28, 0.45)
    t = max(1, round(rng.uniform(0.6, 2.2) * s / 64))
    filled = rng.random() < 0.1  # sunglasses; clear lenses show the eyes, which stay face
    rect = rng.random() < 0.5
    for e in eyes:
        h = half * rng.uniform(0.6, 0.9)
        if rect:
            a, b = e - vec(half, h), e + vec(half, h)
            cv2.rectangle(alpha, _p(*a), _p(*b), 1.0, -1 if filled else t, AA, SUB)
        else:
            cv2.ellipse(alpha, _p(*e), _p(half, h), 0, 0, 360, 1.0, -1 if filled else t, AA, SUB)
    _capsule(alpha, eyes[0] + vec(half, 0), eyes[1] - vec(half, 0), t)
    _capsule(alpha, eyes[0] - vec(half, 0), eyes[0] - vec(half * 2.5, -half * 0.2), t)
    _capsule(alpha, eyes[1] + vec(half, 0), eyes[1] + vec(half * 2.5, half * 0.2), t)


def _curve(p0, p1, p2, n: int = 24) -> np.ndarray:
    """n points of the quadratic Bezier p0 -> p2 pulled toward p1."""
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def draw_strands(rng, s, lm, alpha):
    """3-12 strands or locks (1 px to 3% of the crop wide) from the top or a side across the face:
    loose strands fanning to random face points, or (half the time) a fringe of parallel wavy locks
    a few widths apart, as real hair falls; in a fringe every lock and every gap must be told apart."""
    start = np.array([rng.uniform(0.1, 0.9) * s, -0.05 * s]) if rng.random() < 0.6 else _edge_point(rng, s)
    width = max(1, round(rng.uniform(0.3, 1.0) ** 2 * 0.03 * s))
    n = int(rng.integers(3, 13))
    if rng.random() < 0.5:
        for _ in range(n):
            p0 = start + rng.normal(0, 0.06 * s, 2)
            p2 = _face_point(rng, lm) + rng.normal(0, 0.1 * s, 2)
            curve = _curve(p0, (p0 + p2) / 2 + rng.normal(0, 0.12 * s, 2), p2)
            cv2.polylines(alpha, [np.round(curve * K).astype(np.int32)], False, 1.0, width, AA, SUB)
        return
    end = _face_point(rng, lm)
    d = end - start
    normal = np.array([-d[1], d[0]]) / (np.linalg.norm(d) + 1e-6)
    spine = _curve(start, (start + end) / 2 + rng.normal(0, 0.08 * s, 2), end, 32)
    t = np.linspace(0, 1, 32)[:, None]
    amp, freq, phase = rng.uniform(0, 0.04) * s, rng.uniform(2, 12), rng.uniform(0, 2 * np.pi)
    gap = width * rng.uniform(1.5, 4.0)
    for i in range(n):
        wave = amp * np.sin(freq * t + phase + rng.normal(0, 0.3))
        lock = spine + normal * (i * gap + wave + rng.normal(0, 0.2 * gap))
        keep = max(8, round(32 * rng.uniform(0.6, 1.2)))  # locks end at different lengths
        cv2.polylines(alpha, [np.round(lock[:keep] * K).astype(np.int32)], False, 1.0, width, AA, SUB)


def draw_cup(rng, s, lm, alpha):
    """A tapered body from the bottom edge with a handle ring, or a bottle (body + neck)."""
    top = _face_point(rng, lm)
    w = rng.uniform(0.12, 0.3) * s
    bottom_y = s * 1.1
    body = np.array(
        [(top[0] - w, top[1]), (top[0] + w, top[1]), (top[0] + w * 0.8, bottom_y), (top[0] - w * 0.8, bottom_y)]
    )
    cv2.fillPoly(alpha, [np.round(body * K).astype(np.int32)], 1.0, AA, SUB)
    if rng.random() < 0.6:
        c = (top[0] + w * rng.choice([-1, 1]) * 1.1, top[1] + w * 0.8)
        cv2.ellipse(alpha, _p(*c), _p(w * 0.4, w * 0.5), 0, 0, 360, 1.0, max(1, round(w * 0.15)), AA, SUB)
    else:
        neck = np.array([top[0], top[1] - w * rng.uniform(0.6, 1.5)])
        _capsule(alpha, top, neck, w * 0.6)


def draw_mic(rng, s, lm, alpha):
    """A ball or capsule head on a long bar that leaves the crop."""
    head = _face_point(rng, lm)
    end = _edge_point(rng, s)
    r = rng.uniform(0.05, 0.13) * s
    _capsule(alpha, head, end, r * rng.uniform(0.3, 0.8))
    d = (end - head) / (np.linalg.norm(end - head) + 1e-6)
    _capsule(alpha, head, head + d * r * rng.uniform(0, 1.5), 2 * r)


DRAW = {
    "polygon": draw_polygon,
    "ellipse": draw_ellipse,
    "hand": draw_hand,
    "glasses": draw_glasses,
    "strands": draw_strands,
    "cup": draw_cup,
    "mic": draw_mic,
}


_NOISE: dict[int, np.ndarray] = {}


def noise(rng: np.random.Generator, s: int) -> np.ndarray:
    """float32 (s, s, 3) standard normal noise: a random window of a pool drawn once per size
    (drawing fresh normals was a third of the synthesis time)."""
    if s not in _NOISE:
        _NOISE[s] = np.random.default_rng(12345).standard_normal((4 * s, 4 * s, 3), dtype=np.float32)
    y, x = rng.integers(0, 3 * s, 2)
    return _NOISE[s][y : y + s, x : x + s]


def _texture(rng, shape: str, s: int, face: np.ndarray, face_mask: np.ndarray, textures: np.ndarray) -> np.ndarray:
    """uint8 (s, s, 3) BGR colour for an occluder."""
    kind = rng.random()
    if (shape == "hand" and kind < 0.6) or kind < 0.15:  # skin: the face's own tone, shifted
        inside = face[face_mask > 127]
        base = inside.mean(0) if len(inside) else np.array([120, 140, 180])
        base = base * rng.uniform(0.75, 1.2) + rng.normal(0, 12, 3)
        tex = np.broadcast_to(base, (s, s, 3)).astype(np.float32)
    elif shape == "strands" and kind < 0.4:  # the person's own hair: the darker half of the crop's top
        top = face[: s // 3][face_mask[: s // 3] < 128]
        top = top[top.sum(1) <= np.median(top.sum(1))] if len(top) else np.array([[40, 50, 70]])
        base = top[rng.integers(len(top))] * rng.uniform(0.8, 1.15)
        tex = np.broadcast_to(base, (s, s, 3)).astype(np.float32)
    elif shape in ("glasses", "strands") and kind < 0.7:  # dark frames, hair colours
        tex = np.broadcast_to(rng.uniform(0, 1) ** 2 * rng.uniform(20, 160, 3), (s, s, 3)).astype(np.float32)
    elif kind < 0.8:  # a patch of another crop: background, hair, clothes, another face
        src = textures[rng.integers(len(textures))]
        scale = rng.uniform(1.0, 3.0)
        n = src.shape[0]
        m = cv2.getRotationMatrix2D((n / 2, n / 2), rng.uniform(-180, 180), scale * s / n)
        m[:, 2] += rng.uniform(-n, n, 2) * scale * s / n / 2
        tex = cv2.warpAffine(src, m, (s, s), borderMode=cv2.BORDER_REFLECT).astype(np.float32)
    else:
        tex = np.broadcast_to(rng.uniform(0, 255, 3), (s, s, 3)).astype(np.float32)
    # Shading across the object and sensor noise.
    g = np.linspace(-1, 1, s, dtype=np.float32)
    ramp = rng.uniform(-0.25, 0.25) * g[None, :, None] + rng.uniform(-0.25, 0.25) * g[:, None, None]
    return np.clip(tex * (1 + ramp) + noise(rng, s) * rng.uniform(1, 8), 0, 255)


def occlude(
    face: np.ndarray,
    face_mask: np.ndarray,
    landmarks: np.ndarray,
    rng: np.random.Generator,
    textures: np.ndarray,
    p_none: float = 0.15,
) -> tuple[np.ndarray, np.ndarray]:
    """(face with occluders, uint8 BGR; occluder alpha, float32 in [0, 1]) at the face's size.

    face_mask: uint8 0/255 face mask; landmarks: (478, 2) in the face's pixels; textures: uint8
    (K, T, T, 3) crops to cut colours from.
    """
    s = face.shape[0]
    out = face.astype(np.float32)
    total = np.zeros((s, s), np.float32)
    if rng.random() < p_none:
        return face, total
    for _ in range(int(rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]))):
        shape = SHAPES[rng.choice(len(SHAPES), p=SHAPE_WEIGHTS / SHAPE_WEIGHTS.sum())]
        alpha = np.zeros((s, s), np.float32)
        DRAW[shape](rng, s, landmarks[:, :2], alpha)
        if rng.random() < 0.3:  # motion or focus blur of the object's edge
            alpha = cv2.GaussianBlur(alpha, (0, 0), rng.uniform(0.4, 1.2))
        tex = _texture(rng, shape, s, face, face_mask, textures)
        out = out * (1 - alpha[..., None]) + tex * alpha[..., None]
        total = np.maximum(total, alpha)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), total
