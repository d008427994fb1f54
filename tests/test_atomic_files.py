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
