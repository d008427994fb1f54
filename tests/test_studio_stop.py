"""`swapstream studio` stopped with SIGTERM on a loaded machine: the recording started before it
is finalised (a playable file, no temporary left) and the process is gone within 5 s.

The load is CPU-bound processes, more of them than there are cores, running for the whole test.
Before the fix the studio spent seconds of CPU in the interpreter's last garbage collection, which
such a load stretched to 30-40 s (and a tester's kill then lost the recording)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import av
from conftest import REPO
from model_fixtures import write_invert_model

from swapstream.demo.media import astronaut_bgr, motion_frames, write_video

HOG = "import time\nt = time.monotonic() + 60\nwhile time.monotonic() < t: pass\n"


def test_recording_is_kept_and_the_studio_stops_fast_under_load(tmp_path):
    model = write_invert_model(tmp_path / "invert.onnx", 96)
    clip = tmp_path / "clip.mp4"
    write_video(motion_frames(astronaut_bgr(), 90, size=256), clip)
    record = tmp_path / "rec.mp4"
    cmd = [sys.executable, "-m", "swapstream", "studio", "-m", str(model), "--source", str(clip), "--port", "0"]
    cmd += ["--providers", "cpu", "--record", str(record)]
    studio = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    hogs = []
    try:
        assert studio.stdout.readline().startswith("studio: open "), studio.stderr.read()
        hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(2 * (os.cpu_count() or 1))]
        time.sleep(4)  # recording under load
        t0 = time.monotonic()
        studio.send_signal(signal.SIGTERM)
        assert studio.wait(30) == 0, studio.stderr.read()
        took = time.monotonic() - t0
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait(5)
        if studio.poll() is None:
            studio.kill()
            studio.wait(10)
    assert took < 5.0, f"the studio took {took:.1f} s to stop under load"
    with av.open(str(record)) as c:
        assert sum(1 for _ in c.decode(video=0)) > 10
    assert not [p for p in os.listdir(tmp_path) if ".partial" in p]
