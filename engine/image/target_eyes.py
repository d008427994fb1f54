"""The target's own shut eyes through the driver's blinks.

A model trained for minutes may draw the target's eyes open while the driver's shut: d9 -> d18
followed none of d9's blinks (issue 28), and the finer detail added from the bank
(engine.image.target_detail) sharpens whatever lids the render drew. The target's faceset often
holds its own eyes shut and half shut. Here, while the driver's eye is shut, of the bank's
faces the one whose eyes fit the driver's best (pose, each eye's opening relative to its own
person's open eye, where the iris sits between the corners) is warped onto the driver's landmarks
(engine.face.neighbours.landmark_maps), its colour scaled to the render's skin around each eye,
and laid over the render's eye and lids, feathered. The pixels are the target's own; only their
placement is the driver's. Open eyes are left to the render (BLINK), and where no face of the
bank fits an eye (a target whose faceset never shuts its eyes) that eye's weight fades to 0.
Where the render's eye already looks more like the target's shut eye than its open one (a model
that follows blinks), it is left alone too (render_open), and so is a bank eye darker than the
render's (DARKER: a frown's shadowed socket).

Crops are uint8 BGR (S, S, 3); landmarks (478, 2|3) crop pixels at S.
"""

from __future__ import annotations

import cv2
import numpy as np
from swapstream.engine.face.neighbours import POSE_UNIT_DEG, StickyChoice
from swapstream.engine.face.openness import EYE_CLASSES, EYE_LIDS, OpenEyeTracker, eye_reference
from swapstream.engine.face.regions import LEFT_EYE, RIGHT_EYE, eye_lid_hull
from swapstream.engine.image.target_parts import TargetFaces, bent_part, part_region

EYES = (LEFT_EYE, RIGHT_EYE)  # each contour: outer corner first, inner corner at index 8
IRIS_CENTRES = (468, 473)  # FaceMesh's iris centre of each contour's eye
OPEN_UNIT = 0.15  # an eye's opening relative to its person's open eye, per match unit
GAZE_UNIT = 0.05  # the iris's offset from the corners' midpoint, in eye widths, per match unit
# An eye gets full weight while its own misfit (opening and gaze, in match units) is under FIT[0],
# none from FIT[1]: an open eye bent shut, or an iris dragged across the eye, smears.
FIT = (1.5, 3.0)
# Only where the driver's eye is shut, relative to its person's open eye: from BLINK_BAND either
# side of the closed class's bound (engine.face.openness.EYE_CLASSES), none above, full below.
# Reaching up to the open class's bound (0.75), the target's half-shut eyes were laid where d14
# looks down, and d14 -> d6 was recognised as d6 less often (92 -> 85%); laid over open eyes too,
# the target's own sharp eyes in the render's soft face cost more (92 -> 70%)
# (benchmarks/results_log/2026-12-07-eyes-laid.md).
BLINK_BAND = 0.1
BLINK = (EYE_CLASSES[0][1] + BLINK_BAND, EYE_CLASSES[0][1] - BLINK_BAND)
EYE_GROW = 0.2  # the region laid over: the lids' hull grown by this x the eye's width, eased out over as much
RING_GROW = (0.25, 0.6)  # the skin ring whose colour is matched: between the hull grown by these
_TRACKS_KEPT = 16
# The render's eye is compared with the target's open and shut ones blurred by RENDER_BLUR x the
# eye's width, and laid over where it is nearer the open one, not where it is nearer the shut one
# (a model that follows blinks keeps its own lids), the weight ramping over RENDER_MARGIN in r
# either side: a wider ramp (0.1) left half-laid lids with the render's iris showing through.
RENDER_BLUR = 0.08
RENDER_MARGIN = 0.02
# A shut lid is no darker than the open eye it covers (no iris, no socket in shadow): where the bank
# face's eye, colour-matched, is under DARKER[0] of the render's eye's brightness, its weight fades,
# gone at DARKER[1]. d3's shut eyes are frowns with the socket in shadow; laid over s18's relaxed
# blink they drew a dark blob (benchmarks/results_log/2026-12-07-eyes-laid.md).
DARKER = (0.9, 0.8)
# A face's eyes are kept while within this x the nearest's distance + STICKY[1] units: less than
# the mouth's (1.3, 0.25), since a blink passes in a few frames and a kept face would lag it.
STICKY = (1.1, 0.1)


def eye_shapes(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(opening, gaze) of each eye of landmarks (N, 478, 2+): opening float64 (N, 2), the lid gap
    over the eye's width; gaze float64 (N, 2, 2), the iris centre's offset from the corners'
    midpoint, along and across the corners' line, in eye widths. Eyes in EYES order."""
    p = np.asarray(landmarks, np.float64)[..., :2]
    opening, gaze = np.empty((len(p), 2)), np.empty((len(p), 2, 2))
    for e, (contour, iris, lids) in enumerate(zip(EYES, IRIS_CENTRES, EYE_LIDS)):
        a, b = p[:, contour[0]], p[:, contour[8]]
        along = b - a
        width = np.maximum(np.linalg.norm(along, axis=1), 1e-6)
        ux = along / width[:, None]
        uy = np.stack([-ux[:, 1], ux[:, 0]], axis=1)
        rel = p[:, iris] - (a + b) / 2
        opening[:, e] = np.linalg.norm(p[:, lids[0]] - p[:, lids[1]], axis=1) / width
        gaze[:, e, 0] = np.sum(rel * ux, axis=1) / width
        gaze[:, e, 1] = np.sum(rel * uy, axis=1) / width
    return opening, gaze


class TargetEyes:
    """Lays the best-fitting eyes of `faces` over swapped crops; remembers each track's face and
    each tracked eye's open opening (bounded)."""

    def __init__(self, faces: TargetFaces):
        self.faces = faces
        opening, self.gaze = eye_shapes(faces.landmarks)
        self.relative = opening / np.maximum([eye_reference(opening[:, e]) for e in range(2)], 1e-6)
        self._chosen = StickyChoice(*STICKY, tracks=_TRACKS_KEPT)
        self._driver_open = OpenEyeTracker(tracks=2 * _TRACKS_KEPT)

    def distances(
        self, points: np.ndarray, pose: tuple[float, float], track: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(distance float64 (N,), misfit float64 (N, 2), relative float64 (2,)) of every face from
        the driver's eyes, in match units: distance over yaw, pitch and both eyes' opening and
        gaze; misfit each eye's opening and gaze alone; relative the driver's openings, each over
        this track's own open eye (engine.face.openness.OpenEyeTracker; an untracked face's count
        as open)."""
        opening, gaze = eye_shapes(np.asarray(points, np.float64)[None])
        relative = np.array(
            [self._driver_open.relative(2 * track + e if track >= 0 else -1, opening[0, e]) for e in range(2)]
        )
        open_diff = (self.relative - relative[None]) / OPEN_UNIT
        gaze_diff = np.linalg.norm(self.gaze - gaze, axis=2) / GAZE_UNIT
        misfit = np.sqrt(np.square(open_diff) + np.square(gaze_diff))
        f = self.faces.features
        pose_sq = np.square(f[:, 0] - pose[0] / POSE_UNIT_DEG) + np.square(f[:, 1] - pose[1] / POSE_UNIT_DEG)
        return np.sqrt(pose_sq + np.mean(np.square(misfit), axis=1)), misfit, relative

    def lay_over(
        self,
        crop: np.ndarray,
        points: np.ndarray,
        alpha: np.ndarray,
        pose: tuple[float, float],
        amount: float,
        track: int = -1,
    ) -> tuple[float, float]:
        """crop: uint8 (S, S, 3) BGR (a view is fine), changed in place over the eyes; points:
        (478, 2|3) crop px; alpha: uint8 (S, S) the blend mask x 255, where the colour rings are
        read; amount in [0, 1]. Returns the weight laid on each eye (EYES order; 0: untouched)."""
        pts = np.asarray(points, np.float64)[:, :2]
        dist, misfit, relative = self.distances(pts, pose, track)
        i = self._chosen.pick(track, dist)
        laid = []
        faces = None
        for e, contour in enumerate(EYES):
            fit = min(max((FIT[1] - misfit[i, e]) / (FIT[1] - FIT[0]), 0.0), 1.0)
            shut = min(max((BLINK[0] - relative[e]) / (BLINK[0] - BLINK[1]), 0.0), 1.0)
            weight = amount * fit * shut
            if weight > 0 and faces is None:
                faces = (i, self.open_face(pose))
            laid.append(self._lay_eye(crop, pts, alpha, faces, contour, weight) if weight > 0 else 0.0)
        return laid[0], laid[1]

    def open_face(self, pose: tuple[float, float]) -> int:
        """The bank face whose eyes are most open for their person at the pose nearest (yaw, pitch)."""
        f = self.faces.features
        pose_sq = np.square(f[:, 0] - pose[0] / POSE_UNIT_DEG) + np.square(f[:, 1] - pose[1] / POSE_UNIT_DEG)
        return int(np.argmin(pose_sq + np.mean(np.square((self.relative - 1.0) / OPEN_UNIT), axis=1)))

    def render_open(self, mine, shut_face, region, pts, contour, box, j: int) -> float:
        """In [0, 1]: how much more the render's eye (mine, float32 BGR over box) looks like the
        target's open eye (bank face j placed by its corners) than like its shut one (shut_face,
        the chosen face warped there): 0 where the render already shuts it, so a model that
        follows blinks keeps its own lids. Compared coarsely: grey, blurred by RENDER_BLUR eye
        widths, Pearson r over the region's core."""
        x0, y0, x1, y1 = box
        corners = [contour[0], contour[8]]
        m = corner_similarity(self.faces.landmarks[j][corners], pts[corners])
        m[:, 2] -= (x0, y0)
        open_face = cv2.warpAffine(
            self.faces.images[j], m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        ).astype(np.float32)
        sigma = RENDER_BLUR * float(np.linalg.norm(pts[corners[0]] - pts[corners[1]]))
        core = region >= 0.5

        def coarse(bgr: np.ndarray) -> np.ndarray:
            v = cv2.GaussianBlur(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), (0, 0), sigma)[core]
            return v - v.mean()

        render = coarse(mine)
        r_open, r_shut = (_pearson(render, coarse(face)) for face in (open_face, shut_face))
        return min(max(0.5 + (r_open - r_shut) / (2 * RENDER_MARGIN), 0.0), 1.0)

    def _lay_eye(self, crop, pts, alpha, faces: tuple[int, int], contour, weight: float) -> float:
        """One eye of bank face i over crop, with weight, as far as the render's eye looks more
        like the target's open eye j than like i (faces = (i, j), render_open) and i's eye,
        colour-matched, is not darker than the render's (DARKER); returns the weight laid."""
        i, j = faces
        bent = bent_part(self.faces, i, crop, pts, alpha, eye_region(pts, contour, crop.shape[0]))
        if bent is None:
            return 0.0
        laying, raw = bent
        weight *= self.render_open(laying.mine, raw, laying.region, pts, contour, laying.box, j)
        if weight <= 0:
            return 0.0
        core = laying.region >= 0.5
        theirs, mine = (float(np.mean(v[core].sum(axis=1))) for v in (laying.theirs, laying.mine))
        brightness = theirs / max(mine, 1.0)
        weight *= min(max((brightness - DARKER[1]) / (DARKER[0] - DARKER[1]), 0.0), 1.0)
        if weight > 0:
            laying.lay(crop, weight)
        return weight


def corner_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """float64 (2, 3): the similarity (rotation, scale, shift) taking the two points src (2, 2) onto dst (2, 2)."""
    s, d = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    z = complex(*(d[1] - d[0])) / complex(*(s[1] - s[0]))
    a = np.array([[z.real, -z.imag], [z.imag, z.real]])
    return np.hstack([a, (d[0] - a @ s[0])[:, None]])


def eye_region(
    points: np.ndarray, contour: tuple[int, ...], size: int
) -> tuple[np.ndarray | None, np.ndarray, tuple[int, int, int, int]]:
    """(weight, ring, box) of one eye (contour: LEFT_EYE or RIGHT_EYE) of points ((478, 2|3) crop
    px) in a (size, size) crop (engine.image.target_parts.part_region): weight 1 within EYE_GROW x
    the eye's width of its lids' hull (engine.face.regions.eye_lid_hull: open or shut, where the
    lids are), easing to 0 at twice that; ring the skin between RING_GROW widths of the hull."""
    pts = np.asarray(points, np.float32)[:, :2]
    width = float(np.linalg.norm(pts[contour[0]] - pts[contour[8]]))
    hull = eye_lid_hull(pts * 16, contour).reshape(-1, 2) / 16.0
    return part_region(hull, width, EYE_GROW * width, RING_GROW, size, convex=True)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    den = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return float(np.dot(a, b) / den) if den > 1e-9 else 0.0
