"""Export a trained run to a self-describing ONNX model for the engine.

  swapstream export RUN_DIR -o MODEL.onnx [--direction a2b|b2a] [--precision fp32|fp16|int8]
                    [--calibration FACESET] [--tensorrt [--fp16-trt] [--trt-cache DIR]]

The model takes uint8 NHWC BGR aligned faces and returns uint8 faces and masks; its metadata
carries the alignment contract (face type, template, resolution), direction, preset, iterations,
final losses and a hash of the weights. Every export is verified against PyTorch on real aligned
faces (fp32: max |diff| <= 1e-4; fp16/int8: SSIM >= 0.98 vs fp32) and is not written if it fails.
INT8 (static QDQ, for CPUs) is calibrated on faces from a faceset: the run's own when the
checkpoint records it, else --calibration. --tensorrt prebuilds TensorRT engines (GPU machines).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from swapstream.common.arg_types import int_in
from swapstream.common.choices import DIRECTION_HELP, DIRECTIONS, MODEL_PRECISIONS, describe


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_dir",
        type=Path,
        metavar="RUN_DIR",
        help="training run directory (holds checkpoint.pt), or one checkpoint file (train --keep-checkpoints)",
    )
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="MODEL.onnx", help="model file to write")
    parser.add_argument(
        "--direction", choices=DIRECTIONS, default="a2b", help=f"default a2b: {describe(DIRECTIONS, DIRECTION_HELP)}"
    )
    parser.add_argument(
        "--precision",
        choices=MODEL_PRECISIONS,
        default="fp32",
        help="fp32 (default), fp16 (GPUs), int8 (CPUs, static quantization)",
    )
    parser.add_argument("--calibration", type=Path, metavar="FACESET", help="faceset of INT8 calibration faces")
    parser.add_argument(
        "--verify-faces", type=int_in(1, 10_000), default=16, help="faces used for verification, 1..10000 (default 16)"
    )
    parser.add_argument(
        "--calibration-faces", type=int_in(1, 100_000), default=64, help="faces used for INT8 calibration (default 64)"
    )
    trt = parser.add_argument_group("TensorRT (machines with an NVIDIA GPU)")
    trt.add_argument("--tensorrt", action="store_true", help="prebuild TensorRT engines next to the model")
    trt.add_argument("--fp16-trt", action="store_true", help="let TensorRT use FP16 kernels")
    trt.add_argument("--trt-cache", type=Path, help="TensorRT engine/timing cache dir (default MODEL.trt-cache/)")
    trt.add_argument(
        "--trt-max-batch", type=int_in(1, 1024), default=8, help="largest batch the TensorRT engine serves, 1..1024"
    )


def run(args: argparse.Namespace) -> int:
    from swapstream.common.errors import UserError
    from swapstream.common.output_paths import check_output_file
    from swapstream.export.exporter import ExportOptions, export_model

    # Before the slow part (loading, tracing, verifying, quantizing): never onto an input.
    check_output_file(args.output, (args.run_dir, args.calibration), "-o", make_parents=True)

    try:
        options = ExportOptions(
            direction=args.direction,
            precision=args.precision,
            calibration=args.calibration,
            verify_faces=args.verify_faces,
            calibration_faces=args.calibration_faces,
        )
    except ValueError as e:
        raise UserError(str(e)) from None
    report = export_model(args.run_dir, args.output, options)
    for line in report.lines():
        print(line)
    if args.tensorrt:
        from swapstream.export.tensorrt import TensorRTOptions, prepare_tensorrt

        cache = args.trt_cache or args.output.with_suffix(".trt-cache")
        trt = prepare_tensorrt(args.output, TensorRTOptions(cache, args.fp16_trt, args.trt_max_batch))
        for line in trt.lines():
            print(f"tensorrt: {line}")
    return 0
