"""Swap only chosen people: who each tracked face is, decided once per track and re-checked.

A `Reference` is one person to swap (embeddings of a photo or a faceset, and the index of the
model that swaps them). `PeopleTracker.select` takes the face finder's tracked faces of a frame
and keeps those that are a reference person, each with its model index. Per track:

- a new track is embedded once (dlib ResNet, engine.face.embedding) and matched;
- it is re-checked every `recheck_every` frames (a track of nobody backs off: 5, 10, 20, ...
  frames, so a bystander costs little);
- every frame a 32 px 'head' thumbnail is compared with the previous frame's (normalised
  correlation, ~0.1 ms): when another face slides under the track (faces crossing, a cut, two
  people changing places) the correlation falls from >= 0.95 to <= 0.7 on the test clips; the
  track is then nobody until a fresh embedding says who it is. A track never carries a person
  onto another face.
- accepting needs distance < ACCEPT (stricter than dlib's 0.6: different people of the test clips
  come within 0.56 of a one-photo reference); keeping an accepted person needs < KEEP, and losing
  them two failed checks in a row, so one bad angle does not flicker the swap off. A verdict in
  between (ACCEPT..KEEP: maybe the person at an awkward angle) is checked again soon.
- one photo covers one pose, and the same person at another angle can sit at 0.5-0.55 from it.
  So every embedding that matches a reference's own embeddings confidently (< ENROL) joins that
  person's gallery for this run (at most GALLERY, the oldest dropped): the person as they look
  in this video, which later checks match too. Only the reference itself admits to the gallery,
  so a gallery never drifts towards someone else.

Offline (`wait=True`) every embedding is waited for, so the output does not depend on timing;
live, a track's verdict lands when the worker process returns it (a new face is swapped from
about two frames after it appears).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np
from swapstream.engine.face.align import alignment_matrix, warp_face
from swapstream.engine.face.landmarks import Face

ACCEPT = 0.5
KEEP = 0.6
ENROL = 0.42
GALLERY = 16
SOON = 2  # frames before an ambiguous verdict is checked again (the first SOON_TRIES times)
SOON_TRIES = 3
JUMP_CORRELATION = 0.8
SIGNATURE_PX = 32
FIRST_RETRY = 5  # frames before a track of nobody is checked again (then doubling)


@dataclass(frozen=True)
class Reference:
    """name: for messages (a file name); embeddings: float32 (K, 128); target: index of the
    model that swaps this person."""

    name: str
    embeddings: np.ndarray
    target: int = 0


def distances(galleries, embedding: np.ndarray) -> np.ndarray:
    """float (P,): per person, the distance to the nearest of their (K, 128) embeddings (a faceset
    or a gallery covers several poses)."""
    return np.array([float(np.linalg.norm(g - embedding, axis=1).min()) for g in galleries])


def signature(frame_bgr: np.ndarray, face: Face) -> np.ndarray:
    """float32 (32*32*3,) zero-mean unit-norm thumbnail of the head (hair and face), for jumps."""
    m = alignment_matrix(face.landmarks, "head", SIGNATURE_PX)
    v = warp_face(frame_bgr, m, SIGNATURE_PX).astype(np.float32).ravel()
    v -= v.mean()
    return v / max(float(np.linalg.norm(v)), 1e-6)


@dataclass
class _Track:
    person: int | None = None  # index of the reference this face is; None: nobody (not swapped)
    pending: object | None = None  # Future of an embedding in flight
    until_check: int = 0  # frames until the next check (0: check now)
    retry: int = FIRST_RETRY
    misses: int = 0  # failed checks in a row of an accepted person
    ambiguous: int = 0  # ambiguous verdicts in a row of a track of nobody
    signature: np.ndarray | None = field(default=None, repr=False)


class PeopleTracker:
    """references: who to swap; chips: an engine.face.embedding.ChipMaker; worker: an
    engine.face.embedding_worker.EmbeddingWorker (submit(chip) -> Future or None when busy, and
    timeout_s); wait: block on each embedding (offline)."""

    def __init__(self, references, chips, worker, recheck_every: int = 30, wait: bool = False):
        if not references:
            raise ValueError("PeopleTracker needs at least one reference")
        self.references = tuple(references)
        self.chips, self.worker = chips, worker
        self.recheck_every = recheck_every
        self.wait = wait
        self._tracks: dict[int, _Track] = {}
        self._galleries = [collections.deque(maxlen=GALLERY) for _ in self.references]
        self.embeddings = 0  # embeddings computed (for benchmarks and tests)

    def select(self, frame_bgr: np.ndarray, faces: list[Face]) -> list[tuple[Face, int]]:
        """The faces of this frame that are a reference person, with that person's model index."""
        out = []
        for face in faces:
            tr = self._tracks.setdefault(face.track, _Track())
            self._follow(tr, frame_bgr, face)
            if tr.person is not None:
                out.append((face, self.references[tr.person].target))
        seen = {f.track for f in faces}
        self._tracks = {k: v for k, v in self._tracks.items() if k in seen}
        return out

    def _follow(self, tr: _Track, frame_bgr: np.ndarray, face: Face) -> None:
        sig = signature(frame_bgr, face)
        if tr.signature is not None and float(sig @ tr.signature) < JUMP_CORRELATION:
            # Another face is under this track now: it is nobody until an embedding says who.
            tr.person, tr.misses, tr.ambiguous, tr.until_check, tr.retry = None, 0, 0, 0, FIRST_RETRY
            tr.pending = None
        tr.signature = sig
        if tr.until_check <= 0 and tr.pending is None:
            tr.pending = self.worker.submit(self.chips.chip(frame_bgr, face.points))
            self.embeddings += tr.pending is not None
        if tr.pending is not None and (self.wait or tr.pending.done()):
            self._verdict(tr, tr.pending.result(timeout=self.worker.timeout_s))
            tr.pending = None
        tr.until_check -= 1

    def _nearest(self, embedding: np.ndarray) -> tuple[int, float]:
        """(person, distance) by the references and their galleries; enrols a confident match."""
        own = distances([r.embeddings for r in self.references], embedding)
        idx = int(np.argmin(own))
        if own[idx] < ENROL:
            self._galleries[idx].append(embedding)
        seen = [np.stack([*g, *r.embeddings]) for g, r in zip(self._galleries, self.references, strict=True)]
        both = distances(seen, embedding)
        idx = int(np.argmin(both))
        return idx, float(both[idx])

    def _verdict(self, tr: _Track, embedding: np.ndarray) -> None:
        idx, dist = self._nearest(embedding)
        if tr.person is not None and (idx != tr.person or dist >= KEEP):
            tr.misses += 1
            if tr.misses < 2:
                tr.until_check = 1  # confirm on the next frame before letting the person go
                return
            tr.person = None
        if tr.person is None:
            tr.person = idx if dist < ACCEPT else None
        tr.misses = 0
        ambiguous = tr.person is None and dist < KEEP
        tr.ambiguous = tr.ambiguous + 1 if ambiguous else 0
        if tr.person is not None:
            tr.until_check, tr.retry = self.recheck_every, FIRST_RETRY
        elif ambiguous and tr.ambiguous <= SOON_TRIES:
            tr.until_check = SOON
        else:
            tr.until_check, tr.retry = tr.retry, min(2 * tr.retry, self.recheck_every)

    @property
    def someone_missing(self) -> bool:
        """Is a reference person not on any track now (so the caller should look for faces)?"""
        present = {tr.person for tr in self._tracks.values()}
        return any(i not in present for i in range(len(self.references)))
