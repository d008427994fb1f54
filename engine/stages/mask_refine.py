"""Narrow each face's blend mask where the driver's own pixels must stay: the inside of an open
mouth (`keep_mouth`) and whatever an occlusion model sees in front of the face (mask 'occlusion').

Run by the blend stage on every face of a packet after the mask is feathered (the face mask's
erosion would otherwise widen the kept mouth over the swapped lips) and before any face is pasted
(so an occlusion model that reads the frame sees it unswapped). The mouth mask brings its own
feather; the occlusion mask is soft at its edges. Both only ever lower the mask, so pixels
outside the face are left bit-exact as before.
"""

from __future__ import annotations

import cv2
import numpy as np
from swapstream.engine.face.align import alignment_matrix, invert, transform_points, warp_face
from swapstream.engine.face.mask import mouth_interior_mask

from swapstream.common.pipeline_contract import FaceSlot, FramePacket

# The occlusion model's probability -> how much of the driver is kept: below LOW it is ignored (weak
# false alarms on a face leave the swap whole), above HIGH the pixel is kept entirely (a glasses rim
# or hair strand the model sees at p ~ 0.5 must not let half the swap through). Then the result
# grows by one pixel of the model's output (3x3 dilation): blending at the crop's resolution
# otherwise smears the swap a pixel into thin occluders and occluder edges. Chosen on
# benchmarks/occlusion.py (benchmarks/results_log/2026-11-to-2026-12-06.md):
# kept share +20 points for -5 points of face swapped.
OCCLUSION_RAMP = (0.15, 0.4)
_GROW = np.ones((3, 3), np.uint8)


def occlusion_weight(p: np.ndarray) -> np.ndarray:
    """float32 (N, S, S) in [0, 1]: the occlusion model's probabilities through OCCLUSION_RAMP, grown."""
    lo, hi = OCCLUSION_RAMP
    w = np.clip((p - np.float32(lo)) * np.float32(1 / (hi - lo)), 0.0, 1.0)
    return np.stack([cv2.dilate(m, _GROW) for m in w])


class MaskRefiner:
    """keep_mouth: keep the open mouth's interior; occlusion: apply `occluder` (an
    engine.runtime.occluder.OccluderModel; None = none loaded, then occlusion does nothing).
    face_type: the face type of the slots' crops (the swap model's), to map an occluder trained
    on another face type."""

    def __init__(self, face_type: str, keep_mouth: bool = False, occluder=None, occlusion: bool = False):
        self.face_type = face_type
        self.keep_mouth = keep_mouth
        self.occluder = occluder
        self.occlusion = occlusion

    def apply_settings(self, settings) -> None:
        """keep_mouth and occlusion from a new SwapSettings, the face type of its model if one was picked."""
        self.keep_mouth, self.occlusion = settings.keep_mouth, settings.mask_use.occlusion
        contract = getattr(settings.model_obj, "contract", None)
        if contract is not None:
            self.face_type = contract.face_type

    @property
    def active(self) -> bool:
        return self.keep_mouth or (self.occlusion and self.occluder is not None)

    def refine(self, packet: FramePacket) -> None:
        """Lower every face's slot.mask of `packet` in place (float32 (R, R) in [0, 1])."""
        if not packet.faces or not self.active:
            return
        if self.occlusion and self.occluder is not None:
            visible = 1.0 - self.occlusion_masks(packet.frame, packet.faces)
            for slot, keep in zip(packet.faces, visible, strict=True):
                slot.mask = slot.mask * keep
        if self.keep_mouth:
            for slot in packet.faces:
                slot.mask = slot.mask * (1.0 - mouth_mask(slot))

    def occlusion_masks(self, frame: np.ndarray, slots: list[FaceSlot]) -> np.ndarray:
        """float32 (N, R, R): the occluder's verdict per face, in each slot's crop pixels."""
        occ = self.occluder
        r = occ.resolution
        same = occ.contract.face_type == self.face_type
        crops, matrices = [], []
        for slot in slots:
            if same:  # the crop the swap model read, at the occluder's size
                crops.append(cv2.resize(slot.crop, (r, r), interpolation=cv2.INTER_AREA))
                matrices.append(None)
            else:  # the occluder's own face type, aligned from the (still unswapped) frame
                m = alignment_matrix(slot.landmarks, occ.contract.face_type, r)
                crops.append(warp_face(frame, m, r))
                matrices.append(m)
        masks = occlusion_weight(occ.occlusion(np.stack(crops), resize=False))
        out = np.empty((len(slots), *slots[0].mask.shape), np.float32)
        for i, (slot, m) in enumerate(zip(slots, matrices, strict=True)):
            size = slot.mask.shape[0]
            if m is None:
                out[i] = cv2.resize(masks[i], (size, size), interpolation=cv2.INTER_LINEAR)
            else:  # occluder crop -> frame -> this slot's crop
                a = np.vstack([slot.matrix, (0, 0, 1)]) @ np.vstack([invert(m), (0, 0, 1)])
                out[i] = cv2.warpAffine(masks[i], a[:2], (size, size), flags=cv2.INTER_LINEAR)
        return out


def mouth_mask(slot: FaceSlot) -> np.ndarray:
    """float32 (R, R): the open mouth's interior of this face in its crop pixels (0 when closed)."""
    return mouth_interior_mask(transform_points(slot.landmarks, slot.matrix), slot.mask.shape[0])
