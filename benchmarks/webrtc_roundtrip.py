"""The studio over WebRTC against today's MJPEG preview, on loopback (run by hand; not a test).

Headless Chromium's fake camera plays the demo's astronaut clip (public domain; frames numbered
in big blocks in the margin, tests/rtc_fixtures.py) at 30 fps. The page sends it to a studio
process (`--source browser`, the shipped demo model, CPU) and shows the swapped stream two ways
at once: the WebRTC track (a <video>) and the MJPEG preview (an <img>). Every frame displayed is
read back by number and paired with the moment the camera produced it:
round trip = (swapped frame on screen) - (camera frame captured), per path, as p50/p95/p99, with
the frames per second each path displayed. The up path is WebRTC in both, so the difference is the
way back. Also: the CPU seconds of the studio and of the browser over the window, the studio's own
figures (fps, per-frame server share, aiortc encode time, governor), the page's own round-trip
estimate, and the CPU cost of VP8 encode/decode per frame (aiortc's codec, in this process).

    PYTHONPATH=. .venv/bin/python benchmarks/webrtc_roundtrip.py [--seconds 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from cdp import Browser, find_browser  # noqa: E402
from rtc_fixtures import (  # noqa: E402
    BLOCK,
    CODE_BITS,
    CODE_X,
    CODE_Y,
    MEASURE_JS,
    coded_frames,
    fake_camera_args,
    write_y4m,
)

MODEL = REPO / "swapstream" / "assets" / "demo_int8.onnx"
CLIP_FRAMES = 75  # 2.5 s loop: frame numbers repeat no sooner

# The MJPEG <img>: read each animation frame; a new number is a new frame on screen.
MJPEG_JS = f"""
window.mjpeg = {{samples: [], frames: 0, last: null}};
(() => {{
  const img = document.getElementById('view-swapped');
  const c = document.createElement('canvas');
  const tick = (now) => {{
    if (img.naturalWidth) {{
      const s = img.naturalWidth / window.clipWidth;
      const w = {CODE_X + CODE_BITS * BLOCK}, h = {CODE_Y + 2 * BLOCK};
      c.width = w; c.height = h;
      const ctx = c.getContext('2d', {{willReadFrequently: true}});
      ctx.drawImage(img, 0, 0, w * s, h * s, 0, 0, w, h);
      const d = ctx.getImageData(0, 0, w, h).data;
      let code = 0, clear = true;
      for (let bit = 0; bit < {CODE_BITS}; bit++) {{
        const v = d[(({CODE_Y + BLOCK}) * w + {CODE_X} + bit * {BLOCK} + {BLOCK // 2}) * 4 + 1];
        if (v > 60 && v < 195) clear = false;
        if (v >= 195) code |= 1 << bit;
      }}
      if (clear && code !== window.mjpeg.last) {{
        window.mjpeg.last = code;
        window.mjpeg.frames++;
        const sent = window.rtt.local.get(code);
        if (sent !== undefined) {{
          const ms = now - sent.t;
          if (ms >= 0 && ms < window.rtt.maxMs) window.mjpeg.samples.push(ms);
        }}
      }}
    }}
    requestAnimationFrame(tick);
  }};
  requestAnimationFrame(tick);
}})();
true
"""


# The page's WebRTC stats that make up the round trip (the page's peer connection is app.js's `rtc.pc`):
# the camera stream it sends (outbound-rtp), the swapped stream it gets back (inbound-rtp), the
# transport's bandwidth estimate (candidate-pair). Counters; the window's figures are deltas.
STATS_JS = """
rtc.pc.getStats().then((report) => {
  const out = {};
  const keep = {
    'outbound-rtp': ['framesEncoded', 'keyFramesEncoded', 'totalEncodeTime', 'totalPacketSendDelay',
      'packetsSent', 'bytesSent', 'framesSent', 'qpSum', 'pliCount', 'nackCount', 'firCount',
      'targetBitrate', 'frameWidth', 'frameHeight', 'qualityLimitationReason', 'encoderImplementation',
      'hugeFramesSent'],
    'inbound-rtp': ['framesReceived', 'framesDecoded', 'keyFramesDecoded', 'framesDropped', 'totalDecodeTime',
      'totalProcessingDelay', 'totalAssemblyTime', 'framesAssembledFromMultiplePackets', 'jitterBufferDelay',
      'jitterBufferTargetDelay', 'jitterBufferMinimumDelay', 'jitterBufferEmittedCount', 'packetsReceived',
      'bytesReceived', 'qpSum', 'pliCount', 'nackCount', 'firCount', 'freezeCount', 'totalFreezesDuration',
      'pauseCount', 'totalInterFrameDelay', 'totalSquaredInterFrameDelay', 'framesRendered', 'frameWidth',
      'frameHeight', 'decoderImplementation', 'packetsLost'],
    'candidate-pair': ['availableOutgoingBitrate', 'currentRoundTripTime'],
  };
  report.forEach((s) => {
    if (!(s.type in keep) || (s.kind && s.kind !== 'video')) return;
    if (s.type === 'candidate-pair' && !s.nominated) return;
    const row = out[s.type] = {};
    for (const k of keep[s.type]) if (s[k] !== undefined) row[k] = s[k];
  });
  return out;
})
"""


def stats_window(first: dict, last: dict, seconds: float) -> dict:
    """Per-frame and per-second figures of the window between two STATS_JS snapshots."""
    out_a, out_b = first.get("outbound-rtp", {}), last.get("outbound-rtp", {})
    in_a, in_b = first.get("inbound-rtp", {}), last.get("inbound-rtp", {})

    def d(a, b, key):
        return b.get(key, 0) - a.get(key, 0)

    def per(a, b, key, count, scale=1000.0):
        n = d(a, b, count)
        return round(scale * d(a, b, key) / n, 2) if n > 0 else None

    sent, got = d(out_a, out_b, "framesEncoded"), d(in_a, in_b, "framesDecoded")
    return {
        "camera_sent": {
            "fps": round(sent / seconds, 1),
            "size": [out_b.get("frameWidth"), out_b.get("frameHeight")],
            "encode_ms": per(out_a, out_b, "totalEncodeTime", "framesEncoded"),
            "packet_send_delay_ms": per(out_a, out_b, "totalPacketSendDelay", "packetsSent"),
            "keyframes": d(out_a, out_b, "keyFramesEncoded"),
            "qp": per(out_a, out_b, "qpSum", "framesEncoded", 1.0),
            "kbit_s": round(8 * d(out_a, out_b, "bytesSent") / seconds / 1000, 1),
            "pli_nack_fir_received": [d(out_a, out_b, k) for k in ("pliCount", "nackCount", "firCount")],
            "target_kbit_s": round(out_b.get("targetBitrate", 0) / 1000, 1),
            "limited_by": out_b.get("qualityLimitationReason"),
            "encoder": out_b.get("encoderImplementation"),
        },
        "swapped_received": {
            "fps": round(got / seconds, 1),
            "size": [in_b.get("frameWidth"), in_b.get("frameHeight")],
            "jitter_buffer_ms": per(in_a, in_b, "jitterBufferDelay", "jitterBufferEmittedCount"),
            "jitter_buffer_target_ms": per(in_a, in_b, "jitterBufferTargetDelay", "jitterBufferEmittedCount"),
            "decode_ms": per(in_a, in_b, "totalDecodeTime", "framesDecoded"),
            "assembly_ms": per(in_a, in_b, "totalAssemblyTime", "framesAssembledFromMultiplePackets"),
            "processing_ms": per(in_a, in_b, "totalProcessingDelay", "framesDecoded"),
            "keyframes": d(in_a, in_b, "keyFramesDecoded"),
            "dropped": d(in_a, in_b, "framesDropped"),
            "qp": per(in_a, in_b, "qpSum", "framesDecoded", 1.0),
            "kbit_s": round(8 * d(in_a, in_b, "bytesReceived") / seconds / 1000, 1),
            "pli_nack_fir_sent": [d(in_a, in_b, k) for k in ("pliCount", "nackCount", "firCount")],
            "freezes": d(in_a, in_b, "freezeCount"),
            "packets_lost": d(in_a, in_b, "packetsLost"),
            "decoder": in_b.get("decoderImplementation"),
        },
        "bandwidth_estimate_kbit_s": round(last.get("candidate-pair", {}).get("availableOutgoingBitrate", 0) / 1000, 1),
    }


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / os.sysconf("SC_CLK_TCK")


def group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def percentiles(samples) -> dict:
    a = np.asarray(samples, np.float64)
    if not a.size:
        return {"n": 0}
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {"n": int(a.size), "p50": round(float(p50), 1), "p95": round(float(p95), 1), "p99": round(float(p99), 1)}


def start_studio(width: int, height: int, governor: bool, extra: tuple[str, ...] = (), env: dict | None = None):
    cmd = [sys.executable, "-m", "swapstream", "studio", "-m", str(MODEL), "--source", "browser", "--port", "0"]
    cmd += ["--providers", "cpu", "--width", str(width), "--height", str(height)]
    cmd += ["--target-fps", "30"] if governor else []
    environ = {**os.environ, **(env or {})}
    proc = subprocess.Popen(
        [*cmd, *extra], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ
    )
    while True:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        line = proc.stdout.readline() if ready else ""
        if line.startswith("studio: open "):
            return proc, line.split()[-1]
        if not ready or proc.poll() is not None:
            proc.kill()
            raise SystemExit(f"studio did not start: {proc.stderr.read()}")


def run_size(
    width: int,
    height: int,
    seconds: float,
    settle: float,
    tmp: Path,
    governor: bool = False,
    variant: tuple[str, tuple[str, ...], dict] = ("default", (), {}),
) -> dict:
    """One studio and one browser: variant = (name, extra studio arguments, extra environment)."""
    y4m = tmp / f"clip{width}x{height}.y4m"
    if not y4m.exists():
        write_y4m(coded_frames(CLIP_FRAMES, width, height), y4m, width, height)
    proc, url = start_studio(width, height, governor, variant[1], variant[2])
    page = Browser(find_browser(), extra_args=fake_camera_args(y4m))
    try:
        page.navigate(url)
        page.wait_for("document.getElementById('rtc-camera') !== null && typeof StudioRtc === 'object'")
        page.evaluate(f"window.clipWidth = {width}; true")
        page.evaluate(MEASURE_JS)
        page.evaluate("document.getElementById('rtc-camera').click(); true")
        page.wait_for("document.getElementById('view-rtc').videoWidth > 0", 60)
        # today's MJPEG preview beside the WebRTC track, fed by the same swapped frames
        page.evaluate(
            "const im = document.getElementById('view-swapped'); im.parentElement.hidden = false;"
            "im.src = 'stream/swapped' + location.search; true"
        )
        page.evaluate(
            "watchLocal(document.getElementById('view-camera')); watchRemote(document.getElementById('view-rtc')); true"
        )
        page.evaluate(MJPEG_JS)
        time.sleep(settle)
        page.evaluate(
            "window.rtt.samples = []; window.rtt.frames = 0; window.mjpeg.samples = []; window.mjpeg.frames = 0; true"
        )
        studio_pids, browser_pids = [proc.pid], group_pids(os.getpgid(page._proc.pid))
        cpu0 = cpu_seconds(studio_pids), cpu_seconds(browser_pids)
        stats0 = page.evaluate(STATS_JS)
        t0 = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - t0
        cpu1 = cpu_seconds(studio_pids), cpu_seconds(browser_pids)
        stats1 = page.evaluate(STATS_JS)
        got = page.evaluate(
            "({rtc: window.rtt.samples, rtc_frames: window.rtt.frames, mjpeg: window.mjpeg.samples,"
            " mjpeg_frames: window.mjpeg.frames, size: [document.getElementById('view-rtc').videoWidth,"
            " document.getElementById('view-rtc').videoHeight],"
            " page: ['p50', 'p95', 'p99'].map(p => document.getElementById('rtt-' + p).textContent)})"
        )
        state = page.evaluate("fetch('api/state' + location.search).then(r => r.json())")
    finally:
        page.close()
        proc.terminate()
        proc.wait(30)
    metrics = state["metrics"]
    return {
        "variant": variant[0],
        "load_average": os.getloadavg(),
        "size": f"{width}x{height}",
        "governor_on": governor,
        "webrtc_round_trip_ms": percentiles(got["rtc"]),
        "webrtc_fps": round(got["rtc_frames"] / elapsed, 1),
        "webrtc_samples_ms": [round(ms, 1) for ms in got["rtc"]],
        "webrtc_returned_size": got["size"],
        "mjpeg_round_trip_ms": percentiles(got["mjpeg"]),
        "mjpeg_fps": round(got["mjpeg_frames"] / elapsed, 1),
        "page_estimate_ms": got["page"],
        "studio_fps": round(metrics["fps"], 1),
        "studio_dropped": metrics["dropped"],
        "server_share_ms": state["rtc"]["server_ms"],
        "aiortc_encode_ms": state["rtc"]["encode_ms"],
        "governor": state["governor"],
        "studio_latency_ms": metrics["latency_ms"],  # camera frame decoded -> swapped frame at the sink
        "studio_stage_ms": metrics["stage_ms"],
        "studio_inbox": state["rtc"]["inbox"],
        "browser": stats_window(stats0, stats1, elapsed),
        "studio_cpu_s_per_s": round((cpu1[0] - cpu0[0]) / elapsed, 2),
        "browser_cpu_s_per_s": round((cpu1[1] - cpu0[1]) / elapsed, 2),
    }


def codec_cost(width: int, height: int, n: int = 60) -> dict:
    """ms per frame of aiortc's VP8 encoder (BGR frame in, RTP payloads out) and decoder."""
    import av
    from aiortc.codecs.vpx import Vp8Decoder, Vp8Encoder, vp8_depayload
    from aiortc.jitterbuffer import JitterFrame

    frames = list(coded_frames(n, width, height))
    enc, dec = Vp8Encoder(), Vp8Decoder()
    enc.target_bitrate = 1_500_000
    encoded, t_enc, t_dec = [], 0.0, 0.0
    for i, bgr in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(bgr, format="bgr24")
        frame.pts, frame.time_base = i * 3000, Fraction(1, 90000)
        t0 = time.perf_counter()
        payloads, ts = enc.encode(frame)
        t_enc += time.perf_counter() - t0
        encoded.append(JitterFrame(b"".join(vp8_depayload(p) for p in payloads), ts))
    for jf in encoded:
        t0 = time.perf_counter()
        for out in dec.decode(jf):
            out.to_ndarray(format="bgr24")
        t_dec += time.perf_counter() - t0
    return {
        "size": f"{width}x{height}",
        "encode_ms": round(1000 * t_enc / n, 2),
        "decode_ms": round(1000 * t_dec / n, 2),
    }


def output_screenshot(path: Path, tmp: Path) -> None:
    """The output page (/output, what OBS's Browser Source shows) in headless Chromium at 1280x720,
    the studio playing the demo clip (public domain) through the shipped demo model."""
    import base64

    from swapstream.demo.media import write_video

    clip = tmp / "clip.mp4"
    write_video(coded_frames(60, 1280, 720, numbered=False), clip)
    cmd = [sys.executable, "-m", "swapstream", "studio", "-m", str(MODEL), "--source", str(clip), "--port", "0"]
    proc = subprocess.Popen([*cmd, "--providers", "cpu"], cwd=REPO, stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().split()[-1]
    page = Browser(find_browser())
    try:
        base, query = url.split("?")
        page.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 720, "deviceScaleFactor": 1, "mobile": False},
        )
        page.navigate(f"{base}output?{query}")
        page.wait_for("document.getElementById('output').currentTime > 2", 60)
        shot = page.send("Page.captureScreenshot", {"format": "jpeg", "quality": 80})
        path.write_bytes(base64.b64decode(shot["data"]))
    finally:
        page.close()
        proc.terminate()
        proc.wait(30)


def parse_variant(text: str) -> tuple[str, tuple[str, ...], dict]:
    name, _, rest = text.partition(":")
    words = rest.split()
    env = dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("-"))
    return name, tuple(w for w in words if "=" not in w or w.startswith("-")), env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--settle", type=float, default=6.0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--sizes", default="640x480,1280x720", help="comma-separated WxH")
    parser.add_argument("--governor", action="store_true", help="studio with --target-fps 30 (the governor on)")
    parser.add_argument("--screenshot", type=Path, default=None, help="also save the output page as a JPEG")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="NAME:ARGS, repeatable: a studio run with these extra studio arguments (space-separated; KEY=VALUE "
        "words set the environment); the variants are run in turn, --rounds times (A/B/A/B), each size",
    )
    parser.add_argument("--rounds", type=int, default=1, help="times each variant is run, interleaved")
    parser.add_argument("--no-codec", action="store_true", help="skip the in-process codec cost")
    args = parser.parse_args()
    variants = [parse_variant(v) for v in args.variant] or [("default", (), {})]
    results = {"runs": [], "codec": []}
    with tempfile.TemporaryDirectory(prefix="swapstream-webrtc-") as tmp:
        if args.screenshot is not None:
            output_screenshot(args.screenshot, Path(tmp))
        for width, height in (tuple(map(int, s.split("x"))) for s in args.sizes.split(",")):
            if not args.no_codec:
                results["codec"].append(codec_cost(width, height))
                print(json.dumps(results["codec"][-1]), flush=True)
            for _ in range(args.rounds):
                for variant in variants:
                    run = run_size(width, height, args.seconds, args.settle, Path(tmp), args.governor, variant)
                    results["runs"].append(run)
                    print(json.dumps(run), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
