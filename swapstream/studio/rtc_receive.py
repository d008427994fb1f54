"""The studio's side of receiving the page's camera: a frame goes to the decoder when its last
packet is in, not when the next frame starts.

aiortc's video jitter buffer (aiortc 1.16, `JitterBuffer._remove_frame`) sees a frame as complete
only when a packet of the *next* frame arrives. Every camera frame therefore waits one frame
interval before it is decoded (33 ms at 30 fps), and two or three when the browser's encoder
skips frames (its rate control does after a keyframe or when the bandwidth estimate is low),
which is what the round trip's p99 is made of. The sender marks a frame's last packet (the RTP
marker bit, RFC 3550 and the VP8/H.264 payload formats): `FrameOnMarkerBuffer` hands the frame on
as soon as that packet and every one before it since the frame's first are in (a lost packet is
waited for, NACKed and retransmitted, as before). Frames of a sender that marks no packet still
complete the old way, when the next frame begins.
"""

from __future__ import annotations

from aiortc.jitterbuffer import JitterBuffer, JitterFrame

# aiortc's receiver keeps its jitter buffer in a private attribute; it is replaced per receiver
# (never in aiortc's module), and only when it is there and of the expected type.
_RECEIVER_BUFFER = "_RTCRtpReceiver__jitter_buffer"
VIDEO_CAPACITY = 512  # packets, as aiortc's own video buffer


class FrameOnMarkerBuffer(JitterBuffer):
    """A video jitter buffer (RTP packets in, one encoded frame out per `add` when one is complete)
    that completes a frame on its marker packet."""

    def __init__(self, capacity: int = VIDEO_CAPACITY):
        super().__init__(capacity=capacity, is_video=True)

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        packets = []
        timestamp = None
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self.capacity]
            if packet is None:
                return None  # a gap: the frame is not complete yet
            if timestamp is None:
                timestamp = packet.timestamp
            elif packet.timestamp != timestamp:
                return self._release(packets, timestamp, count)  # the next frame began
            packets.append(packet)
            if packet.marker:
                return self._release(packets, timestamp, count + 1)
        return None

    def _release(self, packets: list, timestamp: int, count: int) -> JitterFrame:
        frame = JitterFrame(data=b"".join(p._data for p in packets), timestamp=timestamp)
        self.remove(count)
        return frame


def release_frames_on_marker(pc) -> int:
    """Give every video receiver of `pc` (an aiortc RTCPeerConnection, after setRemoteDescription
    and before any media flows) a FrameOnMarkerBuffer. Returns how many were replaced (0 with an
    aiortc whose receiver is built differently: it then keeps its own buffer)."""
    replaced = 0
    for transceiver in pc.getTransceivers():
        receiver = transceiver.receiver
        if transceiver.kind == "video" and type(getattr(receiver, _RECEIVER_BUFFER, None)) is JitterBuffer:
            setattr(receiver, _RECEIVER_BUFFER, FrameOnMarkerBuffer())
            replaced += 1
    return replaced
