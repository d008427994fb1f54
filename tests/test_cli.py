"""The top-level command: exit codes of the one error handler, and the OpenMP wait policy chosen at the edge."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from swapstream import cli
from swapstream.common.errors import EXIT_BROKEN_PIPE, EXIT_CRASH, EXIT_INTERRUPTED, EXIT_USAGE, UserError


def _fake_command(error: BaseException):
    def run(args):
        raise error

    return types.SimpleNamespace(__doc__="fake", add_arguments=lambda parser: None, run=run)


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (UserError("clip.mp4: not a video"), EXIT_USAGE, "swapstream info: error: clip.mp4: not a video"),
        (KeyboardInterrupt(), EXIT_INTERRUPTED, "swapstream info: interrupted"),
        (RuntimeError("boom"), EXIT_CRASH, "swapstream info: unexpected failure: RuntimeError('boom')"),
        # a broken pipe while stdout is fine (a child process, a socket) is a bug like any other
        (BrokenPipeError(32, "Broken pipe"), EXIT_CRASH, "swapstream info: unexpected failure: BrokenPipeError"),
    ],
)
def test_one_handler_maps_errors_to_exit_codes(monkeypatch, capsys, error, code, message):
    monkeypatch.setattr(cli, "_available_commands", lambda: {"info": _fake_command(error)})
    assert cli.main(["info"]) == code
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1  # one line, no traceback on the terminal
    if code == EXIT_CRASH:
        log = Path(err.split("traceback in ")[1].rstrip(")\n"))
        assert type(error).__name__ in log.read_text()  # the traceback is kept for a bug report
        log.unlink()


def test_every_command_is_listed_in_help(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in cli.COMMANDS)


def test_bad_usage_is_one_line_and_exit_2(capsys):
    assert cli.main(["convert", "in.mp4", "-m", "m.onnx", "-o", "o.mp4", "--blend", "smudge"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--blend" in err and "smudge" in err


def test_openmp_threads_sleep_only_when_the_cpu_is_already_busy():
    assert cli._openmp_wait_policy(load_1min=1.4, cpus=2) == "PASSIVE"
    assert cli._openmp_wait_policy(load_1min=0.3, cpus=2) is None
    assert cli._openmp_wait_policy(load_1min=3.0, cpus=8) is None


def test_a_reader_that_quits_ends_the_command_quietly(tmp_path):
    """`swapstream info MODEL | head -1`: stdout's reader is gone before the output is written.
    The command stops as Unix tools do: no message, no crash log, exit 141 (128 + SIGPIPE)."""
    from model_fixtures import write_invert_model

    model = write_invert_model(tmp_path / "m.onnx", 64)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        run = subprocess.run(
            [sys.executable, "-m", "swapstream", "info", str(model)],
            check=False,
            stdout=write_end,
            stderr=subprocess.PIPE,
            env={**os.environ, "TMPDIR": str(tmp_path)},  # where a crash log would go
        )
    finally:
        os.close(write_end)
    assert run.returncode == EXIT_BROKEN_PIPE, run.stderr.decode()
    assert run.stderr == b""
    assert not list(tmp_path.glob("swapstream-crash-*"))
