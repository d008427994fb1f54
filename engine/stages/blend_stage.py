"""Blend: feather each face's mask and paste the swapped face back into the frame.

The paste uses the inverse of the exact alignment matrix and touches only the face's region of
interest (engine.image.blend.paste_face): pixels outside the warped mask stay bit-exact, and a
frame without a face is not touched at all.
"""

from __future__ import annotations

import numpy as np
from swapstream.engine.face.align import transform_points
from swapstream.engine.face.mask import lips_mask

from swapstream.common.pipeline_contract import FramePacket, Stage


class BlendStage(Stage):
    """Its knobs (an engine.swap_knobs.SwapConfig, or the live SwapSettings): blend, 'feather'
    (fast alpha composite) or 'poisson' (OpenCV seamlessClone, offline quality); erode and blur,
    mask erosion and feather width as fractions of the crop size, so models of any resolution get
    the same look; detail, how much of the original's detail finer than the model renders is
    added back inside the face (engine.image.detail; 0 = none)."""

    name = "blend"

    def __init__(self, knobs, resolution: int, refiner=None, grid_resolution: int | None = None):
        """resolution: side of the swapped crops; grid_resolution: side of the grid the model codes
        faces on (default resolution): with detail on, the band between the two grids, which a
        depth-to-space decoder can only guess, gets what the model left out of it
        (engine.image.detail.restore_guessed_band); refiner: an
        engine.stages.mask_refine.MaskRefiner (keep mouth, occlusion), or None."""
        self.detail_cell = resolution / (grid_resolution or resolution)
        self.refiner = refiner
        self._take(knobs, resolution)
        self._feather = self._paste = self._restore = None

    def _take(self, knobs, resolution: int) -> None:
        self.knobs, self.resolution = knobs, resolution
        self.erode_px = round(knobs.erode * resolution)
        self.blur_px = round(knobs.blur * resolution)

    def apply_settings(self, settings) -> None:
        """The knobs of a new SwapSettings, and the crop size of its model when one was picked."""
        contract = getattr(settings.model_obj, "contract", None)
        self._take(settings, contract.output_resolution if contract is not None else self.resolution)
        if self.refiner is not None:
            self.refiner.apply_settings(settings)

    def setup(self) -> None:
        from swapstream.engine.image import blend, detail

        blend.warmup()  # compile (or load cached) Numba kernels before the first frame
        self._feather, self._paste, self._restore = blend.feather_mask, blend.paste_face, detail.restore_guessed_band

    @staticmethod
    def _detail_mask(slot) -> np.ndarray:
        """Where detail is added: the blend mask without the mouth. The driver's lip and teeth edges
        do not sit on the model's mouth when its shape differs (mouth r fell 0.03-0.10 with
        them: benchmarks/results_log/2026-11-to-2026-12-06.md); eyes, brows, skin and hair keep theirs."""
        size = slot.mask.shape[0]
        return slot.mask * (1.0 - lips_mask(transform_points(slot.landmarks, slot.matrix), size))

    def process(self, packet: FramePacket) -> FramePacket:
        for slot in packet.faces:
            slot.mask = self._feather(slot.mask, self.erode_px, self.blur_px)
        if self.refiner is not None:
            self.refiner.refine(packet)  # every face before any paste: it may read the frame
        for slot in packet.faces:
            detail = self.knobs.detail
            keep = self._detail_mask(slot) if detail > 0 else None
            if keep is not None and self.detail_cell > 1:
                slot.swapped = self._restore(slot.swapped, slot.crop, keep, self.detail_cell, detail)
            self._paste(packet.frame, slot.swapped, slot.mask, slot.matrix, self.knobs.blend, detail, keep)
        return packet
