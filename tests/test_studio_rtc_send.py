"""How the studio sends the swapped stream: the browser is asked to show each frame at once
(playout-delay min 0 max 0, negotiated and on every packet the studio sends), and the VP8 encoder
starts at its cap and is not reopened (a keyframe each time) while the browser's estimate ramps."""

from __future__ import annotations

import asyncio
from fractions import Fraction

import av
import pytest

pytest.importorskip("aiortc")
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtp import HeaderExtensions, RtpPacket, unpack_header_extensions
from rtc_fixtures import coded_frames

from swapstream.studio.rtc import RtcPeers
from swapstream.studio.rtc_media import BrowserInbox
from swapstream.studio.rtc_send import PLAYOUT_DELAY_URI, RtcSettings, StudioVp8Encoder

CHROME_EXTMAP = f"a=extmap:5 {PLAYOUT_DELAY_URI}"  # as Chrome offers it


async def _studio_answer(with_playout: bool) -> tuple[str, bytes, object]:
    """(answer SDP, one RTP packet as the studio's video sender serializes it, that sender's
    encoder before any frame) for an aiortc page that offers like Chrome (or without the extension)."""
    peers = RtcPeers(BrowserInbox(), lambda listener: None, settings=RtcSettings(max_kbps=2000))
    page = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        page.addTransceiver(VideoStreamTrack(), direction="sendrecv")
        await page.setLocalDescription(await page.createOffer())
        offer = page.localDescription.sdp
        if with_playout:
            offer = offer.replace("a=mid:0\r\n", f"a=mid:0\r\n{CHROME_EXTMAP}\r\n", 1)
        answer = (await peers.offer(offer, "sender"))["sdp"]
        await page.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))  # a valid answer
        ((pc, _),) = peers.peers.values()
        sender = pc.getTransceivers()[0].sender
        packet = RtpPacket(payload_type=97, sequence_number=1, timestamp=1)
        packet.extensions = HeaderExtensions()
        packet.extensions.abs_send_time = 5
        wire = packet.serialize(sender._RTCRtpSender__rtp_header_extensions_map)
        return answer, wire, sender._RTCRtpSender__encoder
    finally:
        await peers.close_all()
        await page.close()


def _extensions(wire: bytes) -> dict[int, bytes]:
    if not wire[0] & 0x10:
        return {}
    profile, words = int.from_bytes(wire[12:14], "big"), int.from_bytes(wire[14:16], "big")
    return dict(unpack_header_extensions(profile, wire[16 : 16 + 4 * words]))


def test_playout_delay_zero_answered_and_on_every_packet():
    answer, wire, _ = asyncio.run(_studio_answer(True))
    assert CHROME_EXTMAP in answer.split("\r\n")
    assert _extensions(wire)[5] == bytes(3)  # min 0, max 0


def test_no_playout_delay_without_the_offer():
    answer, wire, _ = asyncio.run(_studio_answer(False))
    assert PLAYOUT_DELAY_URI not in answer and 5 not in _extensions(wire)


def _keyframes(encoder, estimates: dict[int, int]) -> int:
    """Keyframes among 20 frames encoded while the browser's estimate (REMB) is set to
    estimates[i] before frame i."""
    count = 0
    for i, bgr in enumerate(coded_frames(20, 640, 480)):
        if i in estimates:
            encoder.target_bitrate = estimates[i]
        frame = av.VideoFrame.from_ndarray(bgr, format="bgr24")
        frame.pts, frame.time_base = i * 3000, Fraction(1, 90000)
        payloads, _ = encoder.encode(frame)
        count += payloads[0][4] & 0x01 == 0  # after aiortc's 4-byte descriptor, the VP8 frame tag: 0 = key frame
    return count


def test_the_encoder_starts_at_its_cap_and_a_rising_estimate_does_not_reopen_it():
    _, _, encoder = asyncio.run(_studio_answer(False))
    assert isinstance(encoder, StudioVp8Encoder) and encoder.target_bitrate == 2_000_000
    # loopback: the estimate is above the cap and climbing, then it falls (a congested link)
    estimates = {3: 2_200_000, 6: 2_600_000, 9: 3_000_000, 12: 5_000_000, 15: 1_000_000}
    assert _keyframes(encoder, estimates) == 2  # the first frame, and the fall to 1 Mbit/s
    assert encoder.target_bitrate == 1_000_000
    assert _keyframes(Vp8Encoder(), estimates) == 3  # aiortc's: also when 500 kbit/s rises to its cap


def test_webrtc_kbps_from_the_command_line_to_the_encoder():
    from types import SimpleNamespace

    from swapstream.engine.pipeline.metrics import PipelineStats

    from swapstream.cli import _available_commands, build_parser
    from swapstream.studio.rtc_app import peers_for

    def parse(*extra):
        return build_parser(_available_commands()).parse_args(["studio", "-m", "model.onnx", *extra])

    assert parse().webrtc_kbps == 1500
    with pytest.raises(SystemExit):
        parse("--webrtc-kbps", "100")  # below aiortc's floor
    session = SimpleNamespace(
        inbox=BrowserInbox(),
        hub=SimpleNamespace(add_listener=lambda listener: None),
        board=SimpleNamespace(current=SimpleNamespace(target_delay_ms=0.0)),
        pipe=SimpleNamespace(stats=PipelineStats(provider="cpu")),
    )
    peers = peers_for(session, parse("--webrtc-kbps", "800").webrtc_kbps)
    assert peers.settings == RtcSettings(max_kbps=800)
    assert StudioVp8Encoder(peers.settings.max_kbps).target_bitrate == 800_000
