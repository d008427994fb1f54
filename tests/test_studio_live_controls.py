"""The studio's live controls on a running pipeline: switching the source (frames go on, seq keeps
increasing, a refused source changes nothing), the virtual camera on and off (through the test
pyvirtualcam backend of test_live), and the output size, all through the board's typed path."""

from __future__ import annotations

import argparse
import time

import numpy as np
import pytest
from conftest import BACKEND
from swapstream.engine.pipeline.controls import ControlBoard, ControlError, SwapSettings
from swapstream.engine.pipeline.runner import Pipeline, PipelinePolicy
from swapstream.engine.stages.sink_file import EncoderConfig

from swapstream.common.errors import UserError
from swapstream.common.pipeline_contract import FramePacket, Source, SourceInfo
from swapstream.studio.recorder import StudioSink
from swapstream.studio.session import board_appliers, build_vcam
from swapstream.studio.sources import SourceCatalog, SwitchingSource

SIZES = {"a.mp4": (640, 480), "b.mp4": (1280, 720)}


class TaggedSource(Source):
    """An endless camera-like source whose frames are filled with `tag` (200 fps)."""

    def __init__(self, tag: int, size: tuple[int, int]):
        self.tag, self.size = tag, size
        self.closed = False

    def setup(self) -> SourceInfo:
        if self.tag < 0:
            raise UserError("camera 7 cannot be opened")
        return SourceInfo(f"tag{self.tag}", *self.size, 200.0, realtime=True)

    def frames(self, stop):
        seq = 0
        while not stop.wait(0.005):
            frame = np.full((self.size[1], self.size[0], 3), self.tag, np.uint8)
            yield FramePacket(seq, time.perf_counter(), frame)
            seq += 1

    def close(self):
        self.closed = True


class Studio:
    """A pipeline with the studio's switching source, catalog, sink and board (no model)."""

    def __init__(self, tmp_path, vcam_backend=None):
        media = tmp_path / "media"
        media.mkdir()
        for name in (*SIZES, "notes.txt"):
            (media / name).write_bytes(b"x")
        self.opened: list[TaggedSource] = []

        def open_file(path):
            self.opened.append(TaggedSource(list(SIZES).index(path.name) + 1, SIZES[path.name]))
            return self.opened[-1]

        first = TaggedSource(1, SIZES["a.mp4"])
        self.opened.append(first)
        self.source = SwitchingSource(first, "a.mp4")
        catalog = SourceCatalog(media, lambda spec: TaggedSource(-1, (8, 8)), open_file)
        args = argparse.Namespace(vcam_backend=vcam_backend, vcam_device=None)
        self.sink = StudioSink(
            None,
            None,
            tmp_path,
            EncoderConfig(),
            lambda text, level="info": self.board.note(text, level),
            open_vcam=lambda w, h, fps: build_vcam(args, SourceInfo("v", w, h, fps)),
        )
        self.board = ControlBoard(SwapSettings(source="a.mp4"), None, board_appliers(self.source, catalog, self.sink))
        self.out: list[tuple[int, int, tuple[int, int]]] = []
        self.pipe = Pipeline(
            self.source,
            [],
            self.sink,
            PipelinePolicy(live=True, queue_depth=1),
            controls=self.board,
            on_output=lambda p: self.out.append((p.seq, int(p.frame[0, 0, 0]), p.frame.shape[1::-1])),
        )

    def wait(self, test, timeout_s: float = 10.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.out and test(self.out[-1]):
                return self.out[-1]
            time.sleep(0.01)
        raise AssertionError(f"last output {self.out[-1] if self.out else None}")

    def __enter__(self):
        self.pipe.start()
        return self

    def __exit__(self, *exc):
        self.pipe.stop()
        self.pipe.join()


def test_source_switch_on_a_running_session(tmp_path):
    with Studio(tmp_path) as studio:
        studio.wait(lambda o: o[0] > 5)
        studio.board.submit({"key": "source", "value": "b.mp4"})
        studio.wait(lambda o: o[1] == 2)
        assert studio.board.current.source == "b.mp4" and studio.source.info.width == 1280
        for bad, says in (("../a.mp4", "media folder"), ("notes.txt", "media folder"), ("7", "cannot be opened")):
            with pytest.raises(ControlError, match=says):
                studio.board.submit({"key": "source", "value": bad})
        assert studio.board.current.source == "b.mp4"
        n = len(studio.out)
        studio.wait(lambda o: len(studio.out) > n + 5)  # frames go on after the refusals
        studio.board.submit({"key": "source", "value": "a.mp4"})
        studio.wait(lambda o: o[1] == 1 and o[2] == (640, 480))
    seqs = [s for s, _, _ in studio.out]
    tags = [t for _, t, _ in studio.out]
    assert seqs == sorted(set(seqs)), "seq keeps increasing across switches"
    assert tags[0] == 1 and 2 in tags and tags[-1] == 1
    assert tags.index(2) > 0 and 1 not in tags[tags.index(2) : len(tags) - tags[::-1].index(2)]
    assert [s.closed for s in studio.opened] == [True, True, True] and studio.source.switches == 2


def test_virtual_camera_on_and_off_and_output_size(tmp_path, camera_backend):
    with Studio(tmp_path, vcam_backend=BACKEND) as studio:
        studio.wait(lambda o: o[0] > 3)
        assert not camera_backend
        studio.board.submit({"key": "vcam", "value": True})
        studio.wait(lambda o: camera_backend and len(camera_backend[0].frames) > 5)
        (cam,) = camera_backend
        assert (cam.width, cam.height) == (640, 480) and studio.sink.state()["vcam"]["on"]
        studio.board.submit({"key": "output_size", "value": "360p"})
        studio.wait(lambda o: o[2] == (480, 360))
        studio.board.submit({"key": "source", "value": "b.mp4"})
        studio.wait(lambda o: o[1] == 2 and o[2] == (640, 360))
        n = len(cam.frames)
        studio.wait(lambda o: len(cam.frames) > n + 3)
        assert all(f.shape == (640 * 480 * 3,) for f in cam.frames), "the camera keeps the size it was opened at"
        studio.board.submit({"key": "vcam", "value": False})
        studio.wait(lambda o: cam.closed)
        sent = len(cam.frames)
        n = len(studio.out)
        studio.wait(lambda o: len(studio.out) > n + 5)
        assert len(cam.frames) == sent and not studio.sink.state()["vcam"]["on"]
        with pytest.raises(ControlError, match="output_size must be one of"):
            studio.board.submit({"key": "output_size", "value": "4k"})
    texts = [e["text"] for e in studio.board.events()]
    assert "virtual camera on" in texts and "virtual camera off" in texts


def test_no_virtual_camera_device_is_a_refusal(tmp_path):
    with Studio(tmp_path) as studio:
        studio.wait(lambda o: o[0] > 2)
        with pytest.raises(ControlError, match="v4l2loopback"):
            studio.board.submit({"key": "vcam", "value": True})
        assert studio.board.current.vcam is False
        n = len(studio.out)
        studio.wait(lambda o: len(studio.out) > n + 3)


def test_only_the_studio_switches_sources():
    board = ControlBoard(SwapSettings())
    for key, value in (("source", "0"), ("vcam", True), ("output_size", "360p")):
        with pytest.raises(ControlError, match="only be changed in swapstream studio"):
            board.submit({"key": key, "value": value})
