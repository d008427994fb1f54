"""The page's camera frames reach the decoder on their last packet (RTP marker bit), not when the
next frame starts: aiortc's own buffer held every frame one frame interval (33 ms at 30 fps)."""

from __future__ import annotations

import asyncio
from fractions import Fraction

import av
import pytest

pytest.importorskip("aiortc")
from aiortc import RTCConfiguration, RTCPeerConnection, VideoStreamTrack
from aiortc.codecs.vpx import Vp8Decoder, Vp8Encoder, vp8_depayload
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket
from rtc_fixtures import coded_frames

from swapstream.studio.rtc import RtcPeers
from swapstream.studio.rtc_media import BrowserInbox
from swapstream.studio.rtc_receive import FrameOnMarkerBuffer


def _rtp_frames(n: int, seq0: int = 65530):
    """n real VP8 frames (640x480 astronaut) as RTP packets: [[packet, ...] per frame], the last
    packet of each frame marked, sequence numbers wrapping past 65535."""
    encoder = Vp8Encoder()
    encoder.target_bitrate = 1_500_000
    frames, seq = [], seq0
    for i, bgr in enumerate(coded_frames(n, 640, 480)):
        frame = av.VideoFrame.from_ndarray(bgr, format="bgr24")
        frame.pts, frame.time_base = i * 3000, Fraction(1, 90000)
        payloads, timestamp = encoder.encode(frame)
        packets = []
        for k, payload in enumerate(payloads):
            p = RtpPacket(payload_type=96, sequence_number=seq % 65536, timestamp=timestamp)
            p.marker = int(k == len(payloads) - 1)
            p._data = vp8_depayload(payload)
            packets.append(p)
            seq += 1
        frames.append(packets)
    return frames


def _frames_out(buffer: JitterBuffer, packets) -> list:
    """(index of the packet whose add returned it, frame) for every frame the buffer gives out."""
    out = []
    for i, packet in enumerate(packets):
        _, frame = buffer.add(packet)
        if frame is not None:
            out.append((i, frame))
    return out


def test_frame_released_on_its_last_packet():
    frames = _rtp_frames(4)
    assert all(len(f) > 1 for f in frames[:1])  # the keyframe spans several packets
    flat = [p for f in frames for p in f]
    ends = [sum(len(f) for f in frames[: k + 1]) - 1 for k in range(len(frames))]

    ours = _frames_out(FrameOnMarkerBuffer(), flat)
    assert [i for i, _ in ours] == ends  # each frame out on its own marker packet
    theirs = _frames_out(JitterBuffer(capacity=512, is_video=True), flat)
    assert [i for i, _ in theirs] == [e + 1 for e in ends[:-1]]  # aiortc's: a packet of the next frame later

    decoder = Vp8Decoder()
    for (_, a), (_, b) in zip(ours, theirs, strict=False):
        assert a.data == b.data and a.timestamp == b.timestamp
        assert decoder.decode(a)  # whole frames: they decode


def test_incomplete_frames_wait_and_an_unmarked_frame_completes_on_the_next_one():
    frames = _rtp_frames(3)
    first, second, third = frames
    buffer = FrameOnMarkerBuffer()
    # the first frame's second packet comes late (retransmitted): nothing leaves until it is in
    assert buffer.add(first[0])[1] is None
    for p in first[2:]:
        assert buffer.add(p)[1] is None
    _, frame = buffer.add(first[1])
    assert frame is not None and frame.data == b"".join(p._data for p in first)
    # a sender that marks no packet: its frame completes when the next one begins, as in aiortc
    for p in second:
        p.marker = 0
        assert buffer.add(p)[1] is None
    _, frame = buffer.add(third[0])
    assert frame is not None and frame.timestamp == second[0].timestamp


async def _installed() -> list:
    peers = RtcPeers(BrowserInbox(), lambda listener: None)
    page = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        page.addTransceiver(VideoStreamTrack(), direction="sendrecv")
        await page.setLocalDescription(await page.createOffer())
        await peers.offer(page.localDescription.sdp, "sender")
        ((pc, _),) = peers.peers.values()
        return [type(t.receiver._RTCRtpReceiver__jitter_buffer) for t in pc.getTransceivers()]
    finally:
        await peers.close_all()
        await page.close()


def test_the_studio_receives_the_camera_with_it():
    """With the aiortc the project pins, the sender's video receiver gets the buffer (a changed
    aiortc keeps its own buffer silently; this says so)."""
    assert asyncio.run(_installed()) == [FrameOnMarkerBuffer]
