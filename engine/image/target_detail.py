"""Detail from the target: the fine structure of the target's own faces, never the driver's.

A model trained for minutes renders a soft face; the detail it lacks (lashes, lid creases, brow
hairs, nostril rims, skin texture) used to be taken from the driving frame, so the viewer saw the
driver's eyes and brows on the target's face (issue 28: the swap's fine structure correlated
about 0.7 with the driver's). Here it comes from a detail bank: up to BANK_FACES faces of the
target's faceset, spread over its poses and expressions (engine.face.neighbours). For each face
of each frame the bank face nearest in yaw, pitch, eye and mouth opening is warped onto the
driving face's landmarks, and its grey high-pass band (finer than DETAIL_BAND_CELLS cells of the
model's input grid) is added to the swapped crop enlarged to the bank's size: the face is pasted
from that larger crop, so the band finer than the model's output pixels is the target's too. In
each octave only as much of the band is added as brings the render's energy there up to the bank
face's (matched_band), so a model that draws its own gets little on top. A face keeps its bank
face while it stays near the nearest (StickyChoice), so the texture does not hop between
neighbours frame to frame. Over the eyes' lids a wider band of that face replaces the render's,
where its eye opening is the driver's: a model trained for minutes draws open eyes through a
blink, the target's own face shut ones. Where its eye opening is far from the driver's, nothing of
it is added over the lids, not even the finer band: an open eye's lashes and lid creases laid on a
render that shuts its eyes drew open, pale-rimmed eyes through the driver's blinks (d14 -> d6).

Crops are uint8 BGR; landmarks (478, 2|3) crop pixels; masks float32 in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from swapstream.engine.face.neighbours import (
    StickyChoice,
    faceset_features,
    landmark_maps,
    landmark_warp,
    match_features,
    spread_subset,
)
from swapstream.engine.face.openness import OpenEyeTracker, eye_reference
from swapstream.engine.face.regions import LEFT_EYE, RIGHT_EYE, eye_lid_hull
from swapstream.engine.image import bands
from swapstream.engine.image.bands import grid_band, matched_band
from swapstream.engine.image.blend import support_box
from swapstream.engine.image.target_eyes import TargetEyes
from swapstream.engine.image.target_mouth import TargetMouth
from swapstream.engine.image.target_parts import load_target_faces

from swapstream.common.errors import user_error
from swapstream.common.faceset import Faceset

BANK_FACES = 64
DETAIL_BANK_SUFFIX = ".detail"  # MODEL.onnx's bank: the faceset folder MODEL.detail beside it
DRIVER_DETAIL = "driver"  # detail_from naming the driver's own detail (engine.image.detail), which leaks
# Over the lids the target's band reaches this many cells of the model's grid, so the nearest
# target face's own lids (shut when the driver's are) replace the render's, which after minutes of
# training stay open (benchmarks/results_log/2026-12-07-eyes.md); 0: only the finer band.
EYE_BAND_CELLS = 4.0
EYE_MATCH_UNITS = 1.0  # ... faded out as the bank face's eye opening differs from the driver's by this
# many units of engine.face.neighbours.EYE_UNIT
# Over the lids the finer band too fades out as the bank face's eye is more open than the driver's,
# each relative to its own person's open eye (engine.face.openness): from this much more open to
# this much (a blink is 0.6 and more), so a blink shows the render's own lids. Nearer openings keep
# it, as the landmark warp puts those lashes about where the driver's are. Fading from 1 EYE_UNIT
# apart either way cost own sharpness 0.10 on d14 -> d6, (0.2, 0.45) followed fewer blinks (62
# against 79% of d14's), and absolute openings faded it on a target whose eyes are smaller than
# the driver's (d6 -> d3) (benchmarks/results_log/2026-12-07-blinks.md).
EYE_FADE = (0.1, 0.3)
EYE_FEATHER = 0.02  # the lid weight's feather, Gaussian sigma as a share of the crop
EYE_WEIGHT_SHRINK = 2  # the lid weight is drawn on a grid this many times coarser than the crop
# The bank's band reaches this many grid cells (matched_band): a render trained for minutes lacks much
# of the octave from one cell to two too (benchmarks/results_log/2026-12-07-octaves.md). 1: one cell.
DETAIL_BAND_CELLS = 2.0
_TRACKS_KEPT = 16  # remembered choices (one per tracked face)
# Cells of the model's input grid around the face's support whose band sharpen_bgra computes: a
# band pixel's bicubic taps read the cell averages up to 2 cells either side of its own, and
# beyond the cut's edge OpenCV replicates the edge cell; with 2 cells every tap inside the support
# reads a real cell, so the band there is the whole crop's (tests/test_bank_paste.py; 1 is not).
BAND_MARGIN_CELLS = 2


@dataclass(frozen=True)
class DetailBank:
    """size: side of the bank's crops (the faceset's); greys: float32 (N, size, size) grey crops;
    landmarks: float32 (N, 478, 2) crop px; features: float64 (N, 4) match features; eye_open:
    the person's open eye in match units (engine.face.openness.eye_reference of the whole
    faceset's; 0: of these faces')."""

    path: Path
    face_type: str
    size: int
    greys: np.ndarray
    landmarks: np.ndarray
    features: np.ndarray
    eye_open: float = 0.0


def load_detail_bank(path: Path, face_type: str, min_size: int, count: int = BANK_FACES) -> DetailBank:
    """The bank of the target faceset at `path`: its faces must be of the model's face type and at
    least min_size px (the model's output resolution); UserError naming the path otherwise."""
    fs = Faceset.open(path)
    if not len(fs):
        raise user_error(path, "lists no faces: a detail source needs the target's faces")
    if fs.face_type != face_type:
        raise user_error(path, f"holds {fs.face_type} faces; the model swaps {face_type} faces")
    if fs.size < min_size:
        raise user_error(path, f"holds {fs.size} px faces, smaller than the model's {min_size} px render")
    features = faceset_features(fs.faces)
    keep = spread_subset(features, count)
    greys = np.stack([cv2.cvtColor(fs.image(int(i)), cv2.COLOR_BGR2GRAY).astype(np.float32) for i in keep])
    landmarks = np.stack([fs.faces[int(i)].landmarks[:, :2] for i in keep]).astype(np.float32)
    return DetailBank(path, fs.face_type, fs.size, greys, landmarks, features[keep], eye_reference(features[:, 2]))


class TargetDetail:
    """Adds the bank's detail to swapped crops; remembers each track's bank face (bounded)."""

    def __init__(
        self, bank: DetailBank, grid_resolution: int, mouth: TargetMouth | None = None, eyes: TargetEyes | None = None
    ):
        """mouth, eyes: the target's own mouths and eyes from the same faces
        (engine.image.target_mouth, target_eyes), which the blend stage lays over the sharpened
        crop; None: none."""
        self.bank = bank
        self.mouth, self.eyes = mouth, eyes
        self.cell = bank.size / grid_resolution  # bank pixels per cell of the model's input grid
        self._chosen = StickyChoice(tracks=_TRACKS_KEPT)
        self._driver_eyes = OpenEyeTracker(tracks=_TRACKS_KEPT)
        self._bank_eye_open = bank.eye_open or eye_reference(bank.features[:, 2])
        self._packed: np.ndarray | None = None  # sharpen_bgra's output, reused frame to frame
        self._sharp: np.ndarray | None = None  # ... and the sharpened face before its alpha

    def choose(self, track: int, query: np.ndarray) -> int:
        """The bank face for a face of this track with match features `query` (4,), kept while it
        stays near the nearest (engine.face.neighbours.StickyChoice)."""
        return self._chosen.pick(track, np.linalg.norm(self.bank.features - query[None, :], axis=1))

    def _eye_agreement(self, i: int, driver_eyes: float, track: int) -> tuple[float, float]:
        """(match, keep), each in [0, 1], of bank face i's eye opening and the driver's
        (driver_eyes: its match feature): match weighs the bank face's lids (1 when the openings
        are equal, 0 from EYE_MATCH_UNITS apart); keep its finer band over the lids (1 unless its
        eye is more open than the driver's, each relative to its person's open eye, by EYE_FADE)."""
        bank_eyes = float(self.bank.features[i, 2])
        match = min(max(1.0 - abs(bank_eyes - driver_eyes) / EYE_MATCH_UNITS, 0.0), 1.0)
        bank_rel = bank_eyes / self._bank_eye_open if self._bank_eye_open > 0 else 1.0
        more_open = bank_rel - self._driver_eyes.relative(track, driver_eyes)
        keep = min(max((EYE_FADE[1] - more_open) / (EYE_FADE[1] - EYE_FADE[0]), 0.0), 1.0)
        return match, keep

    def sharpen(
        self,
        swapped: np.ndarray,
        crop_points: np.ndarray,
        weight: np.ndarray,
        pose: tuple[float, float],
        amount: float,
        track: int = -1,
    ) -> np.ndarray:
        """uint8 (S, S, 3), S = the bank's size: swapped (uint8 (R, R, 3) BGR, R <= S) enlarged
        bicubically plus weight (float32 (R, R) in [0, 1], enlarged too) x the nearest bank face's
        grey band warped onto crop_points ((478, 2|3) px of the R crop), each octave scaled by
        amount x its band_gain (matched_band); over the eyes' lids (`eye_weight`) the render's grey
        band up to EYE_BAND_CELLS grid cells is replaced by that face's as far as its eye opening
        matches the driver's, and where the two are far apart (a blink) nothing is added there,
        the render's own lids (_eye_agreement). track: the face's track (-1: untracked, whose open
        eye is unknown: no fading). pose: the face's (yaw, pitch) in degrees. The plain statement
        of what the blend stage's sharpen_bgra does in fewer passes: its reference (tests/test_bank_paste.py)."""
        size, r = self.bank.size, swapped.shape[0]
        k = size / r
        pts = np.asarray(crop_points, np.float64)[:, :2] * k
        big = swapped if r == size else cv2.resize(swapped, (size, size), interpolation=cv2.INTER_CUBIC)
        w = cv2.resize(np.ascontiguousarray(weight, np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
        if amount <= 0 or not w.any():
            return big
        query = match_features(pts, *pose)
        i = self.choose(track, query)
        warped = landmark_warp(self.bank.greys[i], self.bank.landmarks[i], pts)
        grey = cv2.cvtColor(big, cv2.COLOR_BGR2GRAY)
        add = matched_band(warped, grey, w, self.cell, DETAIL_BAND_CELLS, amount)
        # The bank face's lids only where they are the driver's: a face kept through a blink
        # (StickyChoice), or a bank without shut eyes, would draw open lids over a render that shuts.
        match, keep = self._eye_agreement(i, query[2], track)
        if EYE_BAND_CELLS > 0:
            eyes = cv2.multiply(eye_weight(pts, size), w)
            cells = self.cell * EYE_BAND_CELLS
            lids = grid_band(warped, cells) - grid_band(grey, cells) if match > 0 else 0.0
            add = add + cv2.multiply(eyes, match * min(amount, 1.0) * (lids - add) - (1.0 - keep) * add)
        return cv2.add(big, cv2.merge((add, add, add)), dtype=cv2.CV_8U)  # rounds, saturates

    def sharpen_bgra(
        self,
        swapped: np.ndarray,
        crop_points: np.ndarray,
        weight: np.ndarray,
        mask: np.ndarray,
        pose: tuple[float, float],
        amount: float,
        track: int = -1,
    ) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        """sharpen's face packed with its mask as alpha, for engine.image.blend.paste_bgra: (uint8
        (S, S, 4) BGRA, the support box of the mask enlarged to S). mask: float32 (R, R) in [0, 1],
        >= weight, enlarged bilinearly and rounded to 1/255 (as blend.warp_bgra does). The same
        pixels as sharpen followed by warp_bgra's packing, within one level (float rounding), in
        fewer passes: the bank face is warped and its band taken only around the mask's support
        (where weight can be > 0), the lids' coarser band only around the eyes (each in a box
        aligned to its band's cells), and the band is added, rounded and packed in one buffer. The array
        is a buffer this object reuses: valid until the next call."""
        size, r = self.bank.size, swapped.shape[0]
        k = size / r
        big = swapped if r == size else cv2.resize(swapped, (size, size), interpolation=cv2.INTER_CUBIC)
        alpha = np.ascontiguousarray(mask, np.float32)
        if r != size:
            alpha = cv2.resize(alpha, (size, size), interpolation=cv2.INTER_LINEAR)
        support = support_box(alpha)
        if self._packed is None or self._packed.shape[0] != size:
            self._packed, self._sharp = np.empty((size, size, 4), np.uint8), np.empty((size, size, 3), np.uint8)
        add, at = _NO_BAND, (0, 0)
        if amount > 0 and support[2] > support[0]:
            pts = np.asarray(crop_points, np.float64)[:, :2] * k
            query = match_features(pts, *pose)
            i = self.choose(track, query)
            match, keep = self._eye_agreement(i, query[2], track)
            fine = self._band_box(support, DETAIL_BAND_CELLS)
            # The lids' coarser band is taken only around the eyes (in a box aligned to it), the
            # finer band around the mask: the bank face is warped over the two boxes' union.
            eyes_box = lid_weight = None
            if EYE_BAND_CELLS > 0 and (match > 0 or keep < 1):
                lid_weight = eye_weight(pts, size)
                core = _intersection(support_box(lid_weight), support)
                if core[2] > core[0] and core[3] > core[1]:
                    eyes_box = self._band_box(core, EYE_BAND_CELLS) if match > 0 else core
            box = fine if eyes_box is None or match <= 0 else _union(fine, eyes_box)
            w = cv2.resize(np.ascontiguousarray(weight, np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
            w_fine = np.ascontiguousarray(_cut(w, fine))
            if w_fine.any():
                map_x, map_y = landmark_maps(self.bank.landmarks[i], pts, size, box)
                flags = {"interpolation": cv2.INTER_CUBIC, "borderMode": cv2.BORDER_REPLICATE}
                warped = cv2.remap(self.bank.greys[i], map_x, map_y, **flags)
                grey = cv2.cvtColor(_cut(big, box), cv2.COLOR_BGR2GRAY)
                warped_fine, grey_fine = _cut(warped, fine, box), _cut(grey, fine, box)
                add = matched_band(
                    np.ascontiguousarray(warped_fine), grey_fine, w_fine, self.cell, DETAIL_BAND_CELLS, amount
                )
                if eyes_box is not None:  # as sharpen: the bank face's lids where its opening is the driver's
                    lids = (_cut(warped, eyes_box, box), _cut(grey, eyes_box, box)) if match > 0 else None
                    self._add_lids(add, fine, eyes_box, lids, lid_weight, w, min(amount, 1.0), (match, keep))
                at = (fine[1], fine[0])
        _pack(self._packed, self._sharp, big, alpha, add, at)
        return self._packed, support

    def _add_lids(self, add, fine, eyes_box, lids, lid_weight, weight, strength: float, agreement) -> None:
        """add (float32, the band over box `fine`) += eyes x (match x strength x (the bank face's
        band up to EYE_BAND_CELLS cells - add) - (1 - keep) x add), in place, where eyes =
        lid_weight x weight (float32 (S, S) each) and (match, keep) = agreement (_eye_agreement);
        lids: (the bank face warped, the render's grey) over eyes_box, a box aligned to that
        coarser band, or None when match is 0 (then the band is only faded over the lids)."""
        match, keep = agreement
        both = _intersection(fine, eyes_box)
        if both[2] <= both[0] or both[3] <= both[1]:
            return
        eyes = cv2.multiply(_cut(lid_weight, both), _cut(weight, both))
        mine = _cut(add, both, fine)
        if lids is None:
            mine -= cv2.multiply(eyes, mine, scale=1.0 - keep)
            return
        cells = self.cell * EYE_BAND_CELLS
        band = _cut(grid_band(lids[0], cells) - grid_band(lids[1], cells), both, eyes_box)
        if keep < 1:
            mine += cv2.multiply(eyes, match * strength * (band - mine) - (1.0 - keep) * mine)
        else:  # the common case, in fewer passes
            mine += cv2.multiply(eyes, band - mine, scale=match * strength)

    def _band_box(self, support: tuple[int, int, int, int], cells: float = 1.0) -> tuple[int, int, int, int]:
        """The support box grown by BAND_MARGIN_CELLS cells of `cells` grid cells each and aligned
        to them, so bands of that coarseness (and finer) are the whole crop's inside the support;
        the whole crop when such cells are not whole pixels."""
        size, cell = self.bank.size, self.cell * cells
        step = round(cell)
        if abs(cell - step) > 1e-9 or size % step:
            return 0, 0, size, size
        grow = BAND_MARGIN_CELLS * step
        x0, y0 = (max(v - grow, 0) // step * step for v in support[:2])
        x1, y1 = (min(-(-(v + grow) // step) * step, size) for v in support[2:])
        return x0, y0, x1, y1


_NO_BAND = np.zeros((0, 0), np.float32)
Box = tuple[int, int, int, int]  # (x0, y0, x1, y1), half-open pixels


def _cut(image: np.ndarray, box: Box, origin: Box = (0, 0, 0, 0)) -> np.ndarray:
    """The view of `image` (whose pixel (0, 0) is origin's corner) over `box`."""
    return image[box[1] - origin[1] : box[3] - origin[1], box[0] - origin[0] : box[2] - origin[0]]


def _intersection(a: Box, b: Box) -> Box:
    return max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])


def _union(a: Box, b: Box) -> Box:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _pack(out: np.ndarray, sharp: np.ndarray, big: np.ndarray, mask: np.ndarray, add: np.ndarray, at) -> None:
    """out (S, S, 4) = big's B, G, R with add (float32 (h, w)) added over its box at `at` (y0, x0),
    rounded and saturated, and round(255 mask) as alpha; sharp: a (S, S, 3) uint8 buffer. OpenCV's
    vectorised add, split and merge: half the time of one Numba pass (0.09 against 0.18 ms per 256
    px crop), and the rounding of TargetDetail.sharpen itself."""
    np.copyto(sharp, big)
    if add.size:
        box = sharp[at[0] : at[0] + add.shape[0], at[1] : at[1] + add.shape[1]]
        cv2.add(box, cv2.merge((add, add, add)), dst=box, dtype=cv2.CV_8U)
    cv2.merge((*cv2.split(sharp), cv2.convertScaleAbs(mask, alpha=255.0)), dst=out)


def warmup() -> None:
    """Compile (or load the cached) kernels before the first frame."""
    bands.warmup()


def eye_weight(points: np.ndarray, size: int) -> np.ndarray:
    """float32 (size, size) in [0, 1]: 1 over both eyes' lids (engine.face.regions.eye_lid_hull of
    points (478, 2|3) px), feathered outward over EYE_FEATHER x size: the hulls are grown by that
    much before the blur, so a shut eye's narrow hull is covered too (blurred as drawn, it peaked
    at 0.8 and let an open bank eye's band show through a blink). Drawn and feathered on a grid
    EYE_WEIGHT_SHRINK times coarser and enlarged bilinearly: a feather needs no finer grid, and
    blurring the full crop cost 0.37 ms per face."""
    n = max(1, round(size / EYE_WEIGHT_SHRINK))
    on_grid = (np.asarray(points, np.float64)[:, :2] + 0.5) * (n / size) * 16 - 8  # 4 fractional bits
    small = np.zeros((n, n), np.float32)
    sigma = EYE_FEATHER * n
    for eye in (LEFT_EYE, RIGHT_EYE):
        hull = eye_lid_hull(on_grid, eye)
        cv2.fillConvexPoly(small, hull, 1.0, shift=4)
        if sigma > 0:  # grown by sigma: the hull and a line that wide along its edge (a dilation, cheaper)
            cv2.polylines(small, [hull], True, 1.0, thickness=2 * max(1, round(sigma)) + 1, shift=4)
    if sigma > 0:
        small = cv2.GaussianBlur(small, (0, 0), sigma)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)


def target_detail_from(path: Path, contract) -> TargetDetail:
    """The TargetDetail of the faceset at `path` for a model of `contract` (engine.runtime.contract)."""
    bank = load_detail_bank(path, contract.face_type, contract.output_resolution)
    faces = load_target_faces(path)
    grid = contract.grid_resolution or contract.output_resolution
    return TargetDetail(bank, grid, TargetMouth(faces), TargetEyes(faces))


def detail_beside(model) -> TargetDetail | None:
    """The TargetDetail of the detail bank beside `model` (MODEL.detail), or None."""
    beside = Path(model.path).with_suffix(DETAIL_BANK_SUFFIX)
    return target_detail_from(beside, model.contract) if beside.is_dir() else None
