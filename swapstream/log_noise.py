"""Keep third-party native log noise (MediaPipe / TFLite / absl) off the user's stderr.

MediaPipe's C++ code logs through absl, which ignores GLOG_minloglevel and TF_CPP_MIN_LOG_LEVEL
and writes 'W0000 00:00:... file.cc:114] ...' and 'INFO: Created TensorFlow Lite XNNPACK
delegate' lines to file descriptor 2 before absl::InitializeLog can be called. With a
non-terminal stderr those lines come first and bury the one line that says what went wrong.

`StderrFilter` points fd 2 at a pipe read by a thread that forwards every line except those
info/warning lines to the real stderr; Python's own sys.stderr keeps writing straight to the
real stderr. `swapstream --verbose` does not install it.
"""

from __future__ import annotations

import io
import os
import re
import sys
import threading

# glog/absl info and warning lines (I/W + MMDD or 0000 + time + thread id + file:line]), and
# TFLite's own informational prefix lines. Errors (E...) and fatal (F...) lines are kept.
NOISE = re.compile(
    rb"^(?:[IW]\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w./-]+:\d+\]"
    rb"|INFO: (?:Created TensorFlow Lite|Initialized TensorFlow Lite)"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called)"
)


def is_noise(line: bytes) -> bool:
    return NOISE.match(line.lstrip(b"\r")) is not None


class StderrFilter:
    """Context manager: while active, native writes to fd 2 are filtered line by line."""

    def __init__(self):
        self._real_fd: int | None = None
        self._thread: threading.Thread | None = None
        self._saved_stderr = None

    def __enter__(self) -> StderrFilter:
        try:
            sys.stderr.flush()
            real = os.dup(2)
            read_end, write_end = os.pipe()
        except (OSError, ValueError, AttributeError):
            return self  # no usable fd 2 (e.g. closed): nothing to filter
        os.dup2(write_end, 2)
        os.close(write_end)
        self._real_fd = real
        if sys.stderr is sys.__stderr__ and sys.stderr is not None:
            # Python's own messages go straight to the real stderr, unfiltered and unreordered.
            self._saved_stderr = sys.stderr
            sys.stderr = io.TextIOWrapper(
                io.FileIO(os.dup(real), "w"), encoding="utf-8", errors="backslashreplace", line_buffering=True
            )
        self._thread = threading.Thread(target=self._pump, args=(read_end, real), name="stderr-filter", daemon=True)
        self._thread.start()
        return self

    @staticmethod
    def _pump(read_end: int, real: int) -> None:
        pending = b""
        try:
            with os.fdopen(read_end, "rb", buffering=0) as pipe:
                while chunk := pipe.read(65536):
                    *lines, pending = (pending + chunk).split(b"\n")
                    kept = b"".join(line + b"\n" for line in lines if not is_noise(line))
                    if kept:
                        os.write(real, kept)
            if pending and not is_noise(pending):
                os.write(real, pending)
        except OSError:
            pass  # the real stderr went away (closed terminal): nothing left to show

    def __exit__(self, *exc) -> None:
        if self._real_fd is None:
            return
        if self._saved_stderr is not None:
            sys.stderr.flush()  # not closed: logging handlers may still hold it
            sys.stderr = self._saved_stderr
        os.dup2(self._real_fd, 2)  # closes the pipe's last write end: the pump reads EOF
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        os.close(self._real_fd)
        self._real_fd = None
