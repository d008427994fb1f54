"""Live controls: message validation, the board, application between frames, target-delay pacing,
the terminal keys of `swapstream live`, and a real pipeline whose colour mode changes mid-stream."""

from __future__ import annotations

import math

import pytest
from pipeline_fixtures import CountingSource, RecordingSink
from swapstream.engine.pipeline.controls import (
    CONTROLS,
    ControlBoard,
    ControlError,
    ControlMessage,
    SwapSettings,
    validate_value,
)
from swapstream.engine.pipeline.runner import Pipeline, PipelinePolicy

from swapstream.commands.control_keys import KEYS, handle_key
from swapstream.common.pipeline_contract import Stage


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("swap", False, False),
        ("color", "lct", "lct"),
        ("faces", "all", "all"),
        ("erode", 0, 0.0),
        ("blur", 0.2, 0.2),
        ("target_delay_ms", 1000, 1000.0),
    ],
)
def test_good_values_are_typed(key, value, expected):
    got = validate_value(key, value)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    ("message", "says"),
    [
        ({"key": "color", "value": "purple"}, "color must be one of: rct, lct"),
        ({"key": "swap", "value": "false"}, "swap must be true or false"),
        ({"key": "swap", "value": 0}, "swap must be true or false"),
        ({"key": "erode", "value": True}, "erode must be a number"),
        ({"key": "erode", "value": 0.5}, "erode must be in [0, 0.5)"),
        ({"key": "blur", "value": -0.1}, "blur must be in [0, 0.5)"),
        ({"key": "target_delay_ms", "value": math.nan}, "must be a number"),
        ({"key": "target_delay_ms", "value": 5000}, "target_delay_ms must be in [0, 1000]"),
        ({"key": "target_delay_ms", "value": "10"}, "must be a number"),
        ({"key": "volume", "value": 3}, "unknown control 'volume'"),
        ({"key": "color"}, '{"key": NAME, "value": VALUE}'),
        (["color", "lct"], '{"key": NAME, "value": VALUE}'),
        ({"key": "model", "value": "x.onnx"}, "needs a models folder"),
    ],
)
def test_bad_messages_are_refused_and_change_nothing(message, says):
    board = ControlBoard(SwapSettings())
    before = board.current
    with pytest.raises(ControlError, match=None) as e:
        board.submit(message)
    assert says in str(e.value)
    assert board.current is before and board.version == 0


def test_board_publishes_new_settings_and_keeps_events():
    board = ControlBoard(SwapSettings())
    assert board.submit({"key": "color", "value": "mkl"}).color == "mkl"
    assert board.toggle("swap").swap is False
    assert board.cycle("mask").mask == "model"
    assert board.nudge("target_delay_ms", 2000).target_delay_ms == 1000.0
    assert board.nudge("erode", 1.0).erode < 0.5  # clamped inside the open range
    assert board.version == 5
    assert [e["text"] for e in board.events()][:2] == ["color = mkl", "swap = False"]
    assert board.events(after=4)[0]["text"].startswith("erode = ")
    assert set(board.current.public()) == set(CONTROLS)


def test_model_switch_goes_through_the_loader():
    loaded = []
    board = ControlBoard(SwapSettings(), model_loader=lambda name: loaded.append(name) or f"model:{name}")
    s = board.submit(ControlMessage("model", "b.onnx"))
    assert (s.model, s.model_obj, loaded) == ("b.onnx", "model:b.onnx", ["b.onnx"])


def test_terminal_keys_use_the_same_board():
    board = ControlBoard(SwapSettings())
    assert handle_key(board, "s") == "swap = False"
    assert handle_key(board, "c") == "color = lct"
    assert handle_key(board, "]") == "target_delay_ms = 10"
    assert handle_key(board, "[") == "target_delay_ms = 0"
    assert handle_key(board, "x") is None
    assert {KEYS[k][1] for k in KEYS} <= set(CONTROLS)


class SettingsSpy(Stage):
    """Records which settings each packet was processed under, and when they were applied."""

    name = "spy"

    def __init__(self):
        self.processed: list[tuple[int, str]] = []
        self.applied: list[str] = []

    def apply_settings(self, s):
        self.applied.append(s.color)

    def process(self, packet):
        packet.frame[0, 1, 0] = 1
        self.processed.append((packet.seq, packet.settings.color))
        return packet


def test_changes_land_between_frames_and_swap_off_bypasses_stages():
    board = ControlBoard(SwapSettings())
    sink = RecordingSink()
    stage = SettingsSpy()

    def on_output(packet):
        sink_seen.append((packet.seq, packet.settings.color, packet.settings.swap, int(packet.frame[0, 1, 0])))
        if packet.seq == 10:
            board.submit({"key": "color", "value": "lct"})
        if packet.seq == 20:
            board.toggle("swap")

    sink_seen: list = []
    pipe = Pipeline(CountingSource(30), [stage], sink, PipelinePolicy(live=False, queue_depth=2), controls=board)
    pipe._on_output = on_output
    pipe.run()
    assert sink.seqs == list(range(30))
    colors = [c for _, c, _, _ in sink_seen]
    k = colors.index("lct")
    assert set(colors[:k]) == {"rct"} and set(colors[k:]) == {"lct"} and 10 < k <= 20
    assert stage.applied == ["rct", "lct"]  # once per change, not per frame
    swapped_off = [seq for seq, _, swap, _ in sink_seen if not swap]
    assert swapped_off and all(touched == 0 for seq, _, swap, touched in sink_seen if not swap)
    assert all(touched == 1 for _, _, swap, touched in sink_seen if swap)


def test_target_delay_holds_frames_steadily():
    board = ControlBoard(SwapSettings(target_delay_ms=60.0))
    sink = RecordingSink()
    live = PipelinePolicy(live=True, queue_depth=1)
    pipe = Pipeline(CountingSource(40, period_s=0.01), [], sink, live, controls=board)
    stats = pipe.run()
    assert sink.seqs == sorted(sink.seqs) and len(sink.seqs) >= 30
    pacing = pipe.pacer.snapshot()
    assert pacing["target_ms"] == 60.0
    assert 59.0 <= pacing["p50_ms"] <= 70.0, pacing
    assert pacing["jitter_ms"] < 5.0, pacing
    lat = stats.latency_samples()
    assert min(lat) >= 0.059


def test_a_failing_change_is_reported_not_raised():
    class Fragile(Stage):
        name = "fragile"

        def apply_settings(self, s):
            if s.color == "hist":
                raise RuntimeError("cannot do that")

        def process(self, packet):
            return packet

    board = ControlBoard(SwapSettings(color="hist"))
    sink = RecordingSink()
    Pipeline(CountingSource(5), [Fragile()], sink, PipelinePolicy(live=False, queue_depth=1), controls=board).run()
    assert sink.seqs == list(range(5))
    errors = [e["text"] for e in board.events() if e["level"] == "error"]
    assert errors == ["fragile: could not apply the change (cannot do that)"]


def test_running_swap_pipeline_changes_colour_mode_mid_stream(face_clip, tmp_path):
    """The real stages on a real clip: rct, then lct from one frame on, in order, nothing restarted;
    a bad value on the way is refused and the stream goes on."""
    from model_fixtures import write_invert_model
    from swapstream.engine.engine_config import EngineConfig
    from swapstream.engine.pipeline.build import swap_stages
    from swapstream.engine.runtime.providers import RuntimeConfig
    from swapstream.engine.runtime.swap_model import load_swap_model
    from swapstream.engine.stages.capture import VideoFileSource

    clip = face_clip
    model = load_swap_model(write_invert_model(tmp_path / "invert.onnx", 64), RuntimeConfig(providers=("cpu",)))
    cfg = EngineConfig()
    stages = swap_stages(model, cfg, offline=False)
    color = next(s for s in stages if s.name == "color")
    board = ControlBoard(SwapSettings.from_config(cfg, model))
    refused: list[str] = []
    outputs: list[tuple[int, str, int]] = []

    def on_output(packet):
        outputs.append((packet.seq, packet.settings.color, len(packet.faces)))
        if len(outputs) == 8:
            board.submit({"key": "color", "value": "lct"})
            try:
                board.submit({"key": "color", "value": "sepia"})
            except ControlError as e:
                refused.append(str(e))

    source = VideoFileSource(clip, realtime=True, max_frames=24)
    pipe = Pipeline(source, stages, RecordingSink(), PipelinePolicy(live=True, queue_depth=1), controls=board)
    pipe._on_output = on_output
    pipe.setup()
    modes: list[str] = []
    transfer = color._transfer
    color._transfer = lambda *a: modes.append(a[3]) or transfer(*a)
    pipe.run()
    seqs = [s for s, _, _ in outputs]
    assert seqs == sorted(set(seqs)) and len(seqs) >= 16
    used = [c for _, c, _ in outputs]
    k = used.index("lct")
    assert set(used[:k]) == {"rct"} and set(used[k:]) == {"lct"}
    assert modes[0] == "rct" and modes[-1] == "lct" and modes == sorted(modes, key=lambda m: m == "lct")
    assert all(n == 1 for _, _, n in outputs)
    assert refused and "sepia" in refused[0] and board.current.color == "lct"


def test_key_reader_turns_key_presses_into_controls():
    """`swapstream live` in a terminal: a key press on a pseudo-terminal changes the board."""
    import io
    import os
    import pty
    import time

    from swapstream.commands.control_keys import KeyReader

    master, slave = pty.openpty()
    board = ControlBoard(SwapSettings())
    out = io.StringIO()
    with os.fdopen(slave, "r", buffering=1) as tty_in:
        assert KeyReader.usable(tty_in)
        reader = KeyReader(board, stream=tty_in, out=out)
        reader.start()
        try:
            os.write(master, b"cs")
            deadline = time.monotonic() + 5
            while board.current.swap and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            reader.stop()
            os.close(master)
    assert board.current.color == "lct" and board.current.swap is False
    assert "control: color = lct" in out.getvalue() and out.getvalue().startswith("keys:")
