"""Colour: match the swapped face's colours to the original face under the mask.

The kernels live in engine.image.color (rct = Reinhard in LAB, lct, masked histogram match,
...). This stage only applies the chosen mode to every face of a packet.
"""

from __future__ import annotations

import cv2

from swapstream.common.pipeline_contract import FramePacket, Stage


class ColorStage(Stage):
    """knobs: the engine.swap_knobs.SwapConfig (or live SwapSettings) whose `color` mode is applied,
    one of engine.image.color.COLOR_MODES ('none' passes faces through), by its `color_strength`
    (1: the transferred face, 0: the model's, between: their per-pixel mix, rounded)."""

    name = "color"

    def __init__(self, knobs):
        self.knobs = knobs
        self._transfer = None

    def setup(self) -> None:
        from swapstream.engine.image import color

        color.warmup()  # compile (or load cached) Numba kernels before the first frame
        self._transfer = color.transfer_color

    def apply_settings(self, settings) -> None:
        self.knobs = settings

    def process(self, packet: FramePacket) -> FramePacket:
        mode, strength = self.knobs.color, self.knobs.color_strength
        if mode == "none" or strength <= 0:
            return packet
        for slot in packet.faces:
            moved = self._transfer(slot.swapped, slot.crop, slot.mask, mode)
            slot.swapped = moved if strength >= 1 else cv2.addWeighted(moved, strength, slot.swapped, 1 - strength, 0)
        return packet
