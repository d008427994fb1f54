"""What `swapstream bench` measures when not told: its default model and its default (or resized) clip.

Without -m: the model that ships in swapstream/assets/ for the preset and precision when there is
a fresh one (swapstream/demo/shipped_models.py; today `--preset demo --precision int8`), else random
weights of the preset's architecture, exported once by the export package and cached (speed
only). Without --source: a 640x480 driving clip rendered from scikit-image's astronaut portrait,
cached too. --size letterboxes either clip to another frame size, also cached. The cache is
$XDG_CACHE_HOME/swapstream/bench (default ~/.cache/swapstream/bench) or --cache-dir/bench.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from swapstream.common.errors import UserError

DEFAULT_CLIP_SIZE = (640, 480)
CACHE_VERSION = 3  # bump when the cached default model or clip would be built differently (3: verified weights_sha256)
UNTRAINED_NOTE = "untrained (random init) - speed only"
# The direction every architecture can swap (LIAE cannot a2b); speed does not depend on it.
DEFAULT_DIRECTION = "b2a"


def cache_root(explicit: Path | None) -> Path:
    """--cache-dir, else $XDG_CACHE_HOME/swapstream, else ~/.cache/swapstream; plus /bench."""
    if explicit is not None:
        return explicit / "bench"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "swapstream" / "bench"


def _short_hash(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:12]


# -- default model ----------------------------------------------------------------------------------
def default_model(preset: str, precision: str, cache: Path) -> tuple[Path, str | None]:
    """(model path, weights note): the fresh shipped model of preset and precision, else a cached
    export of random weights. The note is None for the shipped model (its metadata says how it was
    trained)."""
    from swapstream.demo.shipped_models import find_shipped

    shipped = find_shipped(preset, precision)
    if shipped is not None:
        return shipped[0], None
    from swapstream.common.alignment_ids import CONTRACT_VERSION, TEMPLATE_ID
    from swapstream.trainer.config import load_preset

    model_cfg, _ = load_preset(preset)
    key = _short_hash(CACHE_VERSION, CONTRACT_VERSION, TEMPLATE_ID, sorted(model_cfg.to_dict().items()), precision)
    path = cache / f"untrained_{Path(preset).stem}_{precision}_{key}.onnx"
    if not path.is_file():
        try:
            import torch  # noqa: F401  (the exporter needs it; say so before any work)
        except ModuleNotFoundError:
            raise UserError(
                "bench without -m builds its default model with PyTorch, which is not installed: "
                "pass -m MODEL.onnx, or pip install -e '.[train]'"
            ) from None
        from swapstream.export.exporter import ExportOptions, RandomWeights, export_model

        print(f"bench: exporting an untrained {preset} model ({precision}) to {path} (once)", file=sys.stderr)
        # Unverified: random weights have no quality to keep; 16 calibration faces suffice for speed.
        options = ExportOptions(DEFAULT_DIRECTION, precision, calibration_faces=16, verify=False)
        export_model(RandomWeights(preset), path, options)
    return path, UNTRAINED_NOTE


# -- default and resized sources -----------------------------------------------------------------------
def _letterbox(frame, size: tuple[int, int]):
    """Scale a BGR frame to fit inside size=(W, H) without distortion, edges replicated to fill."""
    import cv2

    w, h = size
    fh, fw = frame.shape[:2]
    scale = min(w / fw, h / fh)
    nw, nh = max(1, round(fw * scale)), max(1, round(fh * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(frame, (nw, nh), interpolation=interp)
    left, top = (w - nw) // 2, (h - nh) // 2
    return cv2.copyMakeBorder(resized, top, h - nh - top, left, w - nw - left, cv2.BORDER_REPLICATE)


def default_clip(cache: Path, frames: int) -> Path:
    """A cached 640x480 30 fps H.264 clip of the astronaut portrait moving like a head."""
    from swapstream.demo.media import astronaut_bgr, motion_frames, write_video

    path = cache / f"astronaut_{DEFAULT_CLIP_SIZE[0]}x{DEFAULT_CLIP_SIZE[1]}_{frames}f_v{CACHE_VERSION}.mp4"
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        frames_iter = (_letterbox(f, DEFAULT_CLIP_SIZE) for f in motion_frames(astronaut_bgr(), frames, size=480))
        write_video(frames_iter, path, fps=30)
    return path


def resized_clip(source: Path, size: tuple[int, int], frames: int, cache: Path) -> Path:
    """The first `frames` frames of `source` letterboxed to size, re-encoded once and cached."""
    import av
    import numpy as np

    from swapstream.demo.media import write_video

    st = source.stat()
    key = _short_hash(CACHE_VERSION, source.resolve(), st.st_size, st.st_mtime_ns, size, frames)
    path = cache / f"{source.stem}_{size[0]}x{size[1]}_{frames}f_{key}.mp4"
    if path.is_file():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    try:
        container = av.open(str(source))
    except (av.error.FFmpegError, OSError) as e:
        raise UserError(f"{source}: cannot be read as a video ({e})") from None
    with container:
        if not container.streams.video:
            raise UserError(f"{source}: has no video stream")
        stream = container.streams.video[0]
        fps = round(float(stream.average_rate or 30))

        def frames_iter():
            for i, frame in enumerate(container.decode(stream)):
                if i >= frames:
                    return
                yield _letterbox(np.ascontiguousarray(frame.to_ndarray(format="bgr24")), size)

        written = write_video(frames_iter(), path, fps=fps)
    if written == 0:
        path.unlink(missing_ok=True)
        raise UserError(f"{source}: no frames decoded")
    return path
