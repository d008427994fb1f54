"""Who `--reference` means: a photo or a faceset -> engine.face.people.Reference.

A photo gives one embedding (of its largest face); a faceset (made by `swapstream extract`)
gives up to MAX_FACESET_FACES spread over it, which covers more poses and lighting than a photo
and so recognises the person more reliably. Embedding runs here once, before the first frame.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
from swapstream.engine.face.embedding import FaceEmbedder
from swapstream.engine.face.people import Reference

from swapstream.common.errors import user_error
from swapstream.common.faceset import MANIFEST, Faceset

log = logging.getLogger(__name__)

MAX_FACESET_FACES = 32


def load_reference(path: str | Path, target: int, embedder: FaceEmbedder, finder) -> Reference:
    """The Reference of a photo or faceset folder; UserError naming the file when it holds no face.

    target: index of the model that swaps this person; finder: an engine.face.tracking.FaceFinder."""
    path = Path(path)
    if path.is_dir() or path.name == MANIFEST:
        faceset = Faceset.open(path.parent if path.name == MANIFEST else path)
        if not len(faceset):
            raise user_error(path, "the faceset lists no faces (--reference)")
        embeddings = embedder.embed_faceset(faceset, MAX_FACESET_FACES)
        return Reference(path.name, embeddings.astype(np.float32), target)
    if not path.is_file():
        raise user_error(path, "no such photo or faceset (--reference)")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise user_error(path, "not a readable image or a faceset folder (--reference)")
    faces = finder.find(image)
    if not faces:
        raise user_error(path, "no face found in this photo (--reference)")
    face = max(faces, key=lambda f: f.area)
    if len(faces) > 1:
        log.warning("%s: %d faces in the reference photo; using the largest", path, len(faces))
    return Reference(path.name, embedder.embed(image, face.points)[None].astype(np.float32), target)
