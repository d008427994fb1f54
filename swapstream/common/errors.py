"""Errors that cross package boundaries, and the exit codes the CLI maps them to.

Library code raises; only swapstream.cli decides how the process exits.
"""

EXIT_OK = 0
EXIT_CRASH = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a Unix tool's shell status is when its reader quit


class UserError(Exception):
    """Bad usage or bad input: the CLI prints the message on one line and exits 2.

    The message names the file and the problem, e.g. "clip.mp4: no video stream".
    """


def user_error(path: object, problem: str) -> UserError:
    """A UserError whose message is '<path>: <problem>'."""
    return UserError(f"{path}: {problem}")
