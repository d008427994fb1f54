"""What an interrupted convert in segments leaves (Ctrl-C, SIGTERM, SIGHUP), and says it left.

Two things, beside the output and never in its place: the finished segments in NAME.parts/, which
the same command with --resume continues from (frame-exact), and the frames finished so far as a
playable NAME.partial.EXT: the finished segments from the start on, joined with the frames the
interrupted segment had written (that file is not a part: --resume converts its segment again).
A parts folder without a finished segment holds nothing to resume and is removed.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from swapstream.common.output_paths import free_partial_name
from swapstream.convert_parts.work import SegmentInterrupted

log = logging.getLogger(__name__)


def _playable_pieces(job, cut: SegmentInterrupted | None) -> tuple[list[Path], list[tuple[int, ...]]]:
    """The files (and their planned frame times) that make the longest playable start of JOB."""
    parts, planned = [], []
    for i in range(len(job.segments)):
        if not job.part(i).is_file():
            break
        parts.append(job.part(i))
        planned.append(job.planned(i))
    cut_here = cut is not None and cut.kept is not None and len(parts) < len(job.segments)
    if cut_here and Path(cut.task.part) == job.part(len(parts)).absolute():
        parts.append(cut.kept)
        planned.append(cut.task.pts[cut.task.warmup : cut.task.warmup + cut.frames])
    return parts, planned


def keep_partial(
    job, settings, no_audio: bool, cut: SegmentInterrupted | None, publish=None
) -> tuple[Path | None, int]:
    """Join what JOB finished from its start into a free NAME.partial.EXT, with the source's audio
    and the label; returns (that file, its frames), or (None, 0) when there is nothing to join."""
    from swapstream.engine.stages.join_parts import join_parts

    if job.index is None:
        return None, 0
    parts, planned = _playable_pieces(job, cut)
    if not parts:
        return None, 0
    dest = free_partial_name(job.output)
    audio = None if no_audio else job.input
    try:
        index, encoder = job.index, settings.engine.output
        frames = join_parts(parts, planned, index.time_base, index.fps, dest, encoder, audio, publish)
    except Exception as e:  # the segments for --resume matter more: say it, keep going
        log.warning("%s: could not write the finished frames there (%s)", dest, e)
        return None, 0
    return dest, frames


def _job_note(job, settings, no_audio: bool, cut: SegmentInterrupted | None, publish_for=None) -> str | None:
    kept, frames = keep_partial(job, settings, no_audio, cut, publish_for(job) if publish_for else None)
    total = len(job.segments)
    done = total - len(job.missing()) if job.folder.is_dir() and total else 0
    if not done and job.folder.is_dir():
        shutil.rmtree(job.folder, ignore_errors=True)  # nothing in it to resume
    if kept is None and not done:
        return None
    frames_note = f"kept the {frames} finished frames in {kept} (playable)" if kept else "no frame was finished"
    if done:
        note = (
            f"{frames_note} and {done} of {total} finished segments in {job.folder}: "
            "run the same command with --resume to convert only the rest"
        )
    else:
        note = f"{frames_note}; no segment was finished, so --resume has nothing to continue from"
    return note + (f"; {job.output} was not touched" if job.output.exists() else "")


def interrupted_note(jobs, settings, no_audio: bool, cut: SegmentInterrupted | None, publish_for=None) -> str:
    """Leave what the interrupted JOBS finished as described above (publish_for(job): how its
    joined partial file is moved into place, see join_parts); the exit message, one line."""
    try:
        notes = [note for job in jobs if (note := _job_note(job, settings, no_audio, cut, publish_for))]
    finally:
        if cut is not None and cut.kept is not None:
            cut.kept.unlink(missing_ok=True)
    if notes:
        return "; ".join(notes)
    untouched = [str(job.output) for job in jobs if job.output.exists()]
    return "no frame was finished, nothing written" + "".join(f"; {o} was not touched" for o in untouched)
