"""Colour: match the swapped face's colours to the original face under the mask.

The kernels live in engine.image.color (rct = Reinhard in LAB, lct, masked histogram match,
...). This stage only applies the chosen mode to every face of a packet.
"""

from __future__ import annotations

from swapstream.common.pipeline_contract import FramePacket, Stage


class ColorStage(Stage):
    """knobs: the engine.swap_knobs.SwapConfig (or live SwapSettings) whose `color` mode is applied,
    one of engine.image.color.COLOR_MODES ('none' passes faces through)."""

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
        mode = self.knobs.color
        if mode == "none":
            return packet
        for slot in packet.faces:
            slot.swapped = self._transfer(slot.swapped, slot.crop, slot.mask, mode)
        return packet
