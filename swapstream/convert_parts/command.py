"""`swapstream convert` of a video into a video file: in segments, resumable, here or on Ray.

The input is planned into segments of about --segment-seconds, each starting on a keyframe; each
missing segment is converted by the normal engine pipeline (here, or as Ray tasks with --workers
or --cluster) into NAME.parts/ beside the output; when all are there they are joined by stream
copy with the source's audio and the synthetic-media label, and the parts folder is removed.
Interrupted or crashed, the finished parts stay: the same command with --resume does only what is
missing, and gives the output an uninterrupted run gives (the parts do not depend on which
process converted them, or when). Ctrl-C also leaves the frames finished so far as a playable
NAME.partial.EXT (interrupted.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from swapstream.common.arg_types import float_in, int_in
from swapstream.common.errors import UserError
from swapstream.credentials.flags import sealer_from_args, warn_unsignable

DEFAULT_SEGMENT_SECONDS = 4.0


def add_parts_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("resume and scale-out (segments kept in NAME.parts/ beside the output)")
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue a convert that was interrupted or crashed: the segments it finished (kept in "
        "NAME.parts/ until the output is joined) are reused and only the missing ones converted",
    )
    g.add_argument(
        "--workers",
        metavar="N",
        type=int_in(1, 4096),
        default=None,
        help="convert the segments as Ray tasks on a local Ray instance with N workers (pip extra 'cluster')",
    )
    g.add_argument(
        "--cluster",
        metavar="ADDRESS",
        default=None,
        help="run the segments on an existing Ray cluster (auto, HOST:6379 or ray://HOST:10001); input, "
        "output and model must be on storage every node sees under the same path",
    )
    g.add_argument(
        "--segment-seconds",
        metavar="S",
        type=float_in(0.5, 3600),
        default=DEFAULT_SEGMENT_SECONDS,
        help=f"segment length in seconds (default {DEFAULT_SEGMENT_SECONDS:g}); a segment starts on the keyframe "
        "nearest to S seconds on within 0.5-2.5 S, else on the next one",
    )
    g.add_argument(
        "--gpus-per-task",
        metavar="G",
        type=float_in(0, 64),
        default=1.0,
        help="Ray: GPUs each segment asks for when the model runs on CUDA/TensorRT (0.5: two per GPU; default 1)",
    )


def wants_parts(args: argparse.Namespace) -> bool:
    return bool(args.resume or args.workers or args.cluster)


def _settings(args: argparse.Namespace, cfg, distributed: bool):
    from swapstream.convert_parts.jobs import Settings
    from swapstream.convert_parts.manifest import file_sha256
    from swapstream.engine.stages.segment_source import WARMUP_FRAMES
    from swapstream.swap_session.from_args import runtime_config_from_args
    from swapstream.swap_session.pipelines import SwapSession

    session = SwapSession.from_args(args, cfg)
    model, references, others = session.model, session.references, session.others
    runtime = runtime_config_from_args(args)
    if distributed and not args.threads:
        runtime = dataclasses.replace(runtime, intra_op_threads=1)  # a task asks for one CPU
    files = pixel_files(args, cfg)
    settings = Settings(
        engine=cfg,
        model=args.model.absolute(),
        model_sha256=files["-m"]["sha256"],
        files=files,
        runtime=runtime,
        face_type=args.face_type,
        segment_seconds=args.segment_seconds,
        warmup=WARMUP_FRAMES,
        max_frames=args.max_frames,
        allow_partial=args.allow_partial,
        references=references,
        other_models=tuple((t, str(m.path.absolute()), file_sha256(m.path)) for t, m in others.items()),
    )
    return settings, model


def pixel_files(args: argparse.Namespace, cfg) -> dict:
    """{flag: manifest.file_record} of every file that changes a part's pixels: the model, the
    occlusion model (when the mask uses it), the target's faces --detail adds detail from and
    --mouth takes mouths from (--detail-from, or MODEL.detail beside the model), each --reference
    photo or faceset and its model."""
    from swapstream.convert_parts.manifest import file_record
    from swapstream.engine.image.target_detail import DETAIL_BANK_SUFFIX, DRIVER_DETAIL

    files = {"-m": file_record("model file", args.model)}
    if cfg.swap.mask == "occlusion":
        files["--occluder"] = file_record("occlusion model", Path(cfg.swap.occluder))
    if (cfg.swap.detail > 0 or cfg.swap.mouth > 0 or cfg.swap.eyes > 0) and cfg.swap.detail_from != DRIVER_DETAIL:
        bank = Path(cfg.swap.detail_from) if cfg.swap.detail_from else args.model.with_suffix(DETAIL_BANK_SUFFIX)
        if bank.is_dir():
            files["--detail-from"] = file_record("faceset the detail comes from", bank)
    for n, (photo, model_path) in enumerate(getattr(args, "reference", None) or [], 1):
        files[f"--reference {n}"] = file_record("reference photo or faceset", photo)
        if model_path is not None:
            files[f"--reference {n} model"] = file_record("model for a reference", model_path)
    return files


class _Progress:
    """Counts per job, the progress bar, and the join of each job when its last part is done."""

    def __init__(self, jobs, settings, no_audio: bool, total_frames: int, sealer=None):
        from tqdm import tqdm

        self.jobs, self.settings, self.no_audio = jobs, settings, no_audio
        self.sealer = sealer  # signs each joined output (swapstream.credentials), None: unsigned
        self.bar = tqdm(total=total_frames or None, unit="frame", desc="convert", dynamic_ncols=True, file=sys.stderr)
        self.t0 = time.perf_counter()
        self._partial = 0

    def tick(self, stats) -> None:
        """In-process: frames of the running segment as they are written."""
        frames = stats.snapshot().frames
        self.bar.update(frames - self._partial)
        self._partial = frames

    def done(self, job, task, counts: dict) -> None:
        self.bar.update(counts["frames"] - self._partial)
        self._partial = 0
        job.record_part(task.index, task.frames, counts["sha256"])
        job.results[task.index] = counts
        if not job.missing():
            self.finish(job)

    def finish(self, job) -> None:
        from swapstream.convert_parts.jobs import join

        frames = join(job, self.settings, self.no_audio, self.publish_for(job))
        if all(not j.missing() for j in self.jobs):
            self.bar.close()  # the last job: the summary goes below the finished bar
        else:
            self.bar.clear()
        print(_summary(job, frames, time.perf_counter() - self.t0), file=sys.stderr)

    def publish_for(self, job):
        """How JOB's joined file is moved into place: signed for its own input, or a plain rename."""
        return None if self.sealer is None else self.sealer.for_source(job.input).publish


def _summary(job, frames: int, elapsed: float) -> str:
    counts = list(job.results.values())
    converted = sum(c["frames"] for c in counts)
    faces = sum(c["faces_swapped"] for c in counts)
    empty = sum(c["frames_without_face"] for c in counts)
    provider = counts[0]["provider"] if counts else "-"
    segments = f"{len(job.segments)} segment{'s' if len(job.segments) != 1 else ''}"
    faced = f"{faces} faces swapped, {empty} frames without a face"
    if job.kept:
        head = (
            f"{frames} frames in {segments} ({job.kept} kept from an earlier run; {converted} converted now: {faced})"
        )
    else:
        head = f"{frames} frames, {faced} (in {segments})"
    return (
        f"wrote {job.output}: {head}, {converted / max(elapsed, 1e-9):.1f} fps mean on {provider}. "
        "The output is labelled as containing synthetic faces."
    )


def run_parts(args: argparse.Namespace, cfg) -> int:
    """The convert in segments (cfg: the EngineConfig convert built from its flags)."""
    from swapstream.convert_parts.jobs import make_jobs, remove_empty_work
    from swapstream.swap_session.from_args import swap_inputs

    if not args.input.exists():
        raise UserError(f"{args.input}: no such file or folder")
    distributed = bool(args.workers or args.cluster)
    if distributed:
        from swapstream.convert_parts.on_ray import import_ray

        import_ray()  # says how to install it before any work
    made_folder = None if args.output.exists() else args.output  # make_jobs makes it for a folder of videos
    jobs = []
    try:
        jobs = make_jobs(args.input, args.output, cfg.output.codec == "ffv1", swap_inputs(args))
        return _run_jobs(args, cfg, jobs, distributed)
    except BaseException:  # refused, failed or interrupted: a folder that holds nothing is not left
        remove_empty_work(jobs, made_folder)
        raise


def _run_jobs(args: argparse.Namespace, cfg, jobs, distributed: bool) -> int:
    from swapstream.convert_parts.jobs import prepare
    from swapstream.convert_parts.work import keep_model

    settings, model = _settings(args, cfg, distributed)
    sealer = sealer_from_args(args, cfg, args.input, model, settings.model_sha256)
    if sealer is not None:
        for output in {job.output.suffix.lower(): job.output for job in jobs}.values():
            warn_unsignable(output)
    started = None
    try:
        if distributed:  # connect before any parts folder is made: a bad --cluster leaves nothing
            from swapstream.convert_parts.on_ray import start_ray

            started = start_ray(args.workers, args.cluster, verbose=args.verbose)
        todo = [job for job in jobs if prepare(job, settings, args.resume)]
        if not todo:
            print(f"{args.output}: already converted (drop --resume to convert it again)", file=sys.stderr)
            return 0
        if not distributed:
            keep_model(str(settings.model), settings.runtime, settings.face_type, model)
        _convert(args, settings, todo, sealer)
    finally:
        if started is not None:
            from swapstream.convert_parts.on_ray import stop_ray

            stop_ray(started)
    return 0


def _convert(args, settings, todo, sealer) -> None:
    """Convert the missing segments of every job (here or on Ray), joining each job when complete."""
    from swapstream.convert_parts.work import run_segment

    tasks = [(job, job.task(i, settings)) for job in todo for i in job.missing()]
    progress = _Progress(todo, settings, args.no_audio, sum(t.frames for _, t in tasks), sealer)
    try:
        for job in todo:
            if not job.missing():
                progress.finish(job)  # every part was kept: only the join was left
        if args.workers or args.cluster:
            _run_distributed(args, settings, tasks, progress)
        else:
            for job, task in tasks:
                progress.done(job, task, run_segment(task, progress.tick))
    except KeyboardInterrupt as e:
        from swapstream.convert_parts.interrupted import interrupted_note
        from swapstream.convert_parts.work import SegmentInterrupted

        cut = e if isinstance(e, SegmentInterrupted) else None
        note = interrupted_note(todo, settings, args.no_audio, cut, progress.publish_for)
        raise KeyboardInterrupt(note) from None
    finally:
        progress.bar.close()


def _run_distributed(args, settings, tasks, progress) -> None:
    from swapstream.convert_parts.on_ray import run_on_ray
    from swapstream.engine.runtime.providers import resolve_providers

    by_part = {task.part: job for job, task in tasks}
    gpus = args.gpus_per_task if resolve_providers(settings.runtime)[0] in ("cuda", "tensorrt") else 0.0
    run_on_ray(
        [t for _, t in tasks],
        lambda task, counts: progress.done(by_part[task.part], task, counts),
        gpus=gpus,
        in_flight=args.workers,
    )
