"""The studio's web app (Starlette): the page, its state, its controls and the preview streams.

Security: every request (page, static files, state, control, streams; HTTP and WebSocket alike)
must carry the session's random token (`?token=` or the X-Swapstream-Token header), compared in
constant time; without it the answer is 403 and nothing else. Another web page open in the same
browser cannot guess it, so it can neither watch nor steer. Control bodies are bounded
(MAX_BODY bytes), the page is served with a strict Content-Security-Policy (nothing but this
server), no referrer, and may not be framed.

Routes: GET / (the page), GET /static/{file}, GET /api/state, POST /api/control
({"key": ..., "value": ...} -> 200 with the new settings, or 400 {"error": message}),
GET /stream/{swapped|original} (multipart MJPEG, newest frame only); with WebRTC (rtc_app.py):
GET /output (only the swapped video, for OBS's Browser Source) and POST /api/rtc/offer.
In front of the token gate, guard.SameOriginGate checks Host on every request and Origin on
every state-changing one (DNS rebinding, cross-site use of a leaked token).
"""

from __future__ import annotations

import json
import secrets
from importlib import resources
from urllib.parse import parse_qs

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from swapstream.engine.pipeline.controls import ControlError
from swapstream.studio.guard import SameOriginGate
from swapstream.studio.preview_hub import STREAMS
from swapstream.studio.rtc_app import offer_endpoint, output_endpoint

MAX_BODY = 4096
TOKEN_HEADER = "x-swapstream-token"
STATIC = {
    "app.js": "text/javascript",
    "rtc.js": "text/javascript",
    "output.js": "text/javascript",
    "style.css": "text/css",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def new_token() -> str:
    return secrets.token_urlsafe(24)


class TokenGate:
    """ASGI middleware: 403 for any HTTP or WebSocket request without the right token."""

    def __init__(self, app, token: str):
        if not token:
            raise ValueError("the studio needs a non-empty token")
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket") and not self._allowed(scope):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            body = b"forbidden: open the URL that swapstream studio printed (it carries the token)\n"
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope) -> bool:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        got = query.get("token", [""])[0]
        if not got:
            headers = dict(scope.get("headers") or [])
            got = headers.get(TOKEN_HEADER.encode(), b"").decode("latin-1")
        return secrets.compare_digest(got.encode("utf-8", "replace"), self.token.encode())


def _static_text(name: str) -> str:
    return resources.files("swapstream.studio").joinpath("static", name).read_text(encoding="utf-8")


async def _read_bounded(request: Request, limit: int = MAX_BODY) -> bytes | None:
    """The request body, or None when it is larger than limit bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return body


def create_app(session, token: str, *, rtc=None, bound_host: str = "127.0.0.1") -> SameOriginGate:
    """The ASGI app for `session` (a StudioSession, or anything with state/control/hub);
    rtc: its rtc.RtcPeers (None: MJPEG only); bound_host: the --host it listens on."""
    page = _static_text("index.html").replace("{{TOKEN}}", token)

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers=SECURITY_HEADERS)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return Response("not found\n", 404, media_type="text/plain")
        return Response(_static_text(name), media_type=STATIC[name], headers=SECURITY_HEADERS)

    async def state(request: Request) -> Response:
        after = request.query_params.get("after", "0")
        data = await anyio.to_thread.run_sync(session.state, int(after) if after.isdigit() else 0)
        data["rtc"] = rtc.state() if rtc is not None else {"available": False}
        return JSONResponse(data, headers={"Cache-Control": "no-store"})

    async def control(request: Request) -> Response:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "control messages are JSON (Content-Type: application/json)"}, 415)
        body = await _read_bounded(request)
        if body is None:
            return JSONResponse({"error": f"a control message is at most {MAX_BODY} bytes"}, 413)
        try:
            message = json.loads(body)
        except ValueError:
            return JSONResponse({"error": "a control message must be valid JSON"}, 400)
        try:
            settings = await anyio.to_thread.run_sync(session.control, message)
        except ControlError as e:
            return JSONResponse({"error": str(e)}, 400)
        return JSONResponse({"ok": True, "settings": settings})

    async def stream(request: Request) -> Response:
        which = request.path_params["which"]
        if which not in STREAMS:
            return Response("not found\n", 404, media_type="text/plain")
        return StreamingResponse(
            _mjpeg(session.hub, which),
            media_type="multipart/x-mixed-replace; boundary=frame",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    routes = [
        Route("/", index),
        Route("/static/{name}", static),
        Route("/api/state", state),
        Route("/api/control", control, methods=["POST"]),
        Route("/stream/{which}", stream),
        Route("/output", output_endpoint(_static_text("output.html").replace("{{TOKEN}}", token), SECURITY_HEADERS)),
        Route("/api/rtc/offer", offer_endpoint(session, rtc, _read_bounded), methods=["POST"]),
    ]
    return SameOriginGate(TokenGate(Starlette(routes=routes), token), bound_host)


async def _mjpeg(hub, which: str):
    """multipart/x-mixed-replace parts, each the newest JPEG; ends when the hub closes."""
    with hub.viewer(which):
        last = -1
        while not hub.closed:
            got = await anyio.to_thread.run_sync(hub.wait_jpeg, which, last, 0.5)
            if got is None:
                continue
            last, data = got
            head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            yield head + data + b"\r\n"
