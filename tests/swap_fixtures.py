"""Helpers for the tests of the swap options (--keep-mouth, --mask occlusion): real frames of the
test clips and the engine's swap stages run on them in order, as `convert` builds them."""

from __future__ import annotations

import cv2
import numpy as np
from conftest import media

from swapstream.common.pipeline_contract import FramePacket


def read_frames(name: str, indices: tuple[int, ...]) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(media(name)))
    frames, i = [], 0
    while len(frames) < len(indices):
        ok, frame = cap.read()
        assert ok, f"{name} ended before frame {indices[len(frames)]}"
        if i in indices:
            frames.append(frame)
        i += 1
    cap.release()
    return frames


def run_swap(model_path, frames, fps: float = 0.0, references=(), others=None, **swap) -> list[FramePacket]:
    """The engine's swap stages (as convert builds them) on frames, one packet each, in order:
    stills (fps 0: every packet at time 0) or a video's frames (fps > 0). references/others: as
    engine.pipeline.build.swap_stages takes them (others: {target: model path}). Steadiness is off
    unless asked for: the frames are picked from a clip, not consecutive, and each option under
    test is judged frame by frame."""
    from swapstream.engine.engine_config import load_engine_config
    from swapstream.engine.pipeline.build import swap_stages
    from swapstream.engine.runtime.providers import RuntimeConfig
    from swapstream.engine.runtime.swap_model import load_swap_model

    model = load_swap_model(model_path, RuntimeConfig(providers=("cpu",)))
    cfg = load_engine_config().replace(swap={"color": "none", "steady": 0.0, **swap})
    others = {t: load_swap_model(p, RuntimeConfig(providers=("cpu",))) for t, p in (others or {}).items()}
    stages = swap_stages(model, cfg, offline=True, references=references, others=others)
    for s in stages:
        s.setup()
    try:
        packets = []
        for i, frame in enumerate(frames):
            p = FramePacket(i, i / fps if fps else 0.0, frame.copy())
            for s in stages:
                p = s.process(p)
            packets.append(p)
        return packets
    finally:
        for s in stages:
            s.close()


def outside_blend(slot, shape: tuple[int, ...]) -> np.ndarray:
    """bool (h, w): frame pixels at least 2 px outside where `slot`'s blend mask reaches, which a
    swap must leave bit-exact."""
    from swapstream.engine.face.align import invert

    h, w = shape[:2]
    support = cv2.warpAffine((slot.mask > 0).astype(np.uint8), invert(slot.matrix), (w, h), flags=cv2.INTER_LINEAR)
    return cv2.dilate(support, np.ones((5, 5), np.uint8)) == 0
