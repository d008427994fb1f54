"""Every enumeration the parts share, defined once; CLI `choices=` and help text derive from here.

Each is a tuple of the accepted spellings (first = the usual default where one exists) plus a
one-line description per value, used by `describe()` for `--help`.
"""

from __future__ import annotations

# Crop coverage of the alignment contract, tightest first (geometry: engine/face/align.py).
FACE_TYPES = ("half", "mid", "full", "whole", "head")
FACE_TYPE_HELP = {
    "half": "eyes to mouth",
    "mid": "eyebrows to chin, cheeks cut",
    "full": "the whole face oval, no forehead",
    "whole": "face plus forehead",
    "head": "the whole head with hair",
}

# Which faces of a frame are swapped.
FACE_SELECTIONS = ("largest", "all")
FACE_SELECTION_HELP = {"largest": "only the largest face", "all": "every face found"}

# Colour transfer from the original face to the swapped one (engine/image/color.py).
COLOR_MODES = ("rct", "lct", "mkl", "hist", "none")
COLOR_MODE_HELP = {
    "rct": "Reinhard mean/std in Lab",
    "lct": "linear colour transfer (covariance)",
    "mkl": "Monge-Kantorovich linear map",
    "hist": "per-channel histogram matching",
    "none": "no colour transfer",
}

# How the swapped face is composited into the frame (engine/image/blend.py).
BLEND_MODES = ("feather", "poisson")
BLEND_MODE_HELP = {"feather": "feathered alpha", "poisson": "Poisson (seamless) cloning"}

# What limits the blend (engine/stages/infer.py).
MASK_MODES = ("both", "model", "hull", "occlusion")
MASK_MODE_HELP = {
    "both": "the model's mask inside the landmark hull",
    "model": "the model's own mask",
    "hull": "the landmark hull only",
    "occlusion": "'both' minus what an occlusion model (--occluder) sees in front of the face: hands, objects",
}

# Output (and processing) size of a live stream: frames are scaled at capture to this height
# (the width follows the source's aspect), never enlarged (engine/pipeline/frame_size.py).
OUTPUT_SIZES = ("source", "1080p", "720p", "540p", "480p", "360p")
OUTPUT_SIZE_HELP = {
    "source": "the source's own size",
    "1080p": "at most 1080 px tall",
    "720p": "at most 720 px tall",
    "540p": "at most 540 px tall",
    "480p": "at most 480 px tall",
    "360p": "at most 360 px tall",
}

# Where the per-pixel work of a swap runs (engine/gpu/availability.py): 'auto' = on the GPU when
# the model's session runs there (CUDA/TensorRT) and CUDA Numba works, else the CPU.
FRAME_DEVICES = ("auto", "cpu", "cuda")
FRAME_DEVICE_HELP = {
    "auto": "the GPU when the model runs on CUDA/TensorRT, else the CPU",
    "cpu": "always the CPU path",
    "cuda": "the GPU frame path (warp, colour, mask, paste on the device) even when inference runs on the CPU",
}

# What an ONNX file made by swapstream is (its swapstream.kind metadata; absent = swap).
MODEL_KINDS = ("swap", "occlusion")

# Which way an autoencoder swaps; LIAE models swap b2a only.
DIRECTIONS = ("a2b", "b2a")
DIRECTION_HELP = {"a2b": "faces of A rendered as B", "b2a": "faces of B rendered as A"}

# Output resolution / the grid a model codes faces on: 2 = depth-to-space decoders (trainer/model.py).
OUTPUT_SCALES = (1, 2)
# Input resolution / that grid: 2 = a space-to-depth step before the encoder (trainer/model.py).
INPUT_SCALES = (1, 2)


def sizes_text(read: int, grid: int, out: int) -> str:
    """A model's sizes as `info`, `train` and the trainer's log print them: '64 px' when all are
    equal, else e.g. '64 px in, 128 px out' or '128 px in, 64 px grid, 128 px out' (the grid
    only when it differs from the input)."""
    if read == grid == out:
        return f"{read} px"
    parts = [f"{read} px in"] + ([f"{grid} px grid"] if grid != read else []) + [f"{out} px out"]
    return ", ".join(parts)


# Numeric precision of an exported model.
MODEL_PRECISIONS = ("fp32", "fp16", "int8")

# Numeric precision of training (auto: fp16 on CUDA, bf16 on CPUs with native bf16, else fp32).
TRAIN_PRECISIONS = ("auto", "fp32", "bf16", "fp16")

# x264/x265 speed presets, fastest first.
ENCODER_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")

# Engine policy: live drops stale frames, convert keeps every frame in order.
ENGINE_MODES = ("live", "convert")

# Content credentials (swapstream/credentials): a signed C2PA manifest on every output, or not.
CREDENTIAL_MODES = ("on", "off")
CREDENTIAL_MODE_HELP = {
    "on": "sign every output as synthetic media (default)",
    "off": "write no manifest (the metadata label stays)",
}
WATERMARK_MODE_HELP = {
    "on": "mark every written frame invisibly (up to 2 grey levels everywhere)",
    "off": "no mark: pixels outside the swapped faces stay bit-exact (default)",
}

# Written into every output video's metadata unless the user explicitly turns it off.
SYNTHETIC_LABEL = "Contains synthetically swapped faces (made with swapstream)"


def describe(values: tuple[str, ...], help_by_value: dict[str, str] | None = None) -> str:
    """'a (what a is), b (what b is)' for --help; just 'a, b' without descriptions."""
    if not help_by_value:
        return ", ".join(values)
    return ", ".join(f"{v} ({help_by_value[v]})" for v in values)
