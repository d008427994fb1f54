"""Colour: match the swapped face's colours to the original face under the mask.

The kernels live in engine.image.color (rct = Reinhard in LAB, lct, masked histogram match,
...). This stage only applies the chosen mode to every face of a packet.
"""

from __future__ import annotations

from swapstream.common.pipeline_contract import FramePacket, Stage


class ColorStage(Stage):
    """mode: one of engine.image.color.COLOR_MODES ('none' passes faces through)."""

    name = "color"

    def __init__(self, mode: str):
        self.mode = mode
        self._transfer = None

    def setup(self) -> None:
        from swapstream.engine.image import color

        if self.mode not in color.COLOR_MODES:
            raise ValueError(f"colour mode must be one of {', '.join(color.COLOR_MODES)}, got {self.mode!r}")
        color.warmup()  # compile (or load cached) Numba kernels before the first frame
        self._transfer = color.transfer_color

    def process(self, packet: FramePacket) -> FramePacket:
        if self.mode == "none":
            return packet
        for slot in packet.faces:
            slot.swapped = self._transfer(slot.swapped, slot.crop, slot.mask, self.mode)
        return packet
