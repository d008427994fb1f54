"""Swap live and watch and steer it in a local web page: preview, controls, numbers, recording.

Same inputs as `live` (a camera, a device or a video file, which loops), plus a small web server
bound to 127.0.0.1. Open the URL it prints: it carries a random token, required by every
request, so no other page or user can watch or steer the session. Changes (colour, mask, blend,
erode/blur, faces, swap on/off, model, source, virtual camera, output size, target delay,
recording, the quality governor) apply between two frames, without restarting. Ctrl-C or SIGTERM
stops it and finalises the recording in progress.

Over WebRTC (swapstream/studio/rtc*.py, when aiortc is installed) the page can send its own camera
(`--source browser`) and get the swapped stream back as a video track; /output is the bare video
for OBS. Any --host but this machine needs --allow-remote and is served over HTTPS (--tls-cert/
--tls-key, else a self-signed certificate kept under the user's config folder; --tls on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from swapstream.commands.swap_flags import add_swap_arguments
from swapstream.common.arg_types import MAX_TARGET_FPS, float_in, int_in
from swapstream.common.errors import UserError
from swapstream.credentials.flags import add_credential_arguments

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        default="0",
        help="camera index, device path (/dev/videoN), a video file, or `browser`: the camera of the page that "
        "sends it over WebRTC",
    )
    parser.add_argument("--once", action="store_true", help="play a video file once, then stop (default: loop it)")
    parser.add_argument("--vcam", action="store_true", help="also send the swapped stream to a virtual camera")
    parser.add_argument("--vcam-device", default=None, help="virtual camera device (default: the first one)")
    parser.add_argument("--vcam-backend", default=None, help="pyvirtualcam backend (default: the platform's)")
    parser.add_argument("--record", type=Path, default=None, help="start recording to this file at once")
    parser.add_argument(
        "--record-dir", type=Path, default=Path("."), help="folder of recordings started in the page (default: .)"
    )
    parser.add_argument("--models", type=Path, default=None, help="models folder of the picker (default: -m's folder)")
    parser.add_argument(
        "--media",
        type=Path,
        default=None,
        help="videos the page may switch to (default: the folder of a --source file)",
    )
    parser.add_argument(
        "--target-fps",
        type=float_in(0, MAX_TARGET_FPS),
        default=None,
        help="turn the quality governor on: lower quality knobs in a fixed order while fps is below this "
        "(0 = the source's rate), restore them when there is headroom",
    )
    parser.add_argument("--target-delay", type=float, default=0.0, help="hold each frame this many ms after capture")
    parser.add_argument("--width", type=int, default=None, help="camera width to ask for (default 640)")
    parser.add_argument("--height", type=int, default=None, help="camera height to ask for (default 480)")
    parser.add_argument("--fps", type=float, default=None, help="camera rate to ask for (default 30)")
    parser.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0 = until Ctrl-C)")
    web = parser.add_argument_group("web server")
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    web.add_argument("--port", type=int_in(0, 65535), default=8765, help="port (default 8765; 0 = any free port)")
    web.add_argument(
        "--allow-remote", action="store_true", help="allow a --host other than this machine (others on the network)"
    )
    web.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS on this machine too (always on for --allow-remote; a self-signed certificate "
        "is made once under ~/.config/swapstream unless --tls-cert/--tls-key are given)",
    )
    web.add_argument("--tls-cert", type=Path, default=None, help="TLS certificate (PEM) to serve HTTPS with")
    web.add_argument("--tls-key", type=Path, default=None, help="its private key (PEM)")
    web.add_argument(
        "--webrtc-kbps",
        type=int_in(250, 50000),
        default=1500,
        help="bitrate cap of the swapped stream over WebRTC, kbit/s (default 1500; it starts there and "
        "goes lower only when the browser's bandwidth estimate does)",
    )
    web.add_argument("--jpeg-quality", type=int_in(1, 100), default=80, help="preview JPEG quality (default 80)")
    add_swap_arguments(parser)
    add_credential_arguments(parser)


def check_host(host: str, allow_remote: bool) -> None:
    """127.0.0.1 by default; any other address only with --allow-remote, and then with a warning."""
    if host in LOCAL_HOSTS:
        return
    if not allow_remote:
        raise UserError(f"--host {host}: other machines could reach the studio; add --allow-remote if you mean it")
    print(
        f"studio: WARNING: listening on {host}: anyone on the network who gets the URL can watch and steer",
        file=sys.stderr,
    )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise UserError(f"--host {host} --port {port}: cannot listen there ({e.strerror}); try --port 0") from None
    sock.listen(16)
    sock.set_inheritable(True)
    return sock


def start_server(app, sock: socket.socket, tls: tuple[Path, Path] | None = None):
    """uvicorn on its own thread (the main thread keeps the signals and finalises on exit)."""
    import uvicorn

    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=1,
        access_log=False,
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="studio-http", daemon=True)
    thread.start()
    return server, thread


def url_of(sock: socket.socket, host: str, token: str, tls: bool = False) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}/?token={token}"


@contextlib.contextmanager
def sigterm_stops():
    """SIGTERM ends the studio like Ctrl-C (where the CLI has not arranged that already)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def signals_held():
    """While the studio shuts down (the recording is being finalised), another Ctrl-C or SIGTERM
    cannot cut that short; shutting down takes a few seconds at most."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(args: argparse.Namespace) -> int:
    from swapstream.studio.app import create_app, new_token
    from swapstream.studio.rtc_app import peers_for
    from swapstream.studio.session import build_session
    from swapstream.studio.tls import fingerprint, tls_files

    check_host(args.host, args.allow_remote)
    tls = tls_files(args, remote=args.host not in LOCAL_HOSTS)
    if args.record is not None:
        from swapstream.commands.live import check_record_path

        check_record_path(args)
    sock = bind(args.host, args.port)
    session = build_session(args)
    token = new_token()
    rtc = peers_for(session, args.webrtc_kbps)
    server, thread = start_server(create_app(session, token, rtc=rtc, bound_host=args.host), sock, tls)
    pipe = session.pipe
    info = pipe.info
    print(
        f"studio: {info.name} {info.width}x{info.height} @ {info.fps:.0f} fps on {pipe.stats.provider}", file=sys.stderr
    )
    if tls is not None:
        print(f"studio: TLS certificate {tls[0]} SHA-256 {fingerprint(tls[0])}", file=sys.stderr)
    print(f"studio: open {url_of(sock, args.host, token, tls is not None)}", flush=True)
    t_end = time.monotonic() + args.duration if args.duration else None
    interrupted = False
    try:
        with sigterm_stops():
            session.start()
            while not pipe.wait(0.25):
                if t_end is not None and time.monotonic() >= t_end:
                    break
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the normal way to close the studio
        interrupted = True
    finally:
        with signals_held():
            pipe.stop()
            if rtc is not None:
                rtc.close_from_thread()
            session.close()
            server.should_exit = True
            thread.join(3.0)
            sock.close()
            pipe.join()  # finalises the recording; re-raises a pipeline failure
    s = pipe.stats.snapshot()
    saved = session.sink.finished if session.sink is not None else []
    print(
        f"studio: {s.frames} frames in {s.elapsed_s:.1f} s ({s.fps:.1f} fps), {s.dropped} dropped"
        + (f"; recorded {', '.join(map(str, saved))}" if saved else "")
        + (" (stopped)" if interrupted else ""),
        file=sys.stderr,
    )
    # Everything is saved and closed. The interpreter's last garbage collection walks the whole
    # heap (models, media and web libraries): 2.5 s of CPU here, ten times that on a loaded
    # machine. Nothing is left for it to do, so the objects alive now are exempted from it.
    gc.freeze()
    return 0
