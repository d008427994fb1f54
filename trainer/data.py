"""Training data: faces of one identity in memory, DeepFaceLab-style augmentation, batches from a thread.

Every array here is NHWC uint8 BGR (images), uint8 0/255 (masks) or uint8 0/1 (eye and mouth
regions). Targets, masks and regions are at the model's output resolution, inputs at its input
resolution (the same for most models; half of it for depth-to-space decoders, and then both
come from the same aligned crop). A batch for iteration i is a pure function of (seed, i), so a
resumed run sees exactly the batches an uninterrupted one would, however far the loader had
prefetched when the checkpoint was written.
"""

from __future__ import annotations

import math
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from swapstream.engine.face.openness import eye_openness, mouth_openness
from swapstream.engine.face.regions import LEFT_EYE, RIGHT_EYE
from swapstream.trainer.sampling import sampling_weights
from swapstream.trainer.synthetic_blink import blink_batch

from swapstream.common.errors import user_error
from swapstream.common.faceset import Faceset

# MediaPipe FaceMesh contours (478-point topology) of the regions weighted up in the loss (the
# eyes' from engine.face.regions).
LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
REGION_EYES, REGION_MOUTH = 1, 2  # values of the region maps (0: elsewhere)


@dataclass(frozen=True)
class AugmentConfig:
    random_warp: bool
    random_flip: bool
    affine_scale: float
    affine_rotation: float  # degrees
    affine_shift: float  # share of the resolution
    color_jitter: float


@dataclass
class IdentityFaces:
    """All faces of one identity resized to the model's resolutions (O = output, R = input).

    images (N, O, O, 3) uint8 BGR, the targets; masks (N, O, O) uint8 0/255; regions (N, O, O)
    uint8 REGION_EYES inside the eyes, REGION_MOUTH inside the mouth, else 0; yaw (N,) degrees;
    names: file of each face in its faceset; inputs (N, R, R, 3) uint8 BGR, the same crops at the
    input resolution (None: R = O, use images); eyes (N,) eye openness (`eye_openness`; None: unknown);
    mouths (N,) mouth openness (`mouth_openness`; None: unknown); landmarks (N, 478, 2) float32
    FaceMesh points at the output resolution (None: unknown); blink_rate: share of draws whose eyes
    are closed synthetically (trainer/synthetic_blink.py; needs landmarks).
    """

    images: np.ndarray
    masks: np.ndarray
    regions: np.ndarray
    yaw: np.ndarray
    names: list[str]
    inputs: np.ndarray | None = None
    eyes: np.ndarray | None = None
    mouths: np.ndarray | None = None
    landmarks: np.ndarray | None = None
    blink_rate: float = 0.0

    def __len__(self) -> int:
        return len(self.images)

    @property
    def model_inputs(self) -> np.ndarray:
        """(N, R, R, 3): what the model reads for these faces."""
        return self.images if self.inputs is None else self.inputs

    def subset(self, idx: np.ndarray) -> IdentityFaces:
        return IdentityFaces(
            self.images[idx],
            self.masks[idx],
            self.regions[idx],
            self.yaw[idx],
            [self.names[i] for i in idx],
            None if self.inputs is None else self.inputs[idx],
            None if self.eyes is None else self.eyes[idx],
            None if self.mouths is None else self.mouths[idx],
            None if self.landmarks is None else self.landmarks[idx],
            self.blink_rate,
        )


def open_faceset(path: str | Path, face_type: str) -> Faceset:
    """Open a faceset for training; UserError if missing, empty or of another face type."""
    fs = Faceset.open(path)
    if len(fs) == 0:
        raise user_error(path, "faceset is empty (no faces extracted)")
    if fs.face_type != face_type:
        raise user_error(path, f"holds {fs.face_type!r} faces but the preset trains on {face_type!r}")
    return fs


def region_map(landmarks: np.ndarray, size: int) -> np.ndarray:
    """uint8 (size, size): REGION_EYES inside the (slightly dilated) eyes, REGION_MOUTH inside the
    mouth, 0 elsewhere. landmarks: (478, 2) crop px."""
    out = np.zeros((size, size), np.uint8)
    for contour, value in ((LEFT_EYE, REGION_EYES), (RIGHT_EYE, REGION_EYES), (LIPS, REGION_MOUTH)):
        pts = np.round(landmarks[list(contour)]).astype(np.int32)
        cv2.fillConvexPoly(out, cv2.convexHull(pts), value)
    k = max(3, size // 24) | 1  # a margin so eyelids and lip edges count too
    return cv2.dilate(out, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    if image.shape[0] == size:
        return image
    interp = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_CUBIC
    return cv2.resize(image, (size, size), interpolation=interp)


def load_faces(fs: Faceset, resolution: int, output_resolution: int | None = None) -> IdentityFaces:
    """Read every face of a faceset into memory (INTER_AREA down, CUBIC up).

    Targets, masks and eye/mouth regions (drawn from the landmarks at that size) at
    `output_resolution` (default: `resolution`); when it differs, the model inputs are the same
    aligned crops resized straight from the faceset to `resolution`.
    """
    out = output_resolution or resolution
    n = len(fs)
    images = np.empty((n, out, out, 3), np.uint8)
    masks = np.empty((n, out, out), np.uint8)
    regions = np.empty((n, out, out), np.uint8)
    inputs = None if out == resolution else np.empty((n, resolution, resolution, 3), np.uint8)
    scale = out / fs.size
    landmarks = np.array([r.landmarks[:, :2] * scale for r in fs.faces], np.float32)
    for i in range(n):
        crop = fs.image(i)
        images[i] = _resize(crop, out)
        if inputs is not None:
            inputs[i] = _resize(crop, resolution)
        masks[i] = cv2.resize(fs.mask(i), (out, out), interpolation=cv2.INTER_LINEAR)
        regions[i] = region_map(landmarks[i], out)
    yaw = np.array([r.yaw for r in fs.faces], np.float32)
    eyes = np.array([eye_openness(r.landmarks) for r in fs.faces], np.float32)
    mouths = np.array([mouth_openness(r.landmarks) for r in fs.faces], np.float32)
    names = [r.file for r in fs.faces]
    return IdentityFaces(images, masks, regions, yaw, names, inputs, eyes, mouths, landmarks)


def split_validation(faces: IdentityFaces, count: int) -> tuple[IdentityFaces, IdentityFaces]:
    """(train, validation): `count` faces evenly spaced through the faceset are held out.

    Evenly spaced (not random) so they cover the whole clip and stay fixed across runs and resumes.
    At least 4 faces always remain for training.
    """
    count = min(count, max(0, len(faces) - 4))
    if count == 0:
        return faces, faces.subset(np.arange(min(len(faces), 1)))
    held = np.unique(np.linspace(0, len(faces) - 1, count + 2)[1:-1].round().astype(int))
    keep = np.setdiff1d(np.arange(len(faces)), held)
    return faces.subset(keep), faces.subset(held)


def _affine(rng: np.random.Generator, size: int, cfg: AugmentConfig) -> np.ndarray:
    """(2, 3) random similarity about the crop centre: output pixel <- source pixel."""
    angle = rng.uniform(-cfg.affine_rotation, cfg.affine_rotation)
    scale = 1.0 + rng.uniform(-cfg.affine_scale, cfg.affine_scale)
    m = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    m[:, 2] += rng.uniform(-cfg.affine_shift, cfg.affine_shift, 2) * size
    return m


def rescale_affine(m: np.ndarray, k: float) -> np.ndarray:
    """The (2, 3) pixel map `m` of an image, for the same image resized by factor k.

    Exact under OpenCV's resize convention (pixel centres: x_small = k * (x + 0.5) - 0.5).
    """
    s = np.array([[k, 0, 0.5 * k - 0.5], [0, k, 0.5 * k - 0.5], [0, 0, 1]])
    return (s @ np.vstack([m, [0, 0, 1]]) @ np.linalg.inv(s))[:2]


def _warp_offsets(rng: np.random.Generator, size: int) -> np.ndarray:
    """(2, size, size) float32 smooth random displacement in px, zero at the border (DFL's random warp)."""
    cells = 5
    grid = rng.normal(0.0, size * 0.024, (2, cells, cells)).astype(np.float32)
    grid[:, [0, -1], :] = 0
    grid[:, :, [0, -1]] = 0
    return np.stack([cv2.resize(g, (size, size), interpolation=cv2.INTER_CUBIC) for g in grid])


def _input_view(rng: np.random.Generator, source: np.ndarray, m: np.ndarray, random_warp: bool) -> np.ndarray:
    """The model input: `source` through the affine `m` and, with random_warp, DFL's random warp.

    One remap from the source: output px -> warped px -> inverse affine -> source px.
    """
    size = source.shape[0]
    border = cv2.BORDER_REFLECT101
    if not random_warp:
        return cv2.warpAffine(source, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=border)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    off = _warp_offsets(rng, size)
    wx, wy = xs + off[0], ys + off[1]
    inv = cv2.invertAffineTransform(m).astype(np.float32)
    map_x = inv[0, 0] * wx + inv[0, 1] * wy + inv[0, 2]
    map_y = inv[1, 0] * wx + inv[1, 1] * wy + inv[1, 2]
    return cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderMode=border)


def augment_one(
    rng: np.random.Generator,
    image: np.ndarray,
    mask: np.ndarray,
    region: np.ndarray,
    cfg: AugmentConfig,
    small: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One training sample: (input, target, target_mask, target_region), all uint8.

    image, mask, region: (O, O[, 3]) at the output resolution, which the target, mask and region
    keep; small: the same crop at the input resolution R (None: R = O, the input comes from image).
    The random affine and flip apply to input and target alike (the affine rescaled exactly to R);
    the random warp distorts only the input, so the model must learn the face rather than copy
    pixels, and the target stays sharp.
    """
    size = image.shape[0]
    m = _affine(rng, size, cfg)
    target = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    t_mask = cv2.warpAffine(mask, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    t_region = cv2.warpAffine(region, m, (size, size), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT)
    if small is None:
        inp = _input_view(rng, image, m, cfg.random_warp)
    else:
        inp = _input_view(rng, small, rescale_affine(m, small.shape[0] / size), cfg.random_warp)
    if cfg.random_flip and rng.random() < 0.5:
        inp, target, t_mask, t_region = (a[:, ::-1] for a in (inp, target, t_mask, t_region))
    if cfg.color_jitter > 0:
        gain = 1.0 + rng.uniform(-cfg.color_jitter, cfg.color_jitter, 3)  # per channel: colour cast
        bias = rng.uniform(-cfg.color_jitter, cfg.color_jitter) * 255  # shared: brightness
        inp, target = (np.clip(a.astype(np.float32) * gain + bias, 0, 255).astype(np.uint8) for a in (inp, target))
    return inp, target, t_mask, t_region


def reinhard_transfer(images: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Colour transfer (rct): each BGR uint8 image's LAB mean/std moved to the matching reference image's."""
    out = np.empty_like(images)
    for i, (img, ref) in enumerate(zip(images, reference, strict=True)):
        src = cv2.cvtColor(img.astype(np.float32) / 255, cv2.COLOR_BGR2LAB)
        dst = cv2.cvtColor(ref.astype(np.float32) / 255, cv2.COLOR_BGR2LAB)
        s_mean, s_std = src.mean((0, 1)), src.std((0, 1)) + 1e-6
        d_mean, d_std = dst.mean((0, 1)), dst.std((0, 1))
        lab = (src - s_mean) * (d_std / s_std) + d_mean
        lab[..., 0] = np.clip(lab[..., 0], 0, 100)
        bgr = cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)
        out[i] = np.clip(bgr * 255 + 0.5, 0, 255).astype(np.uint8)
    return out


@dataclass
class Batch:
    """One training batch of both identities. *_input (N, R, R, 3) and *_target (N, O, O, 3) uint8 BGR
    (R, O: the model's input and output resolutions); *_mask (N, O, O) 0/255; *_region (N, O, O) 0/1.
    `iteration` is the step it was made for."""

    iteration: int
    a_input: np.ndarray
    a_target: np.ndarray
    a_mask: np.ndarray
    a_region: np.ndarray
    b_input: np.ndarray
    b_target: np.ndarray
    b_mask: np.ndarray
    b_region: np.ndarray


def make_batch(
    iteration: int,
    seed: int,
    faces_a: IdentityFaces,
    faces_b: IdentityFaces,
    batch_size: int,
    cfg: AugmentConfig,
    yaw_balance: bool,
    color_transfer: bool,
    eye_balance: float = 0.0,
    balance_cap: float = math.inf,
    mouth_balance: float = 0.0,
) -> Batch:
    """The batch of `iteration`: deterministic in (seed, iteration); eye_balance, balance_cap and
    mouth_balance: `sampling_weights`."""
    rng = np.random.default_rng([seed, iteration])
    parts = {}
    picks = {}
    for name, faces in (("a", faces_a), ("b", faces_b)):
        p = sampling_weights(faces, yaw_balance, eye_balance, balance_cap, mouth_balance)
        idx = rng.choice(len(faces), batch_size, p=p)
        picks[name] = idx
        images = faces.images[idx]
        small = [None] * len(idx) if faces.inputs is None else faces.inputs[idx]
        if faces.blink_rate > 0 and faces.landmarks is not None:
            images, small = blink_batch(rng, images, small, faces.landmarks[idx], faces.blink_rate)
        samples = [
            augment_one(rng, image, faces.masks[i], faces.regions[i], cfg, s)
            for i, image, s in zip(idx, images, small, strict=True)
        ]
        parts[name] = [np.stack(s) for s in zip(*samples, strict=True)]
    if color_transfer:
        # A's samples take the colour statistics of random B faces, so the decoder of B never
        # has to learn A's lighting (DeepFaceLab's ct_mode=rct).
        ref = faces_b.images[rng.choice(len(faces_b), batch_size)]
        parts["a"][0] = reinhard_transfer(parts["a"][0], ref)
        parts["a"][1] = reinhard_transfer(parts["a"][1], ref)
    return Batch(iteration, *parts["a"], *parts["b"])


class BatchLoader:
    """Background threads producing the batches of iterations start, start+1, ... in order.

    Worker k makes iterations start+k, start+k+W, ... into its own bounded queue; `get` reads the
    queues round-robin, so order is fixed whatever the thread timing. OpenCV and NumPy release the
    GIL, so one or two workers keep up with a CPU training step at 64-128 px.
    """

    def __init__(self, start: int, make, workers: int = 1, depth: int = 3):
        self._make = make
        self._stop = threading.Event()
        self._queues = [queue.Queue(maxsize=depth) for _ in range(max(1, workers))]
        self._start = start
        self._next = start
        self._threads = [
            threading.Thread(target=self._work, args=(k, start), daemon=True, name=f"batch-loader-{k}")
            for k in range(len(self._queues))
        ]
        for t in self._threads:
            t.start()

    def _work(self, k: int, start: int) -> None:
        q = self._queues[k]
        it = start + k
        while not self._stop.is_set():
            try:
                item = self._make(it)
            except Exception as e:  # handed to the main thread, which re-raises it
                item = e
            while not self._stop.is_set():
                try:
                    q.put(item, timeout=0.5)
                    break
                except queue.Full:
                    continue
            if isinstance(item, Exception):
                return
            it += len(self._queues)

    def get(self, timeout: float = 120.0) -> Batch:
        q = self._queues[(self._next - self._start) % len(self._queues)]
        item = q.get(timeout=timeout)
        if isinstance(item, Exception):
            raise item
        self._next += 1
        return item

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)
