"""`swapstream studio` for real: a studio process on a test clip, driven by headless Chromium.

The page loads, preview frames arrive and change, the numbers update, switching the swap off
makes the preview equal the original frame, a colour mode change shows, the source switches to
another clip without a restart, the governor reports its target, bad values (and a virtual
camera that does not exist) are refused with a message in the page, a request without the token
gets 403, and SIGTERM ends the process cleanly with a playable recording.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import av
import pytest
from cdp import Browser, find_browser
from conftest import REPO
from model_fixtures import write_invert_model

pytest.importorskip("websockets")
BROWSER = find_browser()
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no chromium on this machine (.ci/run installs Debian's chromium with apt)"
)

# Mean absolute difference between the swapped and the original preview, over the whole frame.
DIFF_JS = """(() => {
  const grab = (id) => {
    const img = document.getElementById(id);
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    return ctx.getImageData(0, 0, c.width, c.height).data;
  };
  const a = grab('view-swapped'), b = grab('view-original');
  if (!a.length || a.length !== b.length) return null;
  let s = 0;
  for (let i = 0; i < a.length; i += 4)
    s += Math.abs(a[i] - b[i]) + Math.abs(a[i+1] - b[i+1]) + Math.abs(a[i+2] - b[i+2]);
  return s / (a.length / 4 * 3);
})()"""
SUM_JS = """(() => { const img = document.getElementById('view-swapped'); const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight; const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data; let s = 0; for (let i = 0; i < d.length; i += 7) s += d[i];
  return s; })()"""


def _start_studio(tmp_path, model, clip):
    record = tmp_path / "rec.mp4"
    cmd = [sys.executable, "-m", "swapstream", "studio", "-m", str(model), "--source", str(clip), "--port", "0"]
    cmd += ["--providers", "cpu", "--record", str(record), "--record-dir", str(tmp_path)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if line.startswith("studio: open "):
                return proc, line.split()[-1], record
        if proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"studio did not print its URL: {proc.stderr.read()}")


def _send(page: Browser, element: str, value) -> None:
    """Set a control in the page the way a user does (value, then a change event)."""
    prop = "checked" if isinstance(value, bool) else "value"
    page.evaluate(
        f"(() => {{ const e = document.getElementById({json.dumps(element)}); e.{prop} = {json.dumps(value)};"
        " e.dispatchEvent(new Event('change')); })()"
    )


def _setting(page: Browser, key: str):
    return page.evaluate(f"fetch('api/state' + location.search).then(r => r.json()).then(s => s.settings.{key})")


def _wait_setting(page: Browser, key: str, value, timeout_s: float = 10.0) -> None:
    """Poll the studio's state until its setting `key` is `value`: a control's change reaches the
    server by the page's own request, which may still be in flight when the next line runs."""
    deadline = time.monotonic() + timeout_s
    seen = None
    while time.monotonic() < deadline:
        seen = _setting(page, key)
        if seen == value:
            return
        time.sleep(0.1)
    raise AssertionError(f"setting {key} stayed at {seen!r}, not {value!r}")


def _wait_diff(page: Browser, test, timeout_s: float = 10.0) -> float:
    """Poll the swapped-vs-original difference until test(diff) holds; returns it."""
    deadline = time.monotonic() + timeout_s
    diff = None
    while time.monotonic() < deadline:
        diff = page.evaluate(DIFF_JS)
        if diff is not None and test(diff):
            return diff
        time.sleep(0.1)
    raise AssertionError(f"swapped vs original difference stayed at {diff}")


@pytest.fixture
def studio(tmp_path, face_clips):
    model = write_invert_model(tmp_path / "invert.onnx", 96)
    proc, url, record = _start_studio(tmp_path, model, face_clips["astronaut"])
    yield proc, url, record
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def test_studio_in_a_real_browser(studio):
    proc, url, record = studio
    base = url.split("?")[0]
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(base + "api/state", timeout=5)
    assert denied.value.code == 403
    page = Browser(BROWSER)
    try:
        page.navigate(base)
        assert "forbidden" in page.wait_for("document.body && document.body.innerText")
        page.navigate(url)
        page.wait_for("document.getElementById('view-swapped').naturalWidth > 0")
        page.wait_for("Number(document.getElementById('fps').textContent) > 5")
        frames = int(page.wait_for("document.getElementById('frames').textContent"))
        first = page.evaluate(SUM_JS)
        page.wait_for(f"Number(document.getElementById('frames').textContent) > {frames}")
        page.wait_for(f"({SUM_JS}) !== {first}")  # the preview moves
        page.wait_for("document.getElementById('control-color')")

        _send(page, "show-original", True)
        page.wait_for("document.getElementById('view-original').naturalWidth > 0")
        swapped_rct = _wait_diff(page, lambda d: d > 1.0)
        _send(page, "control-color", "none")
        assert page.wait_for("document.getElementById('message').textContent").startswith("color")
        assert _setting(page, "color") == "none"
        swapped_none = _wait_diff(page, lambda d: abs(d - swapped_rct) > 0.15 * swapped_rct)
        _send(page, "control-swap", False)
        _wait_setting(page, "swap", False)
        _wait_diff(page, lambda d: d < 0.5)  # the preview is the source frame

        _send(page, "control-source", "hopper.mp4")  # another clip of the source's folder, no restart
        page.wait_for("document.getElementById('source').textContent.includes('hopper.mp4')")
        frames = int(page.evaluate("document.getElementById('frames').textContent"))
        page.wait_for(f"Number(document.getElementById('frames').textContent) > {frames + 5}")
        _send(page, "control-vcam", True)  # no v4l2loopback here: refused, with how to get one
        message = page.wait_for("(m => m.className === 'error' && m.textContent)(document.getElementById('message'))")
        assert "v4l2loopback" in message and _setting(page, "vcam") is False
        _send(page, "control-swap", True)
        _send(page, "control-governor", True)
        page.wait_for("document.getElementById('governor').textContent.includes('target 30 fps')")

        _send(page, "control-target_delay_ms", 5000)
        message = page.wait_for("(m => m.className === 'error' && m.textContent)(document.getElementById('message'))")
        assert "target_delay_ms" in message and "1000" in message, message
        assert _setting(page, "target_delay_ms") == 0
    finally:
        page.close()
    assert swapped_none != swapped_rct
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0, proc.stderr.read()
    with av.open(str(record)) as c:
        assert sum(1 for _ in c.decode(video=0)) > 10
    assert not [p for p in os.listdir(record.parent) if ".partial" in p]
