"""Steady: limit each swapped face's frame-to-frame change to what its driving face did
(engine.image.steady), so a still face does not shimmer with the model's jitter.

State is kept per tracked face (FaceSlot.track) and only for the faces of the last frame: a face
that leaves, a new track, or a change of model resolution starts fresh. The stage sees frames in
order (one thread); a frame the live source dropped only makes the next step larger, which the
driver's larger change allows.
"""

from __future__ import annotations

import numpy as np

from swapstream.common.pipeline_contract import FramePacket, Stage


class SteadyStage(Stage):
    """knobs: the engine.swap_knobs.SwapConfig (or live SwapSettings) whose `steady` strength in
    [0, 1] is applied: 0 passes faces through, 1 applies the full change budget."""

    name = "steady"

    def __init__(self, knobs):
        self.knobs = knobs
        self._states: dict = {}  # track -> engine.image.steady.SteadyState
        self._steady = None

    def apply_settings(self, settings) -> None:
        self.knobs = settings

    def setup(self) -> None:
        from swapstream.engine.image import steady

        steady.warmup()  # compile (or load cached) the Numba kernel before the first frame
        self._steady = steady.steady_face

    def process(self, packet: FramePacket) -> FramePacket:
        strength = self.knobs.steady
        if strength <= 0:
            self._states.clear()
            return packet
        states = {}
        for slot in packet.faces:
            if slot.track < 0 or slot.track in states:  # untracked (a still) or a duplicate number
                continue
            slot.swapped, slot.mask = _owned(slot.swapped, np.uint8), _owned(slot.mask, np.float32)
            prior = self._states.get(slot.track)
            states[slot.track] = self._steady(prior, slot.crop, slot.hull, slot.swapped, slot.mask, strength)
        self._states = states
        return packet


def _owned(a: np.ndarray, dtype) -> np.ndarray:
    """`a` when it can be changed in place as it is (the kernel writes it), else a copy that can."""
    if a.dtype == dtype and a.flags.writeable and a.flags.c_contiguous:
        return a
    return np.array(a, dtype, order="C")
