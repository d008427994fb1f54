"""Live sinks: a virtual camera (pyvirtualcam), a preview window (OpenCV GUI), and a tee.

A virtual camera makes the swapped stream usable in any video-call app. pyvirtualcam is given
BGR frames (our native order) and converts to the device's own format (I420/YUYV/NV12) in C.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import cv2

from swapstream.common.errors import UserError
from swapstream.common.pipeline_contract import FramePacket, Sink, SourceInfo

log = logging.getLogger(__name__)

NO_VCAM_HELP = (
    "no virtual camera device found: on Linux load v4l2loopback "
    "(sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=swapstream); "
    "on Windows/macOS install OBS Studio and start its Virtual Camera once"
)


class VirtualCameraSink(Sink):
    """Sends every frame to a virtual camera at the source's size and rate.

    pace=True sleeps until each frame's slot (pyvirtualcam's scheduler), so a source faster
    than `fps` does not flood the device; a camera source is already paced by the hardware.
    backend/device: pyvirtualcam's backend name and device (None: the platform default).
    """

    name = "vcam"

    def __init__(self, fps: float | None = None, pace: bool = True, backend: str | None = None, device=None):
        self.fps = fps
        self.pace = pace
        self.backend = backend
        self.device = device
        self._cam = None
        self.frames_sent = 0

    def setup(self, info: SourceInfo) -> None:
        import pyvirtualcam

        fps = self.fps or info.fps or 30.0
        try:
            self._cam = pyvirtualcam.Camera(
                info.width, info.height, fps, fmt=pyvirtualcam.PixelFormat.BGR, backend=self.backend, device=self.device
            )
        except RuntimeError as e:
            log.debug("pyvirtualcam: %s", e)
            raise UserError(NO_VCAM_HELP) from None
        log.info("virtual camera %s: %dx%d at %.1f fps", self._cam.device, info.width, info.height, fps)

    def write(self, packet: FramePacket) -> None:
        self._cam.send(packet.frame)
        self.frames_sent += 1
        if self.pace:
            self._cam.sleep_until_next_frame()

    def close(self, complete: bool) -> None:
        if self._cam is not None:
            self._cam.close()
            self._cam = None


def opencv_has_gui() -> bool:
    """False for opencv-python-headless (what this project installs by default)."""
    try:
        cv2.namedWindow("swapstream-probe", cv2.WINDOW_AUTOSIZE)
        cv2.destroyWindow("swapstream-probe")
    except cv2.error:
        return False
    return True


class PreviewSink(Sink):
    """Shows frames in an OpenCV window (needs an OpenCV build with a GUI and a display)."""

    name = "preview"

    def __init__(self, title: str = "swapstream"):
        self.title = title
        self._open = False

    def setup(self, info: SourceInfo) -> None:
        if not opencv_has_gui():
            raise UserError(
                "--preview: this OpenCV build has no GUI (opencv-python-headless) or there is no display; "
                "use --vcam or --record, or replace opencv-python-headless with opencv-python"
            )
        cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)
        self._open = True

    def write(self, packet: FramePacket) -> None:
        cv2.imshow(self.title, packet.frame)
        cv2.waitKey(1)  # lets the GUI process its events; the window is view-only

    def close(self, complete: bool) -> None:
        if self._open:
            cv2.destroyWindow(self.title)
            self._open = False


class TeeSink(Sink):
    """Several sinks fed the same frames in order (e.g. virtual camera + recording)."""

    name = "sink"

    def __init__(self, sinks: Sequence[Sink]):
        if not sinks:
            raise ValueError("TeeSink needs at least one sink")
        self.sinks = list(sinks)
        self._opened: list[Sink] = []

    def setup(self, info: SourceInfo) -> None:
        try:
            for s in self.sinks:
                s.setup(info)
                self._opened.append(s)
        except BaseException:
            self.close(complete=False)
            raise

    def write(self, packet: FramePacket) -> None:
        for s in self.sinks:
            s.write(packet)

    def interrupted(self) -> None:
        for s in self.sinks:
            s.interrupted()

    def close(self, complete: bool) -> None:
        first: BaseException | None = None
        for s in reversed(self._opened):
            try:
                s.close(complete)
            except Exception as e:
                first = first or e
        self._opened.clear()
        if first is not None:
            raise first


class NullSink(Sink):
    """Discards frames (benchmarks, dry runs)."""

    name = "sink"

    def write(self, packet: FramePacket) -> None:
        pass
