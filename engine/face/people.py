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
- the distance to a person is trimmed, not the minimum: the mean of the nearest quarter of their
  embeddings (the reference's and, see below, their gallery's). A faceset of 32 faces gave a
  stranger 32 chances to sit close to one of them; a quarter of them have to agree now.
- accepting needs distance < ACCEPT for a photo, < ACCEPT_FACESET for a faceset (on the test
  clips a faceset's own person sat at most 0.42 from it and strangers at least 0.54; a photo's own
  person up to 0.57 and strangers from 0.52, so a photo keeps 0.5 and relies on its gallery:
  benchmarks/reference_accepts.py), and two relative checks, as open-set recognition asks (the
  references are not everybody):
  * a margin against this video's other faces: every face judged confidently nobody (>= KEEP from
    every reference) joins a bounded gallery of OTHERS; a face nearer to that gallery than to the
    reference plus MARGIN is not accepted (a stranger who once looked unlike the reference does
    not get in on a frame where they happen to look like them);
  * a margin against the other references: the nearest must beat the second by RATIO;
  and one face per person per frame: when two tracks are the same person, the nearer keeps them.
  Keeping an accepted person needs < KEEP, and losing them two failed checks in a row, so one bad
  angle does not flicker the swap off. A verdict in between (ACCEPT..KEEP: maybe the person at an
  awkward angle) is checked again soon.
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
ACCEPT_FACESET = 0.47
KEEP = 0.6
ENROL = 0.42
GALLERY = 16
OTHERS = 32  # embeddings of this video's faces that are nobody, for the margin against them
MARGIN = 0.05
RATIO = 0.85  # nearest reference / second nearest must stay below this
TRIM_SHARE = 0.25  # a person's distance: mean of their nearest quarter of embeddings
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


def trimmed_distance(embeddings: np.ndarray, embedding: np.ndarray) -> float:
    """Distance from `embedding` (128,) to a person given by (K, 128) embeddings: the mean of the
    nearest ceil(K * TRIM_SHARE) (the distance itself for one photo)."""
    d = np.sort(np.linalg.norm(embeddings - embedding, axis=1))
    return float(d[: max(1, int(np.ceil(len(d) * TRIM_SHARE)))].mean())


def distances(galleries, embedding: np.ndarray) -> np.ndarray:
    """float (P,): per person, the trimmed distance to their (K, 128) embeddings."""
    return np.array([trimmed_distance(g, embedding) for g in galleries])


def accept_below(reference: Reference) -> float:
    """The accepting distance for a reference: a faceset's trimmed distance is the tighter one."""
    return ACCEPT_FACESET if len(reference.embeddings) > 1 else ACCEPT


def judge(references, seen, others: np.ndarray | None, embedding: np.ndarray) -> tuple[int, float, bool]:
    """(nearest person, distance, accepted as a new face?) of an embedding.

    references: the Reference people; seen: per person, (K, 128) embeddings to match (the
    reference's own and its gallery); others: (M, 128) embeddings of this video's faces that are
    nobody, or None. Accepted: under the person's threshold, RATIO nearer than any other person,
    and MARGIN nearer than any of the others."""
    d = distances(seen, embedding)
    idx = int(np.argmin(d))
    dist = float(d[idx])
    ok = dist < accept_below(references[idx])
    if len(d) > 1:
        ok = ok and dist < RATIO * float(np.partition(d, 1)[1])
    if others is not None and len(others):
        ok = ok and dist + MARGIN < float(np.linalg.norm(others - embedding, axis=1).min())
    return idx, dist, ok


def decide_first(references, embedding: np.ndarray, others=()) -> int | None:
    """The person a new track with this embedding is accepted as (None: nobody), before this video
    has taught anything (no galleries); others: this video's faces that are nobody, (M, 128)."""
    seen = [r.embeddings for r in references]
    idx, _, ok = judge(references, seen, np.asarray(others, np.float32).reshape(-1, 128), embedding)
    return idx if ok else None


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
    distance: float = 1.0  # to `person`, at the last verdict
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
        self._others: collections.deque[np.ndarray] = collections.deque(maxlen=OTHERS)
        self.embeddings = 0  # embeddings computed (for benchmarks and tests)

    def select(self, frame_bgr: np.ndarray, faces: list[Face]) -> list[tuple[Face, int]]:
        """The faces of this frame that are a reference person, with that person's model index."""
        for face in faces:
            tr = self._tracks.setdefault(face.track, _Track())
            self._follow(tr, frame_bgr, face)
        seen = {f.track for f in faces}
        self._tracks = {k: v for k, v in self._tracks.items() if k in seen}
        self._one_face_per_person()
        return [(f, self.references[p].target) for f in faces if (p := self._tracks[f.track].person) is not None]

    def _one_face_per_person(self) -> None:
        """Two faces of one frame are two people: when two tracks hold one person, the nearer keeps
        them and the other is nobody until it is checked again (backing off, as a nobody does)."""
        holders: dict[int, _Track] = {}
        for tr in sorted(self._tracks.values(), key=lambda t: t.distance):
            if tr.person is None:
                continue
            if tr.person in holders:
                tr.person, tr.misses = None, 0
                tr.until_check, tr.retry = tr.retry, min(2 * tr.retry, self.recheck_every)
            else:
                holders[tr.person] = tr

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

    def _judge(self, embedding: np.ndarray) -> tuple[int, float, bool]:
        """engine.face.people.judge by the references, their galleries and this video's others;
        enrols a confident match in the gallery and a confident nobody among the others."""
        own = distances([r.embeddings for r in self.references], embedding)
        idx = int(np.argmin(own))
        if own[idx] < ENROL:
            self._galleries[idx].append(embedding)
        seen = [np.stack([*g, *r.embeddings]) for g, r in zip(self._galleries, self.references, strict=True)]
        others = np.stack(self._others) if self._others else None
        person, dist, ok = judge(self.references, seen, others, embedding)
        if own.min() >= KEEP:
            self._others.append(embedding)
        return person, dist, ok

    def _verdict(self, tr: _Track, embedding: np.ndarray) -> None:
        idx, dist, ok = self._judge(embedding)
        if tr.person is not None and (idx != tr.person or dist >= KEEP):
            tr.misses += 1
            if tr.misses < 2:
                tr.until_check = 1  # confirm on the next frame before letting the person go
                return
            tr.person = None
        if tr.person is None:
            tr.person = idx if ok else None
        tr.distance = dist
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
