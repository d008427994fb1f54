"""File sinks: an encoded video (PyAV) with the input's audio, and a lossless image sequence.

Both write under a temporary name in the destination folder and rename on success, so a
failure never leaves a half-written file under the final name. An interrupted run (Ctrl-C,
SIGTERM) still finalizes what it has, a valid shorter output: under the final name, or with
partial_on_interrupt (convert) under NAME.partial.EXT, so an existing output is never replaced
by a shorter one. Videos carry a container metadata label saying they contain synthetically
swapped faces. Files and folders get the modes the user's umask gives. `publish(tmp, final)`
(default os.replace) is what moves a finished file into place: swapstream.credentials signs it
there; `sign_image(encoded, dest)` writes each frame of an image sequence (signed) instead of
OpenCV.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2

from swapstream.common.atomic_files import honour_umask
from swapstream.common.choices import ENCODER_PRESETS, SYNTHETIC_LABEL
from swapstream.common.errors import user_error
from swapstream.common.output_paths import check_output_file, check_output_folder, free_partial_name
from swapstream.common.pipeline_contract import FramePacket, Sink, SourceInfo

log = logging.getLogger(__name__)

# Codecs whose quality is a CRF and that take x264-style presets.
_CRF_CODECS = ("libx264", "libx265")
_LOSSLESS_PIX_FMT = {"ffv1": "bgr0"}  # RGB-exact: no colour-space conversion, no chroma subsampling
LIVE_TIME_BASE = Fraction(1, 1000)


@dataclass(frozen=True)
class EncoderConfig:
    """codec: libx264 (default), libx265, ffv1 (lossless, use .mkv), ...; crf (0..51)/preset for
    x264/x265; pix_fmt: '' picks yuv420p for x264/x265 and bgr0 for ffv1; label: the
    synthetic-media comment written into the container (never empty); synthetic_label: False
    writes videos without it, an explicit choice that is logged; copy_audio: remux the input's audio;
    watermark: mark every written frame invisibly (engine.image.watermark; the sinks get the mark).
    Off by default: the mark spans the whole frame, and pixels outside the swapped faces stay
    exactly as they were unless it is asked for."""

    codec: str = "libx264"
    crf: int = 18
    preset: str = "veryfast"
    pix_fmt: str = ""
    label: str = SYNTHETIC_LABEL
    synthetic_label: bool = True
    copy_audio: bool = True
    watermark: bool = False

    def __post_init__(self) -> None:
        if not self.label.strip():
            raise ValueError(
                "label is empty: the synthetic-media label cannot be blank "
                "(to write videos without it, set output.synthetic_label: false)"
            )
        if not 0 <= self.crf <= 51:
            raise ValueError(f"crf must be 0..51, got {self.crf}")
        if self.preset not in ENCODER_PRESETS:
            raise ValueError(f"preset must be one of {', '.join(ENCODER_PRESETS)}, got {self.preset!r}")


def check_output_path(path: Path, inputs: tuple[Path, ...] = ()) -> None:
    """Fail early (before any work) when `path` cannot be written as an output video."""
    check_output_file(path, inputs)


Publish = Callable[[Path, Path], None]  # (finished temporary file, final name): move it into place


def _finish_partial(tmp: Path, final: Path, publish: Publish = os.replace) -> Path:
    """Move an interrupted run's output to a free NAME.partial.EXT beside FINAL; returns it."""
    dest = free_partial_name(final)
    publish(tmp, dest)
    return dest


class _AudioCopy:
    """Remuxes the input's first audio stream into the output, interleaved with the video."""

    def __init__(self, src_path: str, out_container):
        import av

        self._in = av.open(src_path)
        self._in_stream = self._in.streams.audio[0]
        self._out = out_container
        self._out_stream = out_container.add_stream_from_template(self._in_stream)
        self._packets = self._in.demux(self._in_stream)
        self._pending = None
        self._done = False

    def mux_until(self, seconds: float) -> None:
        """Write the audio packets that start before `seconds`."""
        tb = self._in_stream.time_base
        while not self._done:
            pkt = self._pending or next(self._packets, None)
            self._pending = None
            if pkt is None:
                self._done = True
                return
            if pkt.dts is None:  # the demuxer's final flush packet
                continue
            if pkt.pts is not None and float(pkt.pts * tb) >= seconds:
                self._pending = pkt
                return
            pkt.stream = self._out_stream
            self._out.mux(pkt)

    def close(self) -> None:
        self._in.close()


def _marked(image, watermark):
    """IMAGE, or a marked copy of it (the packet's frame may also feed a preview or camera)."""
    if watermark is None:
        return image
    image = image.copy()
    watermark.embed(image)
    return image


class VideoFileSink(Sink):
    """Encodes frames in order with their input pts (or capture times for cameras)."""

    name = "write"

    def __init__(
        self,
        path: str | Path,
        cfg: EncoderConfig,
        audio_from: str | Path | None = None,
        partial_on_interrupt: bool = False,
        publish: Publish | None = None,
        watermark=None,
    ):
        self.path = Path(path)
        self.cfg = cfg
        self.publish = publish or os.replace
        self.watermark = watermark  # engine.image.watermark.Watermark or None
        self.audio_from = str(audio_from) if audio_from else None
        self.partial_on_interrupt = partial_on_interrupt
        self.kept: Path | None = None  # where the output ended up (None: nothing kept)
        self._interrupted = False
        self._tmp: Path | None = None
        self._out = self._stream = self._audio = None
        self._t0: float | None = None
        self._last_pts: int | None = None
        self._last_end_s = 0.0
        self.frames_written = 0

    def setup(self, info: SourceInfo) -> None:
        check_output_path(self.path, (Path(self.audio_from),) if self.audio_from else ())
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.stem}.", suffix=f".partial{self.path.suffix}", dir=self.path.parent
        )
        os.close(fd)
        self._tmp = Path(tmp)
        try:
            self._open(info)
        except BaseException:  # a bad codec, or Ctrl-C/SIGTERM while opening: no temp file stays
            out, self._out = self._out, None
            if out is not None:
                with contextlib.suppress(Exception):  # the error being raised is the one to report
                    out.close()
            self._discard()
            raise

    def _open(self, info: SourceInfo) -> None:
        """The container, video stream, label and audio copy of the temporary file."""
        import av

        honour_umask(self._tmp)  # mkstemp makes it 0600; a video is an ordinary user file
        c = self.cfg
        try:
            self._out = av.open(str(self._tmp), "w")
        except (av.error.FFmpegError, ValueError) as e:
            self._discard()
            raise user_error(self.path, f"cannot write a video with this file extension ({e})") from None
        self._time_base = info.time_base or LIVE_TIME_BASE
        self._fps = info.fps or 30.0
        try:
            stream = self._out.add_stream(c.codec, rate=Fraction(self._fps).limit_denominator(1001))
        except (av.error.FFmpegError, ValueError) as e:
            self._discard()
            raise user_error(self.path, f"codec {c.codec!r} is not available ({e})") from None
        stream.width, stream.height = info.width, info.height
        pix_fmt = c.pix_fmt or _LOSSLESS_PIX_FMT.get(c.codec, "yuv420p")
        if pix_fmt == "yuv420p" and (info.width % 2 or info.height % 2):
            pix_fmt = "yuv444p"  # 4:2:0 needs even sizes
        stream.pix_fmt = pix_fmt
        stream.time_base = self._time_base
        stream.codec_context.time_base = self._time_base
        if c.codec in _CRF_CODECS:
            stream.options = {"crf": str(c.crf), "preset": c.preset}
        self._stream = stream
        if c.synthetic_label:
            self._out.metadata["comment"] = c.label
            self._out.metadata["description"] = c.label
        else:
            log.warning("%s: written WITHOUT the synthetic-media label (output.synthetic_label: false)", self.path)
        if c.copy_audio and self.audio_from:
            with av.open(self.audio_from) as probe:
                has_audio = bool(probe.streams.audio)
            if has_audio:
                self._audio = _AudioCopy(self.audio_from, self._out)
        self._size = (info.width, info.height)

    def write(self, packet: FramePacket) -> None:
        import av

        h, w = packet.frame.shape[:2]
        if (w, h) != self._size:
            raise user_error(self.path, f"frame {packet.seq} is {w}x{h}, the video is {self._size[0]}x{self._size[1]}")
        if packet.pts is not None and packet.time_base == self._time_base:
            pts = packet.pts
        else:
            # Cameras: presentation time = capture time, so the recording keeps real timing.
            self._t0 = packet.t_capture if self._t0 is None else self._t0
            pts = round((packet.t_capture - self._t0) / self._time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        self._last_pts = pts
        frame = av.VideoFrame.from_ndarray(_marked(packet.frame, self.watermark), format="bgr24")
        frame.pts = pts
        frame.time_base = self._time_base
        for p in self._stream.encode(frame):
            self._out.mux(p)
        self._last_end_s = float(pts * self._time_base) + 1.0 / self._fps
        if self._audio is not None:
            self._audio.mux_until(self._last_end_s - 1.0 / self._fps)
        self.frames_written += 1

    def interrupted(self) -> None:
        self._interrupted = True

    def close(self, complete: bool) -> None:
        if self._out is None:
            return
        try:
            if complete:
                for p in self._stream.encode(None):  # flush: without it the last frames are lost
                    self._out.mux(p)
                if self._audio is not None:
                    # Audio is cut at the end of the last video frame (ffmpeg's -shortest), so a
                    # --max-frames or interrupted run keeps picture and sound the same length.
                    self._audio.mux_until(self._last_end_s)
            self._out.close()
        except BaseException:
            complete = False
            raise
        finally:
            self._out = None
            if self._audio is not None:
                self._audio.close()
            if complete and self._interrupted and self.partial_on_interrupt:
                if self.frames_written:
                    self.kept = _finish_partial(self._tmp, self.path, self.publish)
                    self._tmp = None
                    log.info("interrupted: kept %d frames in %s", self.frames_written, self.kept)
                else:
                    self._discard()
            elif complete:
                self.publish(self._tmp, self.path)
                self.kept = self.path
                log.info("wrote %s (%d frames)", self.path, self.frames_written)
            else:
                self._discard()

    def _discard(self) -> None:
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None


class ImageSequenceSink(Sink):
    """Lossless PNG frames 000000.png, 000001.png, ... in a new folder (renamed in when complete)."""

    name = "write"

    def __init__(
        self,
        path: str | Path,
        partial_on_interrupt: bool = False,
        sign_image: Callable[[bytes, Path], None] | None = None,
        watermark=None,
    ):
        self.path = Path(path)
        self.partial_on_interrupt = partial_on_interrupt
        self.sign_image = sign_image
        self.watermark = watermark
        self.kept: Path | None = None
        self._interrupted = False
        self._tmp: Path | None = None
        self._index = 0

    def setup(self, info: SourceInfo) -> None:
        check_output_folder(self.path)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", suffix=".partial", dir=self.path.parent))
        honour_umask(self._tmp)  # mkdtemp makes it 0700

    def write(self, packet: FramePacket) -> None:
        dest = self._tmp / f"{self._index:06d}.png"
        # Fastest PNG level: the point of this sink is exactness, not size.
        params = [cv2.IMWRITE_PNG_COMPRESSION, 1]
        image = _marked(packet.frame, self.watermark)
        if self.sign_image is not None:
            ok, png = cv2.imencode(".png", image, params)
            if not ok:
                raise user_error(dest, "cannot encode image")
            self.sign_image(png.tobytes(), dest)
        elif not cv2.imwrite(str(dest), image, params):
            raise user_error(dest, "cannot write image")
        self._index += 1

    def interrupted(self) -> None:
        self._interrupted = True

    def close(self, complete: bool) -> None:
        if self._tmp is None:
            return
        tmp, self._tmp = self._tmp, None
        if complete and self._interrupted and self.partial_on_interrupt:
            if self._index:
                self.kept = _finish_partial(tmp, self.path)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
        elif complete:
            self.kept = self.path
            if self.path.exists():
                self.path.rmdir()  # checked empty in setup
            os.replace(tmp, self.path)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
