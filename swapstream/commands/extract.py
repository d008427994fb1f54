"""Extract aligned faces of ONE person from videos, photos or folders of photos into a faceset.

Re-running on the same inputs adds nothing; an interrupted run keeps what it saved and carries
on where it stopped. Faces that are too small, too turned, blurred or near-duplicates of the
previous frame are rejected and counted. A contact sheet (contact_sheet.png) shows a sample.

examples:
  swapstream extract me.mp4 -o faces_me
  swapstream extract photos/ clip1.mp4 clip2.mp4 -o faces_me --every 2 --size 256
"""

from __future__ import annotations

import argparse
import sys

from swapstream.common.arg_types import float_in, int_in
from swapstream.common.choices import FACE_SELECTION_HELP, FACE_SELECTIONS, FACE_TYPE_HELP, FACE_TYPES, describe


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="video files, image files or folders of images")
    p.add_argument("-o", "--output", required=True, metavar="FACESET", help="faceset folder (created or appended to)")
    p.add_argument(
        "--face-type",
        default="whole",
        choices=FACE_TYPES,
        help="crop coverage (default whole): " + describe(FACE_TYPES, FACE_TYPE_HELP),
    )
    p.add_argument(
        "--size", type=int_in(32, 1024), default=256, help="aligned crop size in pixels, 32..1024 (default: 256)"
    )
    p.add_argument("--every", type=int_in(1), default=1, metavar="N", help="use every Nth video frame (default: 1)")
    p.add_argument(
        "--min-face",
        type=float_in(0),
        default=40,
        metavar="PX",
        help="minimum face height, forehead to chin; smaller faces are skipped and counted (default: 40)",
    )
    p.add_argument(
        "--max-yaw", type=float_in(0, 180), default=65, metavar="DEG", help="maximum head turn, 0..180 (default: 65)"
    )
    p.add_argument(
        "--faces", default="largest", choices=FACE_SELECTIONS, help=describe(FACE_SELECTIONS, FACE_SELECTION_HELP)
    )
    p.add_argument(
        "--blur-ratio",
        type=float_in(0, 1),
        default=0.25,
        metavar="R",
        help="reject faces whose sharpness is under R x the median of their source (0 = off; default: 0.25)",
    )
    p.add_argument(
        "--min-sharpness",
        type=float_in(0),
        default=0.0,
        metavar="S",
        help="also reject faces under this absolute sharpness (variance of the Laplacian at the face's own "
        "resolution; 'swapstream info' shows a faceset's median; default: 0 = off)",
    )
    p.add_argument("--no-smooth", dest="smooth", action="store_false", help="no One-Euro landmark smoothing")
    p.add_argument(
        "--allow-partial",
        action="store_true",
        help="use the frames a truncated video holds (default: refuse it, exit 2)",
    )


def run(args: argparse.Namespace) -> int:
    from swapstream.common.errors import UserError
    from swapstream.trainer.contact_sheet import write_contact_sheet
    from swapstream.trainer.extract import ExtractConfig, extract
    from swapstream.trainer.faceset_info import faceset_coverage

    try:
        cfg = ExtractConfig(
            face_type=args.face_type,
            size=args.size,
            every=args.every,
            min_face=args.min_face,
            max_yaw=args.max_yaw,
            faces=args.faces,
            blur_ratio=args.blur_ratio,
            min_sharpness=args.min_sharpness,
            smooth=args.smooth,
            allow_partial=args.allow_partial,
        )
    except ValueError as e:
        raise UserError(f"bad option: {e}") from None
    fs, s = extract(args.inputs, args.output, cfg)
    for warning in s.warnings:
        print(f"swapstream extract: warning: {warning}", file=sys.stderr)
    write_contact_sheet(fs)
    rejected = ", ".join(f"{v} {k}" for k, v in s.rejected.most_common()) or "none"
    skipped = f" {s.frames_skipped} frames were already done by an earlier run and skipped." if s.frames_skipped else ""
    missing = f" No face at all in: {', '.join(s.sources_without_face)}." if s.sources_without_face else ""
    print(
        f"Read {s.frames_read} frames in {s.seconds:.1f} s ({s.frames_read / max(s.seconds, 1e-9):.1f} fps) and kept "
        f"{s.faces_kept} faces; rejected: {rejected}.{skipped}{missing} The faceset {fs.path} now holds {len(fs)} "
        f"{fs.face_type} faces at {fs.size} px; look at {fs.path / 'contact_sheet.png'} before training."
    )
    for warning in faceset_coverage(fs)["warnings"]:
        print(f"swapstream extract: note: the faceset has {warning}", file=sys.stderr)
    return 0
