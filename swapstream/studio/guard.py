"""The studio's Host and Origin checks (ASGI middleware), against DNS rebinding and cross-site use.

The token alone does not stop two attacks. DNS rebinding: a page at http://evil.example:8765
whose name is re-pointed to 127.0.0.1 talks to the studio as "same origin", with a Host header
naming evil.example. Cross-site use of a leaked token: a page elsewhere posts controls or an
offer with the token it learnt. So:

- every request must name this studio in its Host header: an IP literal (an address cannot be
  rebound), localhost, this machine's own names, or the --host given; anything else is 421;
- every state-changing request (any method but GET/HEAD/OPTIONS, and every WebSocket) that a
  browser marks as coming from a page (Origin, or Sec-Fetch-Site) must come from this very
  origin: Origin's host and port equal to the Host header, and Sec-Fetch-Site same-origin or
  none; anything else is 403. Clients that are not browsers send neither and need only the token.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
LOCAL_NAMES = ("localhost", "localhost.")


def _host_name(host_header: str) -> str:
    """'Example.COM:8765' -> 'example.com'; '[::1]:8765' -> '::1'."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def allowed_host_names(bound_host: str) -> frozenset[str]:
    """The names a Host header may carry besides IP literals: localhost, this machine's names and
    the --host the studio was started with."""
    names = {*LOCAL_NAMES, bound_host.lower()}
    hostname = socket.gethostname().lower()
    short = hostname.split(".")[0]
    names |= {hostname, short, f"{short}.local"}  # .local: the name other machines find by mDNS
    return frozenset(n for n in names if n)


def host_allowed(host_header: str, names: frozenset[str]) -> bool:
    name = _host_name(host_header)
    return bool(name) and (_is_ip(name) or name in names)


def origin_allowed(method: str, headers: dict[bytes, bytes], websocket: bool) -> bool:
    """True when a state-changing request comes from this origin (or from no browser page)."""
    if not websocket and method.upper() in SAFE_METHODS:
        return True
    site = headers.get(b"sec-fetch-site", b"").decode("latin-1").lower()
    if site and site not in ("same-origin", "none"):
        return False
    origin = headers.get(b"origin")
    if origin is None:
        return True
    parts = urlsplit(origin.decode("latin-1").strip().lower())
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
        return False  # "null" (sandboxed frames, files) and anything unparsable
    return parts.netloc == headers.get(b"host", b"").decode("latin-1").strip().lower()


class SameOriginGate:
    """ASGI middleware: 421 for a foreign Host, 403 for a state-changing request from another
    origin; then the wrapped app (the token gate)."""

    def __init__(self, app, bound_host: str):
        self.app = app
        self.names = allowed_host_names(bound_host)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        websocket = scope["type"] == "websocket"
        if not host_allowed(headers.get(b"host", b"").decode("latin-1"), self.names):
            await _refuse(send, websocket, 421, b"misdirected request: this studio does not serve that host name\n")
            return
        if not origin_allowed(scope.get("method", "GET"), headers, websocket):
            await _refuse(send, websocket, 403, b"forbidden: requests from other sites are refused\n")
            return
        await self.app(scope, receive, send)


async def _refuse(send, websocket: bool, status: int, body: bytes) -> None:
    if websocket:
        await send({"type": "websocket.close", "code": 1008})
        return
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
