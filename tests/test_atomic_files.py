"""One writer for every file swapstream writes whole: readers see the old content or the new."""

from __future__ import annotations

import pytest

from swapstream.common.atomic_files import atomic_open, atomic_write_text, current_umask


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"good")
    with pytest.raises(KeyboardInterrupt), atomic_open(path) as f:
        f.write(b"half")
        raise KeyboardInterrupt  # Ctrl-C mid-write
    assert path.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_a_finished_write_replaces_the_file_readable_by_others(tmp_path):
    path = tmp_path / "sub" / "report.json"
    atomic_write_text(path, "{}")
    with atomic_open(path, "w") as f:
        f.write('{"ok": true}')
    assert path.read_text() == '{"ok": true}'
    assert path.stat().st_mode & 0o777 == 0o666 & ~current_umask()  # what any new file gets
    with pytest.raises(ValueError, match="writes only"):
        atomic_open(path, "rb").__enter__()


def test_a_video_sink_stopped_while_opening_leaves_no_temporary_file(tmp_path, monkeypatch):
    """Ctrl-C/SIGTERM can land while the sink opens its temporary file (a segment starting just
    as the user stops a convert): nothing may stay behind beside the output."""
    from swapstream.engine.stages.sink_file import EncoderConfig, VideoFileSink

    from swapstream.common.pipeline_contract import SourceInfo

    sink = VideoFileSink(tmp_path / "out.mkv", EncoderConfig(codec="ffv1"), partial_on_interrupt=True)

    def stopped(info):
        raise KeyboardInterrupt

    monkeypatch.setattr(sink, "_open", stopped)
    with pytest.raises(KeyboardInterrupt):
        sink.setup(SourceInfo("test", 64, 48, 30.0))
    assert list(tmp_path.iterdir()) == []
    sink.close(complete=False)  # safe after a failed setup
