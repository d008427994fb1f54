"""The `swapstream` command: one parser, one top-level error handler.

Each subcommand is one module of swapstream/commands/ (COMMANDS below), which defines
`add_arguments(parser)` and `run(args) -> int` and imports nothing heavy at module level, so
`swapstream --help` stays fast. The commands sit above everything else (swap_session, studio,
convert_parts, bench, demo, engine, trainer, export), and nothing below imports them, which keeps
the dependency arrows one way (tests/test_layout.py).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import select
import signal
import sys
import tempfile
import threading
import traceback
from pathlib import Path

from swapstream.common.errors import EXIT_BROKEN_PIPE, EXIT_CRASH, EXIT_INTERRUPTED, EXIT_USAGE, UserError


def _openmp_wait_policy(load_1min: float, cpus: int) -> str | None:
    """PASSIVE (idle OpenMP threads sleep) when the CPU is already half busy, else None (spin briefly).

    Measured on the 2-core dev machine: with one core taken by another job, spinning threads made a
    2-thread training step ~6x slower than 1 thread; on an idle machine PASSIVE cost 30% of the
    `live` preset's step (batch 4: many short parallel regions, each waking sleeping threads).
    """
    return "PASSIVE" if load_1min >= 0.5 * cpus else None


# Must be decided before torch (OpenMP) loads; an explicit OMP_WAIT_POLICY always wins.
if "OMP_WAIT_POLICY" not in os.environ and hasattr(os, "getloadavg"):
    _policy = _openmp_wait_policy(os.getloadavg()[0], os.cpu_count() or 1)
    if _policy is not None:
        os.environ["OMP_WAIT_POLICY"] = _policy

# name -> (module, one-line help). Order is the order of `swapstream --help`.
COMMANDS = {
    "extract": (
        "swapstream.commands.extract",
        "extract aligned faces of one person from videos or photos into a faceset",
    ),
    "train": ("swapstream.commands.train", "train a per-pair face-swap autoencoder on two facesets"),
    "train-mask": (
        "swapstream.commands.train_mask",
        "train an occlusion model (hands, objects, hair in front of the face) for --mask occlusion",
    ),
    "export": (
        "swapstream.commands.export",
        "export a trained run to a self-describing ONNX model (fp32/fp16/int8/TensorRT)",
    ),
    "convert": (
        "swapstream.commands.convert",
        "swap faces in a video file offline: every frame, in order, audio kept",
    ),
    "live": (
        "swapstream.commands.live",
        "swap faces live from a camera or file into a virtual camera, preview or recording",
    ),
    "studio": (
        "swapstream.commands.studio",
        "swap live and watch and steer it in a local web page (preview, controls, numbers, recording)",
    ),
    "bench": ("swapstream.commands.bench", "measure per-stage latency and throughput of the engine"),
    "eval": ("swapstream.commands.evaluate", "measure identity, expression and stability of a converted video"),
    "verify": (
        "swapstream.commands.verify",
        "check a file's content credentials (C2PA): signed by swapstream, unaltered, what it says",
    ),
    "info": ("swapstream.commands.info", "describe a faceset, a training run or a model"),
    "demo": ("swapstream.commands.demo", "the whole chain on public-domain faces that ship with the dependencies"),
}


class _Unavailable:
    """Stands in for a command whose optional dependency is not installed."""

    def __init__(self, name: str, missing: str):
        self.__doc__ = f"unavailable: needs the Python package {missing!r}"
        self._message = f"'{name}' needs {missing!r}: run scripts/setup.sh (or pip install -e '.[train]')"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("rest", nargs=argparse.REMAINDER)

    def run(self, args: argparse.Namespace) -> int:
        raise UserError(self._message)


def _available_commands() -> dict[str, object]:
    mods: dict[str, object] = {}
    for name, (module, _help) in COMMANDS.items():
        try:
            mods[name] = importlib.import_module(module)
        except ModuleNotFoundError as e:
            missing = e.name or ""
            if missing in ("torch", "onnx", "onnxruntime"):
                mods[name] = _Unavailable(name, missing)
            elif not (module == missing or module.startswith(missing + ".")):
                raise
    return mods


class _OneLineParser(argparse.ArgumentParser):
    """Bad usage is one line on stderr naming the flag and the problem (exit 2), as for bad input;
    the usage summary stays one `--help` away."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(mods: dict[str, object]) -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="swapstream",
        description="Real-time streaming face swap. Workflow: extract -> train -> export -> live/convert.",
        epilog="Exit codes: 0 ok, 2 bad usage or input, 130 interrupted (after saving), 1 unexpected failure.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="debug logging, and MediaPipe/TFLite's own log lines on stderr"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, mod in mods.items():
        help_text = COMMANDS[name][1]
        p = sub.add_parser(name, help=help_text, description=(mod.__doc__ or help_text).strip())
        p.formatter_class = argparse.RawDescriptionHelpFormatter
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def _log_crash() -> Path:
    fd, path = tempfile.mkstemp(prefix="swapstream-crash-", suffix=".log")
    with os.fdopen(fd, "w") as f:
        traceback.print_exc(file=f)
    return Path(path)


def _like_ctrl_c(signum, frame) -> None:
    """SIGTERM / SIGHUP: do whatever Ctrl-C does now (train's handler stops between steps and
    saves; the default raises KeyboardInterrupt, which convert and live finalise on)."""
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:  # SIGINT ignored or default (e.g. started with `&` from a script): stop cleanly anyway
        raise KeyboardInterrupt


@contextlib.contextmanager
def _stop_signals_like_ctrl_c():
    """SIGTERM (timeout, systemd, docker stop, job schedulers) and SIGHUP (the terminal closed)
    are handled like SIGINT, so every command saves what it can on them too. A signal the parent
    set to be ignored (nohup) stays ignored."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGTERM", "SIGHUP"):
            sig = getattr(signal, name, None)
            if sig is not None and signal.getsignal(sig) is not signal.SIG_IGN:
                previous[sig] = signal.signal(sig, _like_ctrl_c)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_filter_state = {"active": False}  # a nested main() (the demo's steps) is already filtered


@contextlib.contextmanager
def _quiet_third_party_logs(verbose: bool):
    """Without --verbose, MediaPipe/TFLite/absl info and warning lines are dropped from stderr."""
    if verbose or _filter_state["active"]:
        yield
        return
    from swapstream.log_noise import StderrFilter

    logging.getLogger("absl").setLevel(logging.ERROR)
    for name in ("aioice", "aiortc"):  # the studio's WebRTC: one line per ICE check otherwise
        logging.getLogger(name).setLevel(logging.WARNING)
    _filter_state["active"] = True
    try:
        with StderrFilter():
            yield
    finally:
        _filter_state["active"] = False


def main(argv: list[str] | None = None) -> int:
    mods = _available_commands()
    parser = build_parser(mods)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or bad usage (2, one line already printed)
        return int(e.code or 0)
    with _stop_signals_like_ctrl_c(), _quiet_third_party_logs(args.verbose):
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
        )
        return _run(args)


def _stdout_reader_gone() -> bool:
    """Is standard output a pipe whose reader has closed it (`swapstream info X | head -3`)? A
    pipe without a reader polls as an error; a BrokenPipeError from anything else (a socket, a
    child process) is a real failure."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    if not hasattr(select, "poll"):
        return True  # no poll (Windows): the closed stdout is by far the likeliest cause
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


def _quiet_stdout() -> None:
    """Point fd 1 at /dev/null, so what is still buffered for stdout is dropped at exit silently."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _run(args: argparse.Namespace) -> int:
    try:
        code = int(args._run(args) or 0)
        sys.stdout.flush()  # here, not at exit: a reader that quit is handled below like any error
        return code
    except BrokenPipeError:
        if not _stdout_reader_gone():
            return _crashed(args)
        _quiet_stdout()  # the reader quit (`| head`): stop quietly, as Unix tools do
        return EXIT_BROKEN_PIPE
    except UserError as e:
        print(f"swapstream {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as e:
        # A command may say what it kept: KeyboardInterrupt("kept the finished part in X").
        kept = f": {e}" if str(e) else ""
        print(f"swapstream {args.command}: interrupted{kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:
        return _crashed(args)


def _crashed(args: argparse.Namespace) -> int:
    """The exception being handled is a bug: traceback to a log file, one line naming it, exit 1."""
    e = sys.exc_info()[1]
    where = _log_crash()
    print(f"swapstream {args.command}: unexpected failure: {e!r} (traceback in {where})", file=sys.stderr)
    return EXIT_CRASH
