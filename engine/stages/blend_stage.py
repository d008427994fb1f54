"""Blend: feather each face's mask and paste the swapped face back into the frame.

The paste uses the inverse of the exact alignment matrix and touches only the face's region of
interest (engine.image.blend.paste_face): pixels outside the warped mask stay bit-exact, and a
frame without a face is not touched at all.
"""

from __future__ import annotations

import cv2
import numpy as np
from swapstream.engine.face.align import transform_points
from swapstream.engine.face.mask import lips_mask
from swapstream.engine.face.pose import yaw_pitch_roll

from swapstream.common.pipeline_contract import FramePacket, Stage


class BlendStage(Stage):
    """Its knobs (an engine.swap_knobs.SwapConfig, or the live SwapSettings): blend, 'feather'
    (fast alpha composite) or 'poisson' (OpenCV seamlessClone, offline quality); erode and blur,
    mask erosion and feather width as fractions of the crop size, so models of any resolution get
    the same look; detail, how much fine detail finer than the model renders is added inside the
    face, the target's own (engine.image.target_detail) unless the driver's is asked for by name
    (engine.image.detail; 0 = none)."""

    name = "blend"

    def __init__(
        self,
        knobs,
        resolution: int,
        refiner=None,
        grid_resolution: int | None = None,
        target=None,
        driver_detail: bool = True,
    ):
        """resolution: side of the swapped crops; grid_resolution: side of the grid the model codes
        faces on (default resolution); target: an engine.image.target_detail.TargetDetail, or None.
        With detail on and a target, the detail finer than two grid cells comes from the target's own
        faces and the face is pasted from the bank's larger crop. Without one, and driver_detail,
        the driver's own band is used (engine.image.detail: in the crop, the band between the two
        grids that a depth-to-space decoder can only guess; in the frame, what is finer than the
        crop): it carries the driver's lashes, brows and nostrils (issue 28), so the engine asks
        for it only by name. Neither: detail adds nothing. refiner: an
        engine.stages.mask_refine.MaskRefiner (keep mouth, occlusion), or None."""
        self.target = target
        self.detail_model = None  # the model `target` belongs to (engine.pipeline.build sets it)
        self.driver_detail = driver_detail
        self.detail_cell = resolution / (grid_resolution or resolution)
        self.refiner = refiner
        self._take(knobs, resolution)
        self._feather = self._paste = self._paste_bgra = self._restore = None

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
        if settings.model_obj is not None and settings.model_obj is not self.detail_model:
            from swapstream.engine.image.target_detail import detail_beside

            # Another model swaps in another person: only that model's own detail bank fits it.
            self.target, self.detail_model = detail_beside(settings.model_obj), settings.model_obj

    def setup(self) -> None:
        from swapstream.engine.image import blend, detail, target_detail

        blend.warmup()  # compile (or load cached) Numba kernels before the first frame
        target_detail.warmup()
        self._feather, self._paste, self._restore = blend.feather_mask, blend.paste_face, detail.restore_guessed_band
        self._paste_bgra = blend.paste_bgra

    @staticmethod
    def _detail_mask(slot, crop_points: np.ndarray) -> np.ndarray:
        """Where detail is added: the blend mask without the mouth. The driver's lip and teeth edges
        do not sit on the model's mouth when its shape differs (mouth r fell 0.03-0.10 with
        them: benchmarks/results_log/2026-11-to-2026-12-06.md), nor do another face's teeth."""
        return slot.mask * (1.0 - lips_mask(crop_points, slot.mask.shape[0]))

    def _paste_with_target_detail(self, frame: np.ndarray, slot, crop_points: np.ndarray, keep: np.ndarray) -> None:
        """Paste the swapped crop enlarged to the bank's size with the target's detail added: the
        band added and the crop packed with its mask in one kernel, warped and composited over the
        mask's support only (engine.image.target_detail.TargetDetail.sharpen_bgra, blend.paste_bgra)."""
        yaw, pitch, _ = yaw_pitch_roll(slot.landmarks)
        knobs = self.knobs
        packed, support = self.target.sharpen_bgra(
            slot.swapped, crop_points, keep, slot.mask, (yaw, pitch), knobs.detail, slot.track
        )
        k = packed.shape[0] / slot.swapped.shape[0]
        matrix = np.asarray(slot.matrix, np.float64) * k
        matrix[:, 2] += 0.5 * k - 0.5  # crop pixel centre p lies at (p + 0.5) k - 0.5 in the larger crop
        pts = np.asarray(crop_points, np.float64)[:, :2] * k  # in the bank's crop
        for part, amount in ((self.target.mouth, knobs.mouth), (self.target.eyes, knobs.eyes)):
            if amount > 0 and part is not None:
                part.lay_over(packed[:, :, :3], pts, packed[:, :, 3], (yaw, pitch), amount, slot.track)
        if knobs.blend == "feather":
            self._paste_bgra(frame, packed, matrix, support)
        else:  # poisson (offline): the reference path, from the unpacked crop
            mask = cv2.resize(slot.mask, packed.shape[1::-1], interpolation=cv2.INTER_LINEAR)
            self._paste(frame, np.ascontiguousarray(packed[:, :, :3]), mask, matrix, knobs.blend, 0.0, None)

    def process(self, packet: FramePacket) -> FramePacket:
        for slot in packet.faces:
            slot.mask = self._feather(slot.mask, self.erode_px, self.blur_px)
        if self.refiner is not None:
            self.refiner.refine(packet)  # every face before any paste: it may read the frame
        for slot in packet.faces:
            target = self.target if slot.target == 0 else None  # the bank is the main model's person
            keep = None
            laid = target is not None and (
                (target.mouth is not None and self.knobs.mouth > 0) or (target.eyes is not None and self.knobs.eyes > 0)
            )
            from_target = target is not None and (self.knobs.detail > 0 or laid)
            if from_target or (self.knobs.detail > 0 and self.driver_detail):
                crop_points = transform_points(slot.landmarks, slot.matrix)
                keep = self._detail_mask(slot, crop_points)
                if from_target:
                    self._paste_with_target_detail(packet.frame, slot, crop_points, keep)
                    continue
            if keep is not None and self.detail_cell > 1:
                slot.swapped = self._restore(slot.swapped, slot.crop, keep, self.detail_cell, self.knobs.detail)
            amount = self.knobs.detail if keep is not None else 0.0
            self._paste(packet.frame, slot.swapped, slot.mask, slot.matrix, self.knobs.blend, amount, keep)
        return packet
