"""WebRTC signalling and peers for the studio (aiortc, on the web server's event loop).

Two roles. The *sender* is the page whose camera is the source: its offer carries the camera
track (sendrecv) and gets the swapped stream back on the same transceiver, and its microphone, if
any, comes back (to it and to every viewer) delayed by the target delay (rtc_audio.py). A
*viewer* (the output page, a page previewing a local camera or file) only receives. One sender at
a time: a second one is refused (409) unless its offer says `take_over`, which closes the first.
At most MAX_PEERS connections; each peer has one track each way; no STUN or TURN server is
contacted (host candidates only: loopback and the local network).

Peer connections are closed when their page goes away (connection state failed/closed) and all
of them when the studio stops (`close_from_thread`, bounded by CLOSE_S).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time

import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.exceptions import InternalError, InvalidAccessError, InvalidStateError
from aiortc.mediastreams import MediaStreamError

from swapstream.studio.rtc_audio import AudioDelay, DelayedAudioTrack
from swapstream.studio.rtc_media import VIDEO_CLOCK, BrowserInbox, OutputBoard
from swapstream.studio.rtc_receive import release_frames_on_marker
from swapstream.studio.rtc_send import RtcSettings, use_studio_encoder, without_playout_delay

ROLES = ("sender", "viewer")
MAX_PEERS = 4
CLOSE_S = 2.0
MAX_SDP = 64 * 1024


class RtcRefused(Exception):
    """An offer that is not taken: status is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class SwappedVideoTrack(MediaStreamTrack):
    """The swapped stream as a WebRTC video track: the newest output frame not sent yet.

    pts: when the frame is handed to the encoder (90 kHz). Stamped with the time it leaves rather
    than the time it was captured, frames arrive at the pace their stamps say, so the browser's
    jitter buffer does not grow to cover the swap's varying processing time."""

    kind = "video"

    def __init__(self, board: OutputBoard):
        super().__init__()
        self.board = board
        self._version = 0
        self._last_pts = -1
        self._t0 = time.perf_counter()
        self._returned: float | None = None
        self.sent = 0

    async def recv(self):
        import av

        if self._returned is not None:  # aiortc asks for the next frame once this one is encoded and sent
            self.board.encoded(time.perf_counter() - self._returned)
        got = await self.board.wait_newer(self._version) if self.readyState == "live" else None
        if got is None:
            raise MediaStreamError
        self._version, (frame, t_capture) = got
        now = time.perf_counter()
        self.board.server_ms.append((now - t_capture) * 1000.0)
        pts = max(round((now - self._t0) * 90000), self._last_pts + 1)
        self._last_pts = pts
        out = av.VideoFrame.from_ndarray(frame, format="bgr24")
        out.pts, out.time_base = pts, VIDEO_CLOCK
        self.sent += 1
        self._returned = time.perf_counter()
        return out


class RtcPeers:
    """inbox: where the sender's camera frames go; add_listener(fn): registers the board's
    on_output with the pipeline's output (called once, on the first offer); delay_ms() -> the
    target delay (for the audio); record_stage(name, seconds): the pipeline's stats; settings: how the
    swapped stream is sent (rtc_send.py)."""

    def __init__(
        self,
        inbox: BrowserInbox,
        add_listener,
        delay_ms=lambda: 0.0,
        record_stage=None,
        settings: RtcSettings | None = None,
    ):
        self.inbox = inbox
        self.settings = settings if settings is not None else RtcSettings()
        self._add_listener = add_listener
        self._delay_ms = delay_ms
        self._record_stage = record_stage
        self.board: OutputBoard | None = None
        self.audio: AudioDelay | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.peers: dict[str, tuple[RTCPeerConnection, str]] = {}
        self.sender_id: str | None = None
        self.refused = 0
        self._readers: set[asyncio.Task] = set()

    def _board(self) -> OutputBoard:
        if self.board is None:
            self.loop = asyncio.get_running_loop()
            self.board = OutputBoard(self.loop, self._record_stage)
            self.audio = AudioDelay(self._delay_ms)
            self._add_listener(self.board.on_output)
        return self.board

    async def offer(self, sdp: str, role: str, take_over: bool = False) -> dict:
        """The answer {"sdp", "type", "peer"} to a page's offer; RtcRefused when not taken."""
        board = self._board()
        if role == "sender" and self.sender_id is not None:
            if not take_over:
                self.refused += 1
                raise RtcRefused(409, "another page is sending its camera; take over explicitly to replace it")
            await self._close_peer(self.sender_id)
        if len(self.peers) >= MAX_PEERS:
            self.refused += 1
            raise RtcRefused(503, f"at most {MAX_PEERS} WebRTC connections at once; close a page first")
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        peer_id = secrets.token_hex(8)
        self.peers[peer_id] = (pc, role)
        if role == "sender":
            self.sender_id = peer_id

        @pc.on("track")
        def on_track(track):
            if role == "sender":
                self._read(track, self.inbox.put if track.kind == "video" else self.audio.put)

        @pc.on("connectionstatechange")
        async def on_state():
            if pc.connectionState in ("failed", "closed"):
                await self._close_peer(peer_id)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            kinds = [t.kind for t in pc.getTransceivers()]
            if kinds.count("video") != 1 or kinds.count("audio") > 1:
                raise RtcRefused(400, "an offer has exactly one video transceiver and at most one audio one")
            release_frames_on_marker(pc)  # the camera's frames decoded on their last packet, not a frame later
            pc.addTrack(SwappedVideoTrack(board))
            if "audio" in kinds:
                pc.addTrack(DelayedAudioTrack(self.audio))
            await pc.setLocalDescription(await pc.createAnswer())
            use_studio_encoder(pc, self.settings)
        except RtcRefused:
            await self._close_peer(peer_id)
            raise
        except (ValueError, KeyError, AttributeError, InternalError, InvalidAccessError, InvalidStateError) as e:
            # aiortc's answer to a malformed or unusable SDP
            await self._close_peer(peer_id)
            raise RtcRefused(400, f"not a usable WebRTC offer: {e}") from None
        answer = without_playout_delay(pc, sdp, pc.localDescription.sdp)  # each swapped frame shown once decoded
        return {"sdp": answer, "type": pc.localDescription.type, "peer": peer_id}

    def _read(self, track, put) -> None:
        """Drain one of the sender's tracks as fast as it decodes (aiortc's queue must not grow):
        camera frames go to the inbox (the newest waits there), microphone frames to the delay."""

        async def read():
            video = track.kind == "video"
            if video:
                self.inbox.set_connected(True)
            try:
                while True:
                    put(await track.recv())
            except MediaStreamError:
                pass
            finally:
                if video:
                    self.inbox.set_connected(False)

        task = asyncio.ensure_future(read())
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)

    async def _close_peer(self, peer_id: str) -> None:
        pc, _ = self.peers.pop(peer_id, (None, None))
        if self.sender_id == peer_id:
            self.sender_id = None
        if pc is not None:
            with contextlib.suppress(Exception):  # closing must go on whatever state aiortc is in
                await pc.close()

    async def close_all(self) -> None:
        if self.board is not None:
            self.board.close()
            self.audio.close()
        await asyncio.gather(*(self._close_peer(pid) for pid in list(self.peers)))

    def close_from_thread(self, timeout: float = CLOSE_S) -> None:
        """Close every peer connection from another thread (the studio's shutdown)."""
        if self.loop is None or self.loop.is_closed():
            return
        future = asyncio.run_coroutine_threadsafe(self.close_all(), self.loop)
        with contextlib.suppress(Exception):  # a peer that cannot close in time is dropped with the process
            future.result(timeout)

    def state(self) -> dict:
        roles = [role for _, role in self.peers.values()]
        board = self.board
        return {
            "available": True,
            "peers": len(roles),
            "sender": self.sender_id is not None,
            "viewers": roles.count("viewer"),
            "refused": self.refused,
            "inbox": self.inbox.state(),
            "server_ms": board.server_percentiles() if board is not None else None,
            "encode_ms": float(np.median(board.encode_ms)) if board is not None and board.encode_ms else None,
            "audio": self.audio.state() if self.audio is not None else None,
        }
