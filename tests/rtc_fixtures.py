"""The studio's WebRTC tests and benchmark: a fake camera for headless Chromium made from the
demo's public-domain astronaut clip (swapstream/demo/media.py), with each frame's number written
in big black/white blocks in the left margin (outside the face), so that a frame that comes back
swapped can be paired with the frame that was sent.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from swapstream.demo.media import astronaut_bgr, motion_frames

CODE_BITS = 8
BLOCK = 16  # pixels per code block: survives VP8 at a low bitrate
CODE_X, CODE_Y = 8, 24  # top-left of the first block


def coded_frames(n: int, width: int, height: int, still: bool = False, seed: int = 0, numbered: bool = True):
    """n BGR uint8 (height, width, 3) frames: the astronaut (moving, or one still pose) on a grey
    canvas, frame i numbered i % 256 in blocks at the left edge (numbered=False: no blocks)."""
    size = height
    photo = astronaut_bgr()
    if still:
        poses = [next(motion_frames(photo, 1, size=size, seed=seed))] * n
    else:
        poses = motion_frames(photo, n, size=size, seed=seed)
    left = (width - size) // 2
    for i, face in enumerate(poses):
        frame = np.full((height, width, 3), 96, np.uint8)
        frame[:, left : left + size] = face
        for bit in range(CODE_BITS if numbered else 0):
            on = (i >> bit) & 1
            x = CODE_X + bit * BLOCK
            frame[CODE_Y : CODE_Y + 2 * BLOCK, x : x + BLOCK] = 255 if on else 0
        yield frame


def write_y4m(frames, path: Path, width: int, height: int, fps: int = 30) -> Path:
    """An uncompressed YUV4MPEG2 (I420) file, what Chromium's fake camera reads."""
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            f.write(b"FRAME\n")
            f.write(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


def fake_camera_args(y4m: Path) -> tuple[str, ...]:
    return (
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m}",
        "--autoplay-policy=no-user-gesture-required",
    )


# JS: reads the frame number from a <video>'s left margin (null when the blocks are unclear).
READ_CODE_JS = f"""
function readCode(video) {{
  const c = readCode.canvas || (readCode.canvas = document.createElement('canvas'));
  const w = {CODE_X + CODE_BITS * BLOCK}, h = {CODE_Y + 2 * BLOCK};
  const s = video.videoWidth / (window.clipWidth || video.videoWidth);  // the studio may scale its output
  c.width = w; c.height = h;
  const ctx = c.getContext('2d', {{willReadFrequently: true}});
  ctx.drawImage(video, 0, 0, w * s, h * s, 0, 0, w, h);
  const d = ctx.getImageData(0, 0, w, h).data;
  let code = 0;
  for (let bit = 0; bit < {CODE_BITS}; bit++) {{
    const x = {CODE_X} + bit * {BLOCK} + {BLOCK // 2}, y = {CODE_Y + BLOCK};
    const v = d[(y * w + x) * 4 + 1];
    if (v > 60 && v < 195) return null;
    if (v >= 195) code |= 1 << bit;
  }}
  return code;
}}
"""

# JS: pairs frames by their number. Every frame the page's camera shows (local <video>) and every
# swapped frame displayed (remote <video>) is read with requestVideoFrameCallback; the round trip
# of a frame is (remote frame composited: the callback's `now`, as the MJPEG benchmark's
# requestAnimationFrame) - (same-numbered local frame captured). A clip
# of N frames repeats its numbers every N / fps seconds: round trips from maxMs up (default 1500,
# for clips of 2 s or more) are a missed local frame paired with the loop before, not counted.
# window.rtt.samples: round trips in ms; window.rtt.pairs: [local, remote] <video> frames grabbed
# as ImageData when asked (window.rtt.grab = true).
MEASURE_JS = (
    READ_CODE_JS
    + """
window.rtt = {samples: [], local: new Map(), frames: 0, unread: 0, grab: false, pairs: [], maxMs: 1500};
function grabFrame(video) {
  const c = document.createElement('canvas');
  c.width = video.videoWidth; c.height = video.videoHeight;
  const ctx = c.getContext('2d', {willReadFrequently: true});
  ctx.drawImage(video, 0, 0);
  return {w: c.width, h: c.height, data: ctx.getImageData(0, 0, c.width, c.height).data};
}
function watchLocal(video) {
  const cb = (now, meta) => {
    const code = readCode(video);
    if (code !== null) {
      window.rtt.local.set(code, {t: meta.captureTime || meta.expectedDisplayTime,
                                   img: window.rtt.grab ? grabFrame(video) : null});
    }
    video.requestVideoFrameCallback(cb);
  };
  video.requestVideoFrameCallback(cb);
}
function watchRemote(video) {
  const cb = (now, meta) => {
    window.rtt.frames++;
    const code = readCode(video);
    const sent = code === null ? undefined : window.rtt.local.get(code);
    if (sent === undefined) window.rtt.unread++;
    else {
      const ms = now - sent.t;
      if (ms >= 0 && ms < window.rtt.maxMs) window.rtt.samples.push(ms);
      const room = window.rtt.pairs.length < 3;
      if (window.rtt.grab && sent.img && room) window.rtt.pairs.push([sent.img, grabFrame(video)]);
    }
    video.requestVideoFrameCallback(cb);
  };
  video.requestVideoFrameCallback(cb);
}
true
"""
)

# JS: compare(x0, y0, x1, y1, margin) -> per grabbed pair, the mean absolute RGB difference between
# the sent and the returned frame inside the box and outside it (beyond `margin` pixels of it).
COMPARE_JS = """
window.compare = (x0, y0, x1, y1, margin) => window.rtt.pairs.map(([a, b]) => {
  if (a.w !== b.w || a.h !== b.h) return null;
  let inS = 0, inN = 0, outS = 0, outN = 0;
  for (let y = 0; y < a.h; y += 2) for (let x = 0; x < a.w; x += 2) {
    const i = (y * a.w + x) * 4;
    let d = 0;
    for (let k = 0; k < 3; k++) d += Math.abs(a.data[i + k] - b.data[i + k]) / 3;
    if (x >= x0 && x < x1 && y >= y0 && y < y1) { inS += d; inN++; }
    else if (x < x0 - margin || x >= x1 + margin || y < y0 - margin || y >= y1 + margin) { outS += d; outN++; }
  }
  return {inside: inS / inN, outside: outS / outN};
});
true
"""
