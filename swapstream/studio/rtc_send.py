"""How the studio sends the swapped stream: shown by the browser as soon as it is decoded, and
encoded at a steady rate (no keyframes while the browser's bandwidth estimate ramps up).

Playout delay. Chrome holds each received frame in its jitter buffer for its estimate of the
stream's jitter (`jitterBufferTarget = 0` on the page lowers only the minimum): here 70-160 ms,
because the swap's processing time varies from frame to frame. The playout-delay RTP header
extension with min = max = 0 (offered by Chrome, negotiated in the studio's answer and put on
every packet the studio sends) makes it decode and show each frame at once; the studio's own
target delay (pacing.py) is where smoothing belongs.

Rate. aiortc's `Vp8Encoder` (1.16) starts at 500 kbit/s and opens a new encoder, so sends a
keyframe, whenever the receiver's estimate (REMB) moves its target by more than 10 %: while
Chrome's estimate ramps up on loopback that was 6-8 keyframes in 10 s, each several times a
frame's size and encode time. `StudioVp8Encoder` starts at its cap (`RtcSettings.max_kbps`), so a
peer whose estimate is above the cap (loopback, a LAN) never reopens it; a falling estimate still
lowers the rate.

Both reach into aiortc's sender (private attributes, pinned by tests/test_studio_rtc_send.py):
where they are missing, the studio keeps aiortc's behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiortc.codecs.vpx import MIN_BITRATE, Vp8Encoder
from aiortc.rtp import HeaderExtensionsMap, pack_header_extensions, unpack_header_extensions

PLAYOUT_DELAY_URI = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"
_SENDER_ENCODER = "_RTCRtpSender__encoder"  # made on the first frame unless one is set
_SENDER_EXTENSIONS = "_RTCRtpSender__rtp_header_extensions_map"
_ENCODER_BUFFER = "_Vp8Encoder__target_bitrate"  # aiortc sizes the rate-control buffer from it
NO_PLAYOUT_DELAY = bytes(3)  # min 0, max 0 (12 bits each, 10 ms units)


@dataclass(frozen=True)
class RtcSettings:
    """max_kbps: the swapped stream's bitrate cap (and its start), kbit/s."""

    max_kbps: int = 1500


class StudioVp8Encoder(Vp8Encoder):
    """aiortc's VP8 encoder (av.VideoFrame in -> RTP payloads, RTP timestamp) starting at `max_kbps`
    and clamped to [aiortc's minimum, max_kbps]."""

    def __init__(self, max_kbps: int):
        self._cap = max(int(max_kbps) * 1000, MIN_BITRATE)
        super().__init__()
        self.target_bitrate = self._cap

    @property
    def target_bitrate(self) -> int:
        return self._target

    @target_bitrate.setter
    def target_bitrate(self, bitrate: int) -> None:
        self._target = max(MIN_BITRATE, min(int(bitrate), self._cap))
        setattr(self, _ENCODER_BUFFER, self._target)  # a 1 s buffer at the rate in use, as aiortc's


class NoPlayoutDelay(HeaderExtensionsMap):
    """aiortc's header extensions plus playout-delay min 0, max 0 under the negotiated id."""

    def __init__(self, ext_id: int):
        super().__init__()
        self._ext = (ext_id, NO_PLAYOUT_DELAY)

    def set(self, values) -> tuple[int, bytes]:
        profile, value = super().set(values)
        extensions = list(unpack_header_extensions(profile, value)) if profile else []
        return pack_header_extensions([*extensions, self._ext])


def offered_extension_id(offer_sdp: str, uri: str) -> int | None:
    """The id a video header extension has in the offer, or None."""
    video = False
    for line in offer_sdp.splitlines():
        if line.startswith("m="):
            video = line.startswith("m=video")
        elif video and line.startswith("a=extmap:") and line.split()[1] == uri:
            return int(line.split()[0].split(":")[1].split("/")[0])
    return None


def _video_senders(pc) -> list:
    return [t.sender for t in pc.getTransceivers() if t.kind == "video"]


def use_studio_encoder(pc, settings: RtcSettings) -> int:
    """Give the video sender of `pc` (after setLocalDescription, before media flows) the studio's
    encoder where VP8 was negotiated. Returns how many senders got it."""
    done = 0
    for transceiver in pc.getTransceivers():
        codecs = getattr(transceiver, "_codecs", None)
        if transceiver.kind != "video" or not codecs or codecs[0].mimeType.lower() != "video/vp8":
            continue
        if hasattr(transceiver.sender, _SENDER_ENCODER) and getattr(transceiver.sender, _SENDER_ENCODER) is None:
            setattr(transceiver.sender, _SENDER_ENCODER, StudioVp8Encoder(settings.max_kbps))
            done += 1
    return done


def without_playout_delay(pc, offer_sdp: str, answer_sdp: str) -> str:
    """The answer to send: with playout-delay negotiated (and set on the video senders of `pc`)
    when the offer has it, else unchanged."""
    ext_id = offered_extension_id(offer_sdp, PLAYOUT_DELAY_URI)
    senders = _video_senders(pc)
    if ext_id is None or not senders or not all(hasattr(s, _SENDER_EXTENSIONS) for s in senders):
        return answer_sdp
    for sender in senders:
        setattr(sender, _SENDER_EXTENSIONS, NoPlayoutDelay(ext_id))
    lines, video, at = answer_sdp.split("\r\n"), False, None
    for i, line in enumerate(lines):
        if line.startswith("m="):
            video = line.startswith("m=video")
        if video and (line.startswith("a=extmap:") or (at is None and line.startswith("a=mid:"))):
            at = i + 1  # after the video section's last extension (or its mid)
    if at is None:
        return answer_sdp
    return "\r\n".join([*lines[:at], f"a=extmap:{ext_id} {PLAYOUT_DELAY_URI}", *lines[at:]])
