"""The studio over WebRTC, for real: headless Chromium whose fake camera plays the demo's
astronaut clip (frames numbered in the margin) sends it to a studio process, which sends the
swapped stream back as a WebRTC track. Frames are paired by number: inside the face they differ
from what was sent, outside it they are equal within the codec's tolerance. Also: the token and
the Host/Origin checks at signalling, a second sender refused unless it takes over, the output
page over HTTPS with the generated certificate, a recording finalised on SIGTERM while a peer
is connected, peer connections closed within 2 s of stopping, and the microphone back delayed
by the target delay.
"""

from __future__ import annotations

import json
import os
import select
import signal
import ssl
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request

import av
import numpy as np
import pytest
from cdp import Browser, find_browser
from conftest import REPO
from model_fixtures import write_invert_model
from rtc_fixtures import COMPARE_JS, MEASURE_JS, coded_frames, fake_camera_args, write_y4m

pytest.importorskip("websockets")
pytest.importorskip("aiortc")
BROWSER = find_browser()
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no chromium on this machine (.ci/run installs Debian's chromium with apt)"
)
W, H = 640, 480


def start_studio(tmp_path, *args, env=None):
    """A studio process and the URL it printed. Its stderr goes to a file (stderr_of): a pipe
    nobody reads while the test runs would stall the studio once 64 KB of log filled it."""
    model = write_invert_model(tmp_path / "invert.onnx", 96)
    cmd = [sys.executable, "-m", "swapstream", "studio", "-m", str(model), "--port", "0", "--providers", "cpu"]
    with open(tmp_path / "studio-stderr.log", "w") as err:
        proc = subprocess.Popen([*cmd, *args], cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    proc.stderr_path = tmp_path / "studio-stderr.log"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if line.startswith("studio: open "):
                return proc, line.split()[-1]
        if proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"studio did not print its URL: {stderr_of(proc)}")


def stderr_of(proc) -> str:
    """What a studio from start_studio has written to stderr so far."""
    return proc.stderr_path.read_text(errors="replace")


def post_offer(url: str, body: dict, headers: dict | None = None, context=None) -> int:
    """The HTTP status of a signalling request (no browser: urllib)."""
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def face_box(frame: np.ndarray) -> tuple[int, int, int, int]:
    from swapstream.engine.face.landmarks import FaceDetector

    det = FaceDetector()
    try:
        x, y, w, h = det.detect(frame)[0].box
    finally:
        det.close()
    return int(x), int(y), int(x + w), int(y + h)


def stop_within(proc, seconds: float) -> float:
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0, stderr_of(proc)
    took = time.monotonic() - t0
    assert took < seconds, f"the studio took {took:.1f} s to stop"
    return took


@pytest.fixture
def still_camera(tmp_path):
    """A fake camera of one pose of the astronaut (so that any two frames share the face box)."""
    frames = list(coded_frames(60, W, H, still=True))
    return write_y4m(frames, tmp_path / "camera.y4m", W, H), face_box(frames[0])


# What the page's peer connection was doing when the swapped video did not come (app.js's `rtc`).
CALL_STATE_JS = (
    "(() => { try { return 'phase ' + rtc.phase + ' ' + JSON.stringify(rtc.pc ? {connection: rtc.pc.connectionState,"
    " ice: rtc.pc.iceConnectionState, gathering: rtc.pc.iceGatheringState} : null) + ' '"
    " + document.getElementById('message').textContent; } catch (e) { return String(e); } })()"
)
# app.js attaches the buttons' handlers on DOMContentLoaded, in the same task that points the
# MJPEG view at the stream: once that src is set, a click reaches startRtc. Clicked before it (the
# element and StudioRtc already there), nothing happened and the call never started (phase null),
# in 2 of 5 full runs on a 2-core host.
PAGE_READY_JS = "document.getElementById('view-swapped').src.includes('stream/swapped')"


def start_camera_call(page) -> None:
    """Click the page's camera button once its handlers are attached, and wait for the swapped
    video to come back (up to 10 s of ICE gathering in the page, then the answer and the checks);
    on a timeout the assertion says how far the call got."""
    page.wait_for(PAGE_READY_JS)
    page.evaluate("document.getElementById('rtc-camera').click()")
    try:
        page.wait_for("document.getElementById('view-rtc').videoWidth > 0", 60)
    except AssertionError as e:
        raise AssertionError(f"{e}; the call: {page.evaluate(CALL_STATE_JS)}") from None


@pytest.mark.slow  # a studio, a browser and a WebRTC call both ways: ~30 s here
def test_browser_camera_comes_back_swapped(tmp_path, still_camera):
    y4m, (x0, y0, x1, y1) = still_camera
    proc, url = start_studio(tmp_path, "--source", "browser")
    base, query = url.split("?")
    offer = base + "api/rtc/offer"
    try:
        fake = {"type": "offer", "sdp": "v=0", "role": "sender"}
        assert post_offer(offer, fake) == 403  # no token
        assert post_offer(offer + "?token=wrong", fake) == 403
        assert post_offer(offer + "?" + query, fake, {"Origin": "http://evil.example"}) == 403
        assert post_offer(offer + "?" + query, fake, {"Host": "evil.example:8765"}) == 421  # DNS rebinding
        assert post_offer(offer + "?" + query, fake) == 400  # all checks passed: the SDP is refused
        page = Browser(BROWSER, extra_args=fake_camera_args(y4m))
        try:
            page.navigate(url)
            page.wait_for("document.getElementById('rtc-camera') !== null && typeof StudioRtc === 'object'")
            page.evaluate(MEASURE_JS)
            page.evaluate(COMPARE_JS)
            start_camera_call(page)
            page.evaluate(
                "watchLocal(document.getElementById('view-camera')); "
                "watchRemote(document.getElementById('view-rtc')); true"
            )
            page.wait_for("window.rtt.samples.length >= 30", 30)
            page.evaluate("window.rtt.grab = true")
            page.wait_for("window.rtt.pairs.length >= 3", 30)
            diffs = page.evaluate(f"window.compare({x0}, {y0}, {x1}, {y1}, 40)")
            assert diffs and all(d is not None for d in diffs), diffs
            assert all(d["inside"] > 25 for d in diffs), diffs  # the invert model swapped the face
            assert all(d["outside"] < 6 for d in diffs), diffs  # the rest is the sent frame (VP8 twice)
            rtt = np.array(page.evaluate("window.rtt.samples"))
            assert np.percentile(rtt, 99) < 1000, rtt
            page.wait_for("Number(document.getElementById('rtt-p50').textContent) > 0")

            # the fake microphone comes back, delayed by the target delay like the video
            page.evaluate(
                "fetch('api/control' + location.search, {method: 'POST', headers: {'Content-Type':"
                " 'application/json'}, body: JSON.stringify({key: 'target_delay_ms', value: 200})}).then(r => r.status)"
            )
            audio = "fetch('api/state' + location.search).then(r => r.json()).then(s => s.rtc.audio)"
            page.wait_for(f"{audio}.then(a => a.frames > 50 && a.delay_p50_ms >= 195 && a.delay_p50_ms < 320)", 15)
            received = """rtc.pc.getStats().then(st => { let n = 0; st.forEach(s => {
                if (s.type === 'inbound-rtp' && s.kind === 'audio') n = s.packetsReceived; }); return n; })"""
            page.wait_for(f"{received}.then(n => n > 50)", 10)

            # a second sender is refused; it gets in only by taking over explicitly
            second = """navigator.mediaDevices.getUserMedia({video: true}).then(cam =>
                StudioRtc.connect({role: 'sender', camera: cam, takeOver: %s})
                .then(pc => 'connected', e => e.status))"""
            assert page.evaluate(second % "false") == 409
            # connect() resolves once the offer, with up to 10 s of ICE gathering, is answered
            assert page.evaluate(second % "true", timeout_s=60) == "connected"
            page.wait_for("['closed', 'failed', 'disconnected'].includes(rtc.pc.connectionState)", 10)
        finally:
            page.close()
    finally:
        if proc.poll() is None:
            stop_within(proc, 5)
        print(stderr_of(proc)[-4000:])  # pytest shows it when the test fails


@pytest.mark.slow  # ~25 s here
def test_output_page_over_tls_and_recording_on_sigterm(tmp_path):
    from swapstream.demo.media import write_video

    clip = tmp_path / "clip.mp4"
    write_video(coded_frames(60, W, H), clip)
    record = tmp_path / "rec.mp4"
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    proc, url = start_studio(tmp_path, "--source", str(clip), "--tls", "--record", str(record), env=env)
    try:
        assert url.startswith("https://127.0.0.1:")
        folder = tmp_path / "config" / "swapstream" / "studio-tls"
        cert, key = folder / "studio-cert.pem", folder / "studio-key.pem"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        trusted = ssl.create_default_context(cafile=str(cert))  # verifies the chain and 127.0.0.1
        base, query = url.split("?")
        with urllib.request.urlopen(base + "output?" + query, timeout=10, context=trusted) as r:
            assert r.status == 200 and b'id="output"' in r.read()
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(base + "output", timeout=10, context=trusted)
        assert denied.value.code == 403
        with pytest.raises(urllib.error.URLError) as untrusted:  # not trusted until the user checks it
            urllib.request.urlopen(url, timeout=10, context=ssl.create_default_context())
        assert isinstance(untrusted.value.reason, ssl.SSLCertVerificationError)

        page = Browser(BROWSER, extra_args=("--ignore-certificate-errors",))
        try:
            page.navigate(base + "output?" + query)
            page.wait_for("document.getElementById('output').videoWidth === 640", 30)
            shown = page.evaluate("document.getElementById('output').currentTime")
            page.wait_for(f"document.getElementById('output').currentTime > {shown} + 0.5", 10)
            assert page.evaluate("window.outputPeer.connectionState") == "connected"
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)  # the recording is finalised while a peer is receiving
            # the studio closed the connection (DTLS close_notify), rather than just vanishing
            page.wait_for("window.outputPeer.getReceivers()[0].transport.state === 'closed'", 2.0, 0.05)
            closed_s = time.monotonic() - t0
            assert proc.wait(10) == 0
            stopped_s = time.monotonic() - t0
        finally:
            page.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    err = stderr_of(proc)
    assert "SHA-256" in err
    from swapstream.studio.tls import fingerprint

    assert fingerprint(cert) in err
    with av.open(str(record)) as c:
        assert sum(1 for _ in c.decode(video=0)) > 10
    assert not [p for p in os.listdir(tmp_path) if ".partial" in p]
    assert closed_s < 2.0 and stopped_s < 5.0, (closed_s, stopped_s)
