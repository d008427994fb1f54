"""Inputs -> outputs, each with its plan of segments, its parts folder, the parts still missing,
and the join once every part is there.

One job per input video: OUTPUT and its work folder OUTPUT_STEM.parts/ beside it, holding
manifest.json and part_00000.EXT, part_00001.EXT, ... (EXT: the output's own container). A folder
of videos makes one job per video, written into the output folder under the video's name.
A resume keeps a part only if it is still what was written (verify_parts); a failed or refused
run leaves no parts folder without a finished part (remove_empty_work).
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from swapstream.common.errors import UserError, user_error
from swapstream.common.output_paths import check_output_file
from swapstream.common.video_frames import TRUNCATION_SLACK, check_complete
from swapstream.convert_parts.manifest import (
    MANIFEST_NAME,
    build_manifest,
    check_manifest,
    file_sha256,
    input_identity,
    pixel_settings,
    write_manifest,
)
from swapstream.convert_parts.work import SegmentTask

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm", ".nut", ".mpg", ".ts")
PARTS_SUFFIX = ".parts"
PART_NAME = re.compile(r"part_\d{5}\.[^.]+")


def work_folder(output: Path) -> Path:
    """OUTPUT's parts folder: NAME.parts beside NAME.EXT."""
    return output.with_name(output.stem + PARTS_SUFFIX)


def finished_parts(folder: Path) -> list[Path]:
    """The finished parts in a parts folder (part_NNNNN.EXT; never a .writing or .interrupted file)."""
    return sorted(p for p in folder.glob("part_*") if PART_NAME.fullmatch(p.name))


def check_no_parts(output: Path) -> None:
    """UserError when OUTPUT has a parts folder holding finished segments of an earlier run: finished
    work is never redone or dropped silently; the user resumes it or deletes it. A folder of ours
    without a finished segment holds nothing to keep (prepare starts it afresh)."""
    folder = work_folder(output)
    if not folder.exists() or ((folder / MANIFEST_NAME).is_file() and not finished_parts(folder)):
        return
    raise user_error(folder, "holds the parts of an earlier run: add --resume to finish it, or delete it")


@dataclass(frozen=True)
class Settings:
    """What every job of a run shares: engine config, model (path, hash), runtime, plan lengths,
    and with --reference the people to swap (engine.face.people.Reference) and the models other
    than -m that swap some of them: (target, path, SHA-256) each. files: {flag: record} of every
    file that changes pixels (manifest.file_record), as the manifest records them."""

    engine: object
    model: Path
    model_sha256: str
    files: dict
    runtime: object
    face_type: str | None
    segment_seconds: float
    warmup: int
    max_frames: int = 0
    allow_partial: bool = False
    references: tuple = ()
    other_models: tuple[tuple[int, str, str], ...] = ()


@dataclass
class Job:
    input: Path
    output: Path
    segments: list[tuple[int, int]] = field(default_factory=list)
    index: object = None  # the input's engine.stages.segment_source.VideoIndex
    kept: int = 0  # parts found finished from an earlier run
    results: dict[int, dict] = field(default_factory=dict)
    manifest: dict | None = None  # as written in the parts folder

    def record_part(self, i: int, frames: int, sha256: str) -> None:
        """Note a finished part's frame count and checksum in the manifest (what --resume verifies)."""
        self.manifest["parts"][self.part(i).name] = {"frames": frames, "sha256": sha256}
        write_manifest(self.folder, self.manifest)

    @property
    def folder(self) -> Path:
        return work_folder(self.output)

    def part(self, i: int) -> Path:
        return self.folder / f"part_{i:05d}{self.output.suffix}"

    def missing(self) -> list[int]:
        return [i for i in range(len(self.segments)) if not self.part(i).is_file()]

    def planned(self, i: int) -> tuple[int, ...]:
        start, end = self.segments[i]
        return self.index.pts[start:end]

    def task(self, i: int, s: Settings) -> SegmentTask:
        start, end = self.segments[i]
        first = max(0, start - s.warmup)
        return SegmentTask(
            index=i,
            input=str(self.input.absolute()),  # a Ray worker may run in another folder
            part=str(self.part(i).absolute()),
            pts=self.index.pts[first:end],
            warmup=start - first,
            seek_pts=self.index.seek_pts(first),
            first_frame=start,
            engine=s.engine,
            model=str(s.model),
            runtime=s.runtime,
            face_type=s.face_type,
            references=s.references,
            other_models=tuple((t, path) for t, path, _ in s.other_models),
            model_sha256=s.model_sha256,
        )


def video_inputs(folder: Path) -> list[Path]:
    videos = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise user_error(
            folder,
            f"no videos ({', '.join(VIDEO_SUFFIXES)}) in this folder: --resume/--workers convert videos "
            "(a folder of images converts without them)",
        )
    return videos


def make_jobs(inp: Path, out: Path, lossless: bool, guarded: tuple[Path | None, ...]) -> list[Job]:
    """One job per input video; OUT is a file for one video, a folder for a folder of videos."""
    if inp.is_dir():
        if out.suffix:
            raise user_error(out, "a folder of videos converts into a folder: give -o a name without a suffix")
        if out.exists() and not out.is_dir():
            raise user_error(out, "exists and is not a folder")
        suffix = ".mkv" if lossless else ".mp4"
        jobs = [Job(v, out / f"{v.stem}{suffix}") for v in video_inputs(inp)]
    else:
        if not out.suffix:
            raise user_error(out, "--resume/--workers write a video file (NAME.mp4, NAME.mkv); frame folders do not")
        jobs = [Job(inp, out)]
    if inp.is_dir() and not out.exists():
        check_output_file(out, guarded)  # its parent must accept a new entry
        out.mkdir()
    for job in jobs:
        check_output_file(job.output, (*guarded, job.input))
    return jobs


def people_settings(s: Settings) -> list[dict]:
    """Who --reference swaps and with what, as the manifest records it (a change re-converts)."""
    models = {t: sha for t, _, sha in s.other_models}
    return [
        {
            "name": r.name,
            "embeddings_sha256": hashlib.sha256(np.ascontiguousarray(r.embeddings, np.float32).tobytes()).hexdigest(),
            "model_sha256": models.get(r.target, s.model_sha256),
        }
        for r in s.references
    ]


def prepare(job: Job, s: Settings, resume: bool) -> bool:
    """Plan JOB and make or check its parts folder; False when --resume finds it already done."""
    from swapstream.engine.stages.segment_source import NotSegmentable, plan_segments, scan_video

    folder = job.folder
    if not folder.exists() and resume and job.output.is_file():
        log.info("%s exists and has no %s: taken as done", job.output, folder.name)
        return False
    if not resume:
        check_no_parts(job.output)
    index = scan_video(job.input)
    frames = len(index.pts)
    if s.allow_partial and index.declared and frames < index.declared - TRUNCATION_SLACK:  # its end may not decode
        raise NotSegmentable(job.input, f"is truncated (holds {frames} of the {index.declared} frames it declares)")
    check_complete(job.input, index.declared, frames, s.allow_partial)
    if s.max_frames:
        frames = min(frames, s.max_frames)
    target = max(1, round(s.segment_seconds * index.fps))
    job.segments = plan_segments(index.keyframes, frames, target)
    job.index = index
    plan = {"frames": frames, "segment_frames": target, "warmup": s.warmup, "segments": job.segments}
    settings = pixel_settings(s.engine, s.face_type, job.output.suffix, people_settings(s))
    manifest = _json_roundtrip(build_manifest(input_identity(job.input), s.files, settings, plan))
    if folder.exists() and (not resume or _nothing_kept(folder)):
        shutil.rmtree(folder)  # no finished segment in it (check_no_parts made sure without --resume)
    if folder.exists():
        found = check_manifest(folder, manifest)
        _remove_strays(job)
        manifest["parts"] = verify_parts(job, found.get("parts"))
    else:
        folder.mkdir()
    write_manifest(folder, manifest)
    job.manifest = manifest
    job.kept = len(job.segments) - len(job.missing())
    return True


def _nothing_kept(folder: Path) -> bool:
    """A parts folder of ours (it has a manifest) without one finished part: nothing to resume."""
    return (folder / MANIFEST_NAME).is_file() and not finished_parts(folder)


def remove_empty_work(jobs: list[Job], made_folder: Path | None) -> None:
    """After a run that failed or was refused: remove the parts folders holding no finished part
    (they would only block a later run) and MADE_FOLDER, the output folder this run created, if it
    is still empty."""
    for job in jobs:
        if job.folder.is_dir() and _nothing_kept(job.folder):
            shutil.rmtree(job.folder, ignore_errors=True)
    if made_folder is not None and made_folder.is_dir() and not any(made_folder.iterdir()):
        made_folder.rmdir()


def verify_parts(job: Job, records: object) -> dict:
    """Keep only the finished parts that are what was written: the checksum recorded when the part
    was finished (when there is one) and the planned frame count, every frame decoded when no
    checksum was recorded (its writer was killed before saying it finished). A bad part is removed
    with a one-line warning, so its segment is converted again. Returns the records of the kept."""
    records = records if isinstance(records, dict) else {}
    kept = {}
    for i in range(len(job.segments)):
        part = job.part(i)
        if not part.is_file():
            continue
        record = records.get(part.name)
        sha = file_sha256(part)
        wanted = len(job.planned(i))
        recorded = isinstance(record, dict) and record.get("sha256") == sha and record.get("frames") == wanted
        if isinstance(record, dict) and not recorded:
            problem = "damaged (its SHA-256 is not the one recorded when it was finished)"
        else:
            problem = _frames_problem(part, wanted, decode=not recorded)
        if problem:
            log.warning("%s: %s: converting its segment again", part, problem)
            part.unlink()
        else:
            kept[part.name] = {"frames": wanted, "sha256": sha}
    return kept


def _frames_problem(part: Path, wanted: int, decode: bool) -> str | None:
    """Why PART does not hold WANTED frames (packets counted; decoded too when DECODE), or None."""
    import av

    try:
        with av.open(str(part)) as container:
            stream = container.streams.video[0]
            if decode:
                frames = sum(1 for _ in container.decode(stream))
            else:
                frames = sum(1 for packet in container.demux(stream) if packet.size)
    except (av.error.FFmpegError, IndexError, OSError) as e:
        return f"damaged (it does not decode: {getattr(e, 'strerror', None) or e})"
    return None if frames == wanted else f"damaged (holds {frames} of its {wanted} frames)"


def _json_roundtrip(manifest: dict) -> dict:
    """The manifest as it reads back from JSON (tuples become lists), for comparison."""
    import json

    return json.loads(json.dumps(manifest))


def _remove_strays(job: Job) -> None:
    """Drop what killed writers left in the folder: anything but the manifest and finished parts."""
    keep = {MANIFEST_NAME, *(job.part(i).name for i in range(len(job.segments)))}
    for path in job.folder.iterdir():
        if path.name not in keep:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def join(job: Job, s: Settings, no_audio: bool, publish=None) -> int:
    """Join JOB's parts into its output (audio, label; signed by publish, see join_parts), then
    remove the parts folder."""
    from swapstream.engine.stages.join_parts import join_parts

    missing = job.missing()
    if missing:
        raise UserError(f"{job.folder}: parts {missing[:5]} are missing, cannot join")
    parts = [job.part(i) for i in range(len(job.segments))]
    planned = [job.planned(i) for i in range(len(job.segments))]
    audio = None if no_audio else job.input
    index = job.index
    frames = join_parts(parts, planned, index.time_base, index.fps, job.output, s.engine.output, audio, publish)
    shutil.rmtree(job.folder, ignore_errors=True)
    return frames
