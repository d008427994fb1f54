"""Inference: swap every aligned face through the model, batching faces across frames.

In offline mode the pipeline hands this stage every packet already waiting (up to batch_size),
so one session.run serves several frames. The blend mask combines the model's learned mask with
the landmark hull, so a model mask that bleeds into the background can never paint outside the
face, and a model without a useful mask still blends cleanly.

Crops arrive at the model's output resolution (colour transfer and blending work there); for a
model that renders more pixels than it reads (depth-to-space decoders: 64 in, 128 out) they are
resized to its input here, with INTER_AREA as the trainer makes its inputs.
"""

from __future__ import annotations

import cv2
import numpy as np
from swapstream.engine.swap_knobs import MaskUse

from swapstream.common.pipeline_contract import FramePacket, Stage


def model_inputs(crops: np.ndarray, size: int) -> np.ndarray:
    """uint8 (N, size, size, 3): the aligned crops (N, O, O, 3) at the model's input size."""
    if crops.shape[1] == size:
        return crops
    return np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in crops])


class InferStage(Stage):
    """model: an engine.runtime.swap_model.SwapModel; mask: an engine.swap_knobs.MaskUse (the
    model's mask, the hull, or their minimum); others: {FaceSlot.target: SwapModel} for faces
    another model swaps (--reference FILE:MODEL; each with the main model's face type and
    resolutions)."""

    name = "infer"

    def __init__(self, model, batch_size: int = 1, mask=None, others: dict | None = None):
        self.model = model
        self.others = dict(others or {})
        self.batch_size = max(1, batch_size)
        self.mask = mask or MaskUse(model=True, hull=True, occlusion=False)

    def apply_settings(self, settings) -> None:
        """The mask from a new SwapSettings, and its model when one was picked."""
        self.mask = settings.mask_use
        if settings.model_obj is not None:
            self.model = settings.model_obj

    def setup(self) -> None:
        for model in (self.model, *self.others.values()):
            model.warmup(1)

    def process(self, packet: FramePacket) -> FramePacket:
        return self.process_batch([packet])[0]

    def process_batch(self, packets: list[FramePacket]) -> list[FramePacket]:
        for target in sorted({s.target for p in packets for s in p.faces}):
            model = self.others[target] if target else self.model
            slots = [s for p in packets for s in p.faces if s.target == target]
            crops = np.stack([s.crop for s in slots])
            self._fill(slots, *model.swap(model_inputs(crops, model.resolution)))
        return packets

    def _fill(self, slots, swapped: np.ndarray, masks: np.ndarray) -> None:
        for slot, face, mask in zip(slots, swapped, masks, strict=True):
            slot.swapped = face
            if not self.mask.model:
                slot.mask = slot.hull.astype(np.float32) * np.float32(1 / 255)
            elif not self.mask.hull:
                slot.mask = mask
            else:
                slot.mask = np.minimum(mask, slot.hull.astype(np.float32) * np.float32(1 / 255))
