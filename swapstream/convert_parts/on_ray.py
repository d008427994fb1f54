"""Segments as Ray tasks: on a local Ray instance (`--workers N`) or an existing cluster
(`--cluster ADDRESS`).

Each task runs work.run_segment in a Ray worker process (which keeps its loaded model for the next
segment) and writes its part into the parts folder, so on a cluster the input, the output folder
and the model must be on storage every node sees under the same path (NFS, a shared volume).
A task asks for one CPU, and for `gpus` GPUs when the model runs on CUDA or TensorRT. A worker
that dies mid-segment (killed, out of memory, its node lost) has the segment retried by Ray
(max_retries); an error inside the segment (a bad frame) is not retried but reported. Ray is an
optional dependency: without it, these flags say how to install it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from swapstream.common.errors import UserError
from swapstream.convert_parts.work import SegmentTask, run_segment

log = logging.getLogger(__name__)

INSTALL_HINT = "--workers/--cluster need Ray: pip install 'swapstream[cluster]' (scripts/setup.sh installs it)"
MAX_RETRIES = 3  # a segment whose worker died is run again up to this many times
OBJECT_STORE_BYTES = 128 << 20  # tasks pass only small descriptions and counts


def import_ray():
    """The ray module, or a one-line UserError saying how to install it."""
    try:
        import ray
    except ModuleNotFoundError:
        raise UserError(INSTALL_HINT) from None
    return ray


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """A one-line UserError at once when HOST:PORT (or ray://HOST:PORT) does not answer, instead of
    Ray's minute of retries ('auto' is left to Ray, which fails fast when no cluster runs here)."""
    import socket

    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise UserError(f"--cluster {address}: no Ray cluster answers there ({e.strerror or e})") from None


@dataclass(frozen=True)
class StartedRay:
    """A Ray connection this run opened (stop_ray closes it). session_dir: the session folder of a
    local instance this run started (Ray's temp root/session_DATE_PID), removed at the end; None
    for a cluster, whose folders are the cluster's. made_root: the temp root did not exist before."""

    session_dir: Path | None = None
    made_root: bool = False


def start_ray(workers: int | None, cluster: str | None, verbose: bool = False) -> StartedRay | None:
    """Connect to CLUSTER or start a local instance with WORKERS CPUs, unless this process is
    already connected (a test, a notebook). The StartedRay when this call started it (and the
    caller must stop_ray it), None when the caller's connection is used."""
    ray = import_ray()
    if ray.is_initialized():
        return None
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report, no network
    common = {"log_to_driver": verbose, "configure_logging": False}
    if cluster:
        _check_reachable(cluster)
        try:
            ray.init(address=cluster, **common)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise UserError(
                f"--cluster {cluster}: cannot connect to a Ray cluster there ({e}); a cluster with token "
                "authentication (Ray's default) also needs RAY_AUTH_MODE=token and its token here"
            ) from None
        return StartedRay()
    # Ray enables token authentication on a local instance by default, and says so as a warning.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    root = _ray_temp_root()
    root_existed = root is None or root.exists()
    context = ray.init(num_cpus=workers, include_dashboard=False, object_store_memory=OBJECT_STORE_BYTES, **common)
    session = Path(context.address_info["session_dir"])
    return StartedRay(session_dir=session, made_root=not root_existed)


def _ray_temp_root() -> Path | None:
    """Where a local Ray instance puts its session folders (RAY_TMPDIR, TMPDIR or /tmp, + /ray);
    None when this Ray version does not say (its root is then never removed)."""
    try:
        from ray._common.utils import get_default_ray_temp_dir
    except ImportError:
        return None
    return Path(get_default_ray_temp_dir())


def stop_ray(started: StartedRay) -> None:
    """Disconnect, and for a local instance remove what it left in Ray's temp root: its session
    folder, the `session_latest` link when it points there, and the root when this run made it and
    it is now empty. Other sessions' folders are never touched."""
    ray = import_ray()
    ray.shutdown()
    session = started.session_dir
    if session is None:
        return
    latest = session.parent / "session_latest"
    if latest.is_symlink() and Path(os.readlink(latest)).name == session.name:
        latest.unlink(missing_ok=True)
    shutil.rmtree(session, onerror=lambda _f, path, e: log.warning("could not remove %s: %s", path, e[1]))
    if started.made_root:
        with contextlib.suppress(OSError):  # another Ray instance has started there since: it stays
            session.parent.rmdir()


def _failure(task: SegmentTask, error: BaseException) -> BaseException:
    """A task's failure as the driver raises it: the segment's UserError as it was, else a
    RuntimeError naming the part."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, UserError):
        return UserError(str(cause))
    return RuntimeError(f"segment {task.index} ({task.part}) failed: {cause or error}")


def run_on_ray(
    tasks: Sequence[SegmentTask],
    on_done: Callable[[SegmentTask, dict], None],
    gpus: float = 0.0,
    in_flight: int | None = None,
) -> None:
    """Run TASKS (Ray must be started); on_done(task, counts) on this thread as each finishes.
    in_flight: at most this many tasks submitted at once (None: all; the cluster queues them)."""
    ray = import_ray()
    remote = ray.remote(run_segment).options(num_cpus=1, num_gpus=gpus, max_retries=MAX_RETRIES, retry_exceptions=False)
    waiting = list(tasks)
    pending: dict = {}
    try:
        while waiting or pending:
            while waiting and (in_flight is None or len(pending) < in_flight):
                task = waiting.pop(0)
                pending[remote.remote(task)] = task
            done, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            for ref in done:
                task = pending.pop(ref)
                try:
                    counts = ray.get(ref)
                except ray.exceptions.RayError as e:
                    raise _failure(task, e) from None
                on_done(task, counts)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
