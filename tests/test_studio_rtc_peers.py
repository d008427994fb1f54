"""The studio's WebRTC signalling without a browser (aiortc on both sides, no media flowing):
one sender at a time (a second one gets 409 unless it takes over, which closes the first), at
most MAX_PEERS connections (503), a malformed offer refused (400), and every peer closed on stop."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("aiortc")
from aiortc import RTCConfiguration, RTCPeerConnection, VideoStreamTrack

from swapstream.studio.rtc import MAX_PEERS, RtcPeers, RtcRefused
from swapstream.studio.rtc_media import BrowserInbox


async def _scenario() -> None:
    listeners: list = []
    peers = RtcPeers(BrowserInbox(), listeners.append)
    clients: list[RTCPeerConnection] = []

    async def offer(role: str, take_over: bool = False) -> dict:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        clients.append(pc)
        if role == "sender":
            pc.addTransceiver(VideoStreamTrack(), direction="sendrecv")
        else:
            pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        return await peers.offer(pc.localDescription.sdp, role, take_over)

    async def refused(role: str, take_over: bool = False) -> int:
        with pytest.raises(RtcRefused) as e:
            await offer(role, take_over)
        return e.value.status

    try:
        answer = await offer("sender")
        assert answer["type"] == "answer" and "m=video" in answer["sdp"]
        assert len(listeners) == 1  # the output frames now reach the WebRTC tracks
        first = peers.sender_id
        assert await refused("sender") == 409
        assert peers.sender_id == first and len(peers.peers) == 1
        await offer("sender", take_over=True)  # the explicit switch closes the first sender
        assert peers.sender_id not in (None, first) and len(peers.peers) == 1
        with pytest.raises(RtcRefused) as bad:
            await peers.offer("v=0\r\nnot an offer", "viewer")
        assert bad.value.status == 400 and len(peers.peers) == 1  # nothing kept of it
        for _ in range(MAX_PEERS - 1):
            await offer("viewer")
        assert await refused("viewer") == 503 and len(peers.peers) == MAX_PEERS
        await peers.close_all()
        assert not peers.peers and peers.sender_id is None
    finally:
        await asyncio.gather(*(pc.close() for pc in clients))


def test_one_sender_bounded_peers_closed_on_stop():
    asyncio.run(_scenario())


def test_the_encode_counts_as_pipeline_work():
    """Each frame's VP8 encode goes into the pipeline's stats, so the governor sees it (a 720p
    encode slower than the frame budget lowers the output size like a slow stage)."""
    from swapstream.engine.pipeline.governor import cycle_ms
    from swapstream.engine.pipeline.metrics import PipelineStats

    from swapstream.studio.rtc_media import OutputBoard

    stats = PipelineStats(provider="cpu")
    loop = asyncio.new_event_loop()
    try:
        board = OutputBoard(loop, stats.record_stage)
        for _ in range(10):
            board.encoded(0.049)
    finally:
        loop.close()
    stage_ms = {**stats.recent()["stage_ms"], "swap": 5.0}
    assert stage_ms[OutputBoard.ENCODE_STAGE] == pytest.approx(49.0)
    cycle, slowest, _ = cycle_ms(stage_ms, 2)
    assert slowest == OutputBoard.ENCODE_STAGE and cycle > 1000 / 30
