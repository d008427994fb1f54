"""Who `--reference` means: a photo or a faceset -> engine.face.people.Reference.

A photo gives one embedding (of its largest face); a faceset (made by `swapstream extract`)
gives up to MAX_FACESET_FACES spread over it, which covers more poses and lighting than a photo
and so recognises the person more reliably. Embedding runs here once, before the first frame.

A faceset must be one person: its sampled faces are compared with their medoid (the face nearest
to all others). When more than MIXED_SHARE of them are farther than ONE_PERSON from it, the
reference is refused; fewer such faces (a stray frame of someone else) are left out, with a
warning. On the test clips every face of one person's faceset lies within 0.52 of its medoid, while
half-and-half facesets of two people put 47% or more of their faces beyond 0.55, even for the two
most alike people (benchmarks/results_log/2026-12-07-reference.md).
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
from swapstream.engine.face.embedding import FaceEmbedder, faceset_picks
from swapstream.engine.face.people import Reference

from swapstream.common.errors import user_error
from swapstream.common.faceset import MANIFEST, Faceset

log = logging.getLogger(__name__)

MAX_FACESET_FACES = 32
ONE_PERSON = 0.55  # farthest a face of a one-person faceset sits from its medoid (test clips: 0.52)
MIXED_SHARE = 0.1


def unlike_the_medoid(embeddings: np.ndarray) -> np.ndarray:
    """bool (K,): faces farther than ONE_PERSON from the medoid of (K, 128) embeddings."""
    pairwise = np.linalg.norm(embeddings[:, None] - embeddings[None], axis=2)
    return pairwise[int(np.argmin(pairwise.sum(axis=1)))] > ONE_PERSON


def one_person(path: Path, embeddings: np.ndarray, files: list[str]) -> np.ndarray:
    """The embeddings of a faceset's one person: UserError naming the faceset (and a face file
    unlike the rest) when it holds more than one; a few stray faces are dropped with a warning.
    files: the face file of each (K, 128) embedding, in order."""
    far = unlike_the_medoid(embeddings)
    if far.sum() > MIXED_SHARE * len(embeddings):
        example = files[int(np.flatnonzero(far)[0])]
        raise user_error(
            path,
            f"the faceset is more than one person: {int(far.sum())} of {len(far)} sampled faces (e.g. "
            f"{example}) are unlike the rest (--reference needs one person's faceset or photo)",
        )
    if far.any():
        log.warning(
            "%s: %d faces unlike the rest are left out of the reference (e.g. %s)",
            path,
            far.sum(),
            files[int(np.flatnonzero(far)[0])],
        )
    return embeddings[~far]


def load_reference(path: str | Path, target: int, embedder: FaceEmbedder, finder) -> Reference:
    """The Reference of a photo or faceset folder; UserError naming the file when it holds no face.

    target: index of the model that swaps this person; finder: an engine.face.tracking.FaceFinder."""
    path = Path(path)
    if path.is_dir() or path.name == MANIFEST:
        faceset = Faceset.open(path.parent if path.name == MANIFEST else path)
        if not len(faceset):
            raise user_error(path, "the faceset lists no faces (--reference)")
        embeddings = embedder.embed_faceset(faceset, MAX_FACESET_FACES)
        files = [faceset.faces[int(i)].file for i in faceset_picks(len(faceset), MAX_FACESET_FACES)]
        embeddings = one_person(path, embeddings, files)
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
