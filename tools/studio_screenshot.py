"""docs/studio.png: the studio page on public-domain faces, shot by headless Chromium.

Runs `swapstream studio` with the shipped demo model on a clip of skimage's astronaut (NASA's
portrait of Eileen Collins; the model renders matplotlib's Grace Hopper, US Navy portrait),
opens the page in the system Chromium through tests/cdp.py, shows the original beside the swap,
turns the quality governor on, waits for the numbers, and saves a palette PNG.

    PYTHONPATH=. .venv/bin/python tools/studio_screenshot.py [-o docs/studio.png]
"""

from __future__ import annotations

import argparse
import base64
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from cdp import Browser, find_browser  # noqa: E402
from PIL import Image  # noqa: E402

from swapstream.demo.media import astronaut_bgr, motion_frames, write_video  # noqa: E402

MODEL = REPO / "swapstream" / "assets" / "demo_int8.onnx"


def start_studio(clip: Path) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "swapstream", "studio", "-m", str(MODEL), "--source", str(clip)]
    cmd += ["--port", "0", "--providers", "cpu", "--target-fps", "30"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in proc.stdout:
        if line.startswith("studio: open "):
            return proc, line.split()[-1]
    raise SystemExit("the studio did not start")


def shoot(url: str, settle_s: float) -> bytes:
    page = Browser(find_browser())
    try:
        page.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1360, "height": 1160, "deviceScaleFactor": 1, "mobile": False},
        )
        page.navigate(url)
        page.wait_for("document.getElementById('control-color')")
        page.evaluate(
            "(() => { const e = document.getElementById('show-original'); e.checked = true;"
            " e.dispatchEvent(new Event('change')); })()"
        )
        page.wait_for("document.getElementById('view-original').naturalWidth > 0")
        time.sleep(settle_s)  # the chart fills, the governor measures
        return base64.b64decode(page.send("Page.captureScreenshot", {"format": "png"})["data"])
    finally:
        page.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", type=Path, default=REPO / "docs" / "studio.png")
    p.add_argument("--settle", type=float, default=12.0)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="studio-shot-") as tmp:
        clip = Path(tmp) / "astronaut.mp4"
        write_video(motion_frames(astronaut_bgr(), 150, seed=1), clip)
        proc, url = start_studio(clip)
        try:
            png = shoot(url, args.settle)
        finally:
            proc.terminate()
            proc.wait(20)
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    image.save(args.output, optimize=True)
    print(f"{args.output}: {args.output.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
