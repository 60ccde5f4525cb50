"""`python -m crnn_keras export`: a trained `model.keras` → a `.tflite` or `.onnx` model."""

from __future__ import annotations

import argparse
import os

from crnn_keras.cli.common import UserError
from crnn_keras.export.modes import QUANTIZE_MODES

FORMATS = ("tflite", "onnx")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model.keras from a training run")
    p.add_argument("--out", required=True, help="where to write the .tflite or .onnx file")
    p.add_argument("--format", choices=FORMATS, help="tflite or onnx (default: from the --out suffix)")
    p.add_argument("--quantize", choices=QUANTIZE_MODES, help="TFLite only (default: float32)")
    p.add_argument("--calibration-data", help="int8: folder of images (default: the run's calibration.npy)")


def output_format(args) -> str:
    suffix = os.path.splitext(args.out)[1].lower().lstrip(".")
    fmt = args.format or suffix
    if fmt not in FORMATS:
        raise UserError(f"--out {args.out}: name the file .tflite or .onnx, or pass --format")
    if os.path.isdir(args.out):
        raise UserError(f"--out {args.out}: is a folder; name the .{fmt} file to write")
    if fmt == "onnx" and (args.quantize or args.calibration_data):
        raise UserError("--quantize and --calibration-data are for TFLite: the ONNX export is float32")
    return fmt


def run(args) -> int:
    fmt = output_format(args)
    # Imported here: the converters need TensorFlow (and tf2onnx), which a reader-only install lacks.
    if fmt == "onnx":
        from crnn_keras.export.onnx import export as export_onnx

        info = export_onnx(args.model, args.out)
    else:
        from crnn_keras.export.tflite import export

        info = export(args.model, args.out, args.quantize or "float32", args.calibration_data)
    print(f"wrote {info['path']} ({info['bytes'] / 1024:.0f} KiB, {info['quantize']})")
    print(f"input: {info['input']}")
    for output in info["outputs"]:
        print(f"output: {output}")
    print(f"ops: {', '.join(info['ops'])}")
    return 0
