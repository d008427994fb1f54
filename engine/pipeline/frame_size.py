"""The live `output_size` control: frames are scaled down at capture, before any stage.

Scaling at capture makes it a processing size as well as an output size: detection tiles, the
warps, the blend, the preview's JPEG, the virtual camera and the recording all see fewer pixels.
A size is a height ("720p"); the width follows the source's aspect ratio (even, as encoders
want). A frame is never enlarged: a 480 px source stays 480 px under "720p".
"""

from __future__ import annotations

import cv2

from swapstream.common.choices import OUTPUT_SIZES
from swapstream.common.pipeline_contract import FramePacket

HEIGHTS = {name: int(name[:-1]) for name in OUTPUT_SIZES if name != "source"}


def output_dims(width: int, height: int, size: str) -> tuple[int, int]:
    """(width, height) of a width x height frame under `size` (one of OUTPUT_SIZES)."""
    target = HEIGHTS.get(size)
    if target is None or target >= height:
        return width, height
    return max(2, round(width * target / height / 2) * 2), target


def smaller_sizes(height: int, size: str) -> list[str]:
    """The sizes that make a `height` px source smaller than `size` does, largest first."""
    now = output_dims(height * 16, height, size)[1]
    return [name for name, h in HEIGHTS.items() if h < now]


def scale_packet(packet: FramePacket) -> None:
    """Scale packet.frame to its settings' output size (INTER_AREA), in place of the original."""
    size = getattr(packet.settings, "output_size", "source")
    if size == "source":
        return
    h, w = packet.frame.shape[:2]
    dims = output_dims(w, h, size)
    if dims != (w, h):
        packet.frame = cv2.resize(packet.frame, dims, interpolation=cv2.INTER_AREA)
