"""Identity judge: dlib's 128-D face recognition ResNet, independent of the swap model.

dlib is optional (the `eval` extra: dlib-bin + face-recognition-models). The judge finds the
face with our FaceMesh landmarks (a box in the geometry of dlib's own HOG detector, which its
shape predictor was trained on), lets dlib's 5-point predictor place the face chip, and embeds
it. Distances are Euclidean; dlib calls two faces the same person below ~0.6.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from swapstream.common.faceset import Faceset

EMBEDDING_DIM = 128
# dlib's HOG box vs FaceMesh's landmark extent, measured on the six test clips: a square
# ~1.08x the mesh width (~0.9x its height), centred on the mesh's bounding box.
BOX_PER_MESH_WIDTH = 1.08
BOX_PER_MESH_HEIGHT = 0.90
# dlib's own same-person tolerance (pairwise; a face is nearer than that to its person's mean).
# "Nearer the target than the driver" alone would also count a face that looks like nobody.
SAME_PERSON_DISTANCE = 0.6
# A judge whose two identity clouds are not clearly apart cannot say whose face it sees.
TRUSTED_SEPARATION = 1.5


class JudgeMissing(Exception):
    """dlib or its model files are not installed; the message says how to install them."""


def _model_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise JudgeMissing("the `eval` extra is missing (pip install 'swapstream[eval]'): no face_recognition_models")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class IdentityJudge:
    """Embeds faces given their FaceMesh landmarks: (128,) float32 vectors."""

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError:
            raise JudgeMissing("the `eval` extra is missing (pip install 'swapstream[eval]'): no dlib") from None
        models = _model_dir()
        shape_file = models / "shape_predictor_5_face_landmarks.dat"
        net_file = models / "dlib_face_recognition_resnet_model_v1.dat"
        for f in (shape_file, net_file):
            if not f.is_file():
                raise JudgeMissing(f"the `eval` extra is incomplete: {f} is missing")
        self._dlib = dlib
        self._shape = dlib.shape_predictor(str(shape_file))
        self._net = dlib.face_recognition_model_v1(str(net_file))

    def embed(self, image_bgr: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Embedding of the face whose (478, 2+) landmarks are `points` (pixels of image_bgr)."""
        p = np.asarray(points, np.float64)[:, :2]
        (x0, y0), (x1, y1) = p.min(0), p.max(0)
        side = max(BOX_PER_MESH_WIDTH * (x1 - x0), BOX_PER_MESH_HEIGHT * (y1 - y0))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        rect = self._dlib.rectangle(
            round(cx - side / 2), round(cy - side / 2), round(cx + side / 2), round(cy + side / 2)
        )
        rgb = np.ascontiguousarray(image_bgr[:, :, ::-1])
        shape = self._shape(rgb, rect)
        return np.asarray(self._net.compute_face_descriptor(rgb, shape), np.float32)

    def embed_faceset(self, faceset: Faceset, max_faces: int, progress: bool = False) -> np.ndarray:
        """(K, 128) embeddings of up to max_faces crops spread evenly over the faceset.

        The crops are tight (a 'whole' crop ends at the hairline); dlib's chip reaches a little
        beyond, so each crop is padded by a quarter of its size, edge-replicated as warp_face does.
        """
        n = len(faceset)
        picks = np.unique(np.linspace(0, n - 1, min(n, max_faces)).round().astype(int))
        pad = faceset.size // 4
        from tqdm import tqdm

        out = []
        for i in tqdm(picks, desc="identity faces", unit="face", disable=not progress):
            crop = cv2.copyMakeBorder(faceset.image(int(i)), pad, pad, pad, pad, cv2.BORDER_REPLICATE)
            out.append(self.embed(crop, faceset.faces[int(i)].landmarks + pad))
        return np.stack(out)


@dataclass(frozen=True)
class IdentityResult:
    """Whose face the swapped frames show, per the judge, and how far to trust it."""

    frames_judged: int
    share_nearer_target: float
    share_recognised_as_target: float  # distance to the target mean below SAME_PERSON_DISTANCE
    mean_distance_to_target: float
    mean_distance_to_driving: float
    identity_distance: float  # between the target's and the driving person's mean embeddings
    target_spread: float  # mean distance of the target's faces to their own mean
    driving_spread: float
    separation: float  # identity_distance / the larger spread
    trusted: bool
    target_faces: int
    driving_faces: int


def judge_identity(
    target: np.ndarray, driving: np.ndarray, swapped: np.ndarray
) -> tuple[IdentityResult, np.ndarray, np.ndarray]:
    """Compare swapped embeddings with both identities.

    target: (K, 128) faceset embeddings; driving: (M, 128) driving-video embeddings;
    swapped: (N, 128) swapped-video embeddings (N >= 1). Returns the summary and the per-frame
    distances (N,) to the target mean and to the driving mean.
    """
    mt, md = target.mean(0), driving.mean(0)
    to_target = np.linalg.norm(swapped - mt, axis=1)
    to_driving = np.linalg.norm(swapped - md, axis=1)
    between = float(np.linalg.norm(mt - md))
    spread_t = float(np.linalg.norm(target - mt, axis=1).mean())
    spread_d = float(np.linalg.norm(driving - md, axis=1).mean())
    separation = between / max(spread_t, spread_d, 1e-6)
    result = IdentityResult(
        frames_judged=len(swapped),
        share_nearer_target=float((to_target < to_driving).mean()),
        share_recognised_as_target=float((to_target < SAME_PERSON_DISTANCE).mean()),
        mean_distance_to_target=float(to_target.mean()),
        mean_distance_to_driving=float(to_driving.mean()),
        identity_distance=between,
        target_spread=spread_t,
        driving_spread=spread_d,
        separation=separation,
        trusted=separation >= TRUSTED_SEPARATION,
        target_faces=len(target),
        driving_faces=len(driving),
    )
    return result, to_target, to_driving
