"""The studio's WebRTC routes: POST /api/rtc/offer (signalling) and GET /output (the output page).

POST /api/rtc/offer {"sdp": ..., "type": "offer", "role": "sender"|"viewer", "take_over": bool}
-> 200 {"sdp", "type": "answer", "peer"}; 400 for a malformed offer, 409 when another page sends
its camera and take_over is not set, 413 over MAX_SDP bytes, 503 at MAX_PEERS connections.
A sender's offer also switches the source to the page's camera. Both routes sit behind the
token and the Host/Origin gates like every other (app.py).
"""

from __future__ import annotations

import importlib.util
import json

import anyio
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from swapstream.engine.pipeline.controls import ControlError
from swapstream.studio.rtc_media import BROWSER_SOURCE


def webrtc_available() -> bool:
    return importlib.util.find_spec("aiortc") is not None


def peers_for(session, max_kbps: int = 1500):
    """An RtcPeers for the session, or None when aiortc is not installed (MJPEG only); max_kbps: the
    swapped stream's bitrate cap (--webrtc-kbps)."""
    if not webrtc_available() or getattr(session, "inbox", None) is None:
        return None
    from swapstream.studio.rtc import RtcPeers
    from swapstream.studio.rtc_send import RtcSettings

    return RtcPeers(
        session.inbox,
        session.hub.add_listener,
        delay_ms=lambda: session.board.current.target_delay_ms,
        record_stage=session.pipe.stats.record_stage,
        settings=RtcSettings(max_kbps=max_kbps),
    )


def _parse_offer(body: bytes) -> tuple[str, str, bool] | str:
    """(sdp, role, take_over), or the reason the message is refused."""
    from swapstream.studio.rtc import ROLES

    try:
        message = json.loads(body)
    except ValueError:
        return "an offer must be valid JSON"
    if not isinstance(message, dict) or message.get("type") != "offer" or not isinstance(message.get("sdp"), str):
        return 'an offer is {"type": "offer", "sdp": "...", "role": ..., "take_over": false}'
    role, take_over = message.get("role", "viewer"), message.get("take_over", False)
    if role not in ROLES or not isinstance(take_over, bool):
        return f"role must be one of {', '.join(ROLES)} and take_over true or false"
    return message["sdp"], role, take_over


def offer_endpoint(session, peers, read_bounded):
    """The signalling endpoint; read_bounded(request, limit) -> body bytes or None when too big."""
    from swapstream.studio.rtc import MAX_SDP, RtcRefused

    async def offer(request: Request) -> Response:
        if peers is None:
            return JSONResponse({"error": "WebRTC is not installed here (pip install aiortc); MJPEG only"}, 501)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "an offer is JSON (Content-Type: application/json)"}, 415)
        body = await read_bounded(request, MAX_SDP)
        if body is None:
            return JSONResponse({"error": f"an offer is at most {MAX_SDP} bytes"}, 413)
        parsed = _parse_offer(body)
        if isinstance(parsed, str):
            return JSONResponse({"error": parsed}, 400)
        sdp, role, take_over = parsed
        try:
            answer = await peers.offer(sdp, role, take_over)
        except RtcRefused as e:
            return JSONResponse({"error": str(e)}, e.status)
        if role == "sender" and session.board.current.source != BROWSER_SOURCE:
            try:
                await anyio.to_thread.run_sync(session.control, {"key": "source", "value": BROWSER_SOURCE})
            except ControlError as e:
                session.board.note(f"the page's camera could not become the source: {e}", "error")
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    return offer


def output_endpoint(page_text: str, headers: dict):
    async def output(request: Request) -> Response:
        return HTMLResponse(page_text, headers=headers)

    return output
