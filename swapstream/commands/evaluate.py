"""Measure the quality of a converted video against the video it was made from.

identity     an independent judge (dlib's face recognition ResNet, the `eval` extra) embeds each
             swapped face: the share of frames nearer the target person (mean of the faceset's
             faces) than the driving person (mean of the driving video's faces), the distances,
             and the judge's own separation of the two people (trust the share only when high)
expression   correlation of mouth and eye opening, driving vs swapped, and head-pose error
stability    frame-to-frame change inside the face, swapped vs driving (flicker ratio, 1 = none added)
background   share of pixels outside the face hull that changed (should be ~0)

Frames are paired by index: both videos must have the same size and frame count.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from swapstream.common.arg_types import int_in


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--driving", type=Path, required=True, metavar="ORIGINAL", help="the video that was converted")
    parser.add_argument("--swapped", type=Path, required=True, metavar="OUTPUT", help="the converted video")
    parser.add_argument(
        "--identity", type=Path, required=True, metavar="FACESET_B", help="faceset of the person swapped in"
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the full report (with per-frame curves)")
    parser.add_argument("--plot", type=Path, metavar="OUT.png", help="write a PNG of the per-frame curves")
    parser.add_argument(
        "--every", type=int_in(1), default=1, metavar="N", help="measure one frame in N, N >= 1 (default 1)"
    )
    parser.add_argument(
        "--max-identity-faces",
        type=int_in(1),
        default=100,
        metavar="K",
        help="embed at most K faces of the faceset, spread over it (default 100)",
    )
    parser.add_argument(
        "--background-threshold",
        type=int_in(0, 254),
        default=12,
        metavar="LEVELS",
        help="a background pixel counts as changed above this difference (default 12, room for codec noise)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from swapstream.common.output_paths import check_output_files
    from swapstream.engine.quality.evaluate import EvalConfig, evaluate
    from swapstream.engine.quality.report import format_table, write_json, write_plot

    inputs = (args.driving, args.swapped, args.identity)
    # Before the slow part, never onto an input, nor onto each other.
    check_output_files((("--json", args.json), ("--plot", args.plot)), inputs, make_parents=True)
    config = EvalConfig(
        driving=args.driving,
        swapped=args.swapped,
        identity=args.identity,
        every=args.every,
        max_identity_faces=args.max_identity_faces,
        background_threshold=args.background_threshold,
        progress=not args.no_progress,
    )
    report = evaluate(config)
    print(format_table(report))
    if args.json:
        write_json(report, args.json)
        print(f"report: {args.json}")
    if args.plot:
        write_plot(report, args.plot)
        print(f"plot: {args.plot}")
    return 0
