"""Face identity embeddings: dlib's 128-D face recognition ResNet (the `eval` extra: dlib-bin +
face-recognition-models; both fully offline, the weights ship inside the package).

Used by `swapstream eval`'s identity judge and by `--reference` (swap only chosen people).
The face is found by our FaceMesh landmarks: a box in the geometry of dlib's own HOG detector
(which its 5-point shape predictor was trained on), the predictor places dlib's 150x150 face
chip, and the ResNet embeds the chip. Distances are Euclidean; dlib calls two faces the same
person below ~0.6.

The chip is cheap (~0.7 ms); the ResNet costs ~60 ms on one core and holds the GIL throughout,
so live use runs it in another process (engine.face.embedding_worker).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

from swapstream.common.faceset import Faceset

EMBEDDING_DIM = 128
CHIP_SIZE = 150  # dlib's ResNet input
CHIP_PADDING = 0.25  # dlib's default context around the aligned face
# dlib's HOG box vs FaceMesh's landmark extent, measured on the six test clips: a square
# ~1.08x the mesh width (~0.9x its height), centred on the mesh's bounding box.
BOX_PER_MESH_WIDTH = 1.08
BOX_PER_MESH_HEIGHT = 0.90
EXTRA_MISSING = "the `eval` extra is missing (pip install 'swapstream[eval]')"


class EmbedderMissing(Exception):
    """dlib or its model files are not installed; the message says how to install them."""


def model_files() -> tuple[Path, Path]:
    """(shape predictor, ResNet) .dat files of face_recognition_models; EmbedderMissing if absent."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderMissing(f"{EXTRA_MISSING}: no face_recognition_models")
    models = Path(next(iter(spec.submodule_search_locations))) / "models"
    files = (models / "shape_predictor_5_face_landmarks.dat", models / "dlib_face_recognition_resnet_model_v1.dat")
    for f in files:
        if not f.is_file():
            raise EmbedderMissing(f"the `eval` extra is incomplete: {f} is missing")
    return files


def import_dlib():
    try:
        import dlib
    except ImportError:
        raise EmbedderMissing(f"{EXTRA_MISSING}: no dlib") from None
    return dlib


def faceset_picks(n: int, max_faces: int) -> np.ndarray:
    """Indices of up to max_faces faces spread evenly over a faceset of n (embed_faceset's order)."""
    return np.unique(np.linspace(0, n - 1, min(n, max_faces)).round().astype(int))


class ChipMaker:
    """dlib's aligned face chip from FaceMesh landmarks: the cheap half of an embedding."""

    def __init__(self) -> None:
        self._dlib = import_dlib()
        self._shape = self._dlib.shape_predictor(str(model_files()[0]))

    def chip(self, image_bgr: np.ndarray, points: np.ndarray) -> np.ndarray:
        """uint8 (150, 150, 3) RGB chip of the face whose (478, 2+) landmarks are `points`
        (pixels of image_bgr). Only the face's neighbourhood is converted, not the whole frame."""
        p = np.asarray(points, np.float64)[:, :2]
        (x0, y0), (x1, y1) = p.min(0), p.max(0)
        side = max(BOX_PER_MESH_WIDTH * (x1 - x0), BOX_PER_MESH_HEIGHT * (y1 - y0))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        h, w = image_bgr.shape[:2]
        # The chip reaches CHIP_PADDING beyond the box, more when the face is rolled: one side each way covers it.
        ox, oy = max(0, int(cx - side)), max(0, int(cy - side))
        window = image_bgr[oy : min(h, int(cy + side) + 1), ox : min(w, int(cx + side) + 1)]
        rgb = np.ascontiguousarray(window[:, :, ::-1])
        half = side / 2
        rect = self._dlib.rectangle(
            round(cx - ox - half), round(cy - oy - half), round(cx - ox + half), round(cy - oy + half)
        )
        shape = self._shape(rgb, rect)
        return np.asarray(self._dlib.get_face_chip(rgb, shape, CHIP_SIZE, CHIP_PADDING), np.uint8)


class ChipEmbedder:
    """The ResNet half: (150, 150, 3) RGB chip -> (128,) float32 embedding."""

    def __init__(self) -> None:
        self._net = import_dlib().face_recognition_model_v1(str(model_files()[1]))

    def describe(self, chip_rgb: np.ndarray) -> np.ndarray:
        return np.asarray(self._net.compute_face_descriptor(np.ascontiguousarray(chip_rgb)), np.float32)


class FaceEmbedder:
    """Embeds faces given their FaceMesh landmarks, in this process: (128,) float32 vectors."""

    def __init__(self) -> None:
        self._chips = ChipMaker()
        self._net = ChipEmbedder()

    def embed(self, image_bgr: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Embedding of the face whose (478, 2+) landmarks are `points` (pixels of image_bgr)."""
        return self._net.describe(self._chips.chip(image_bgr, points))

    def embed_faceset(self, faceset: Faceset, max_faces: int, progress: bool = False) -> np.ndarray:
        """(K, 128) embeddings of up to max_faces crops spread evenly over the faceset.

        The crops are tight (a 'whole' crop ends at the hairline); dlib's chip reaches a little
        beyond, so each crop is padded by a quarter of its size, edge-replicated as warp_face does.
        """
        picks = faceset_picks(len(faceset), max_faces)
        pad = faceset.size // 4
        from tqdm import tqdm

        out = []
        for i in tqdm(picks, desc="identity faces", unit="face", disable=not progress):
            crop = cv2.copyMakeBorder(faceset.image(int(i)), pad, pad, pad, pad, cv2.BORDER_REPLICATE)
            out.append(self.embed(crop, faceset.faces[int(i)].landmarks + pad))
        return np.stack(out)
