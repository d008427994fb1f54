"""Join segment files into one video by stream copy, adding the source's audio and the label.

The parts are videos in the output's own container and codec, each encoded on its own (every
part starts with a keyframe), holding frames whose presentation times were planned from the
input. Their packets are copied, never re-encoded; each part's timestamps are set back to the
planned ones (a container may store a part's start with a rounding, as MP4's edit list does), so
the joined video has the input's exact frame times, as a single-process convert writes them.
The input's first audio stream is interleaved and cut at the end of the last frame, and the
synthetic-media label is written, both as engine.stages.sink_file.VideoFileSink does. The result
is written under a temporary name and moved into place by `publish` when complete (os.replace,
or swapstream.credentials' signing of the joined file).
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from swapstream.engine.stages.sink_file import EncoderConfig, Publish, _AudioCopy

from swapstream.common.atomic_files import honour_umask

log = logging.getLogger(__name__)


def rescale(value: int, src: Fraction, dst: Fraction) -> int:
    """value in time base src -> time base dst, rounded to nearest (halves away from zero), as FFmpeg."""
    x = Fraction(value) * src / dst
    return math.floor(x + Fraction(1, 2)) if x >= 0 else -math.floor(-x + Fraction(1, 2))


def _has_audio(path: Path) -> bool:
    import av

    with av.open(str(path)) as probe:
        return bool(probe.streams.audio)


def _label(out, cfg: EncoderConfig, output: Path) -> None:
    if cfg.synthetic_label:
        out.metadata["comment"] = cfg.label
        out.metadata["description"] = cfg.label
    else:
        log.warning("%s: written WITHOUT the synthetic-media label (output.synthetic_label: false)", output)


def _copy_part(part: Path, planned: Sequence[int], time_base: Fraction, out_stream, out, audio) -> float:
    """Mux one part's video packets with their planned times; returns the end of its last frame (s)."""
    import av

    with av.open(str(part)) as inp:
        stream = inp.streams.video[0]
        tb = stream.time_base
        targets = [rescale(p, time_base, tb) for p in planned]
        delta = None
        seen: list[int] = []
        for packet in inp.demux(stream):
            if packet.dts is None and packet.pts is None:
                continue  # the demuxer's final flush packet
            if delta is None:  # a part starts with its first frame's keyframe
                delta = targets[0] - packet.pts
            packet.pts += delta
            if packet.dts is not None:
                packet.dts += delta
            seen.append(packet.pts)
            if audio is not None:
                audio.mux_until(float(packet.pts * tb))
            packet.stream = out_stream
            out.mux(packet)
    if sorted(seen) != targets:
        raise RuntimeError(f"{part}: holds {len(seen)} frames whose times differ from the {len(targets)} planned")
    return float(targets[-1] * tb)


def join_parts(
    parts: Sequence[Path],
    planned: Sequence[Sequence[int]],
    time_base: Fraction,
    fps: float,
    output: Path,
    cfg: EncoderConfig,
    audio_from: Path | None = None,
    publish: Publish | None = None,
) -> int:
    """Write OUTPUT from PARTS (in order); planned[i]: part i's frame times in the input's time
    base, display order. Returns the number of frames written."""
    import av

    output = Path(output)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{output.stem}.", suffix=f".partial{output.suffix}", dir=output.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    honour_umask(tmp)
    ok = False
    audio = None
    try:
        with av.open(str(tmp), "w") as out, av.open(str(parts[0])) as first:
            out_stream = out.add_stream_from_template(first.streams.video[0])
            _label(out, cfg, output)
            if cfg.copy_audio and audio_from is not None and _has_audio(audio_from):
                audio = _AudioCopy(str(audio_from), out)
            end_s = 0.0
            for part, times in zip(parts, planned, strict=True):
                end_s = _copy_part(part, times, time_base, out_stream, out, audio)
            if audio is not None:
                # Cut at the end of the last frame (ffmpeg's -shortest), as VideoFileSink does.
                audio.mux_until(end_s + 1.0 / (fps or 30.0))
        (publish or os.replace)(tmp, output)
        ok = True
    finally:
        if audio is not None:
            audio.close()
        if not ok:
            tmp.unlink(missing_ok=True)
    return sum(len(t) for t in planned)
