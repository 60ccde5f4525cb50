"""`python -m crnn_keras export`: a trained `model.keras` → a `.tflite` model."""

from __future__ import annotations

import argparse
import os

from crnn_keras.cli.common import UserError
from crnn_keras.export.modes import QUANTIZE_MODES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model.keras from a training run")
    p.add_argument("--out", required=True, help="where to write the .tflite file")
    p.add_argument("--quantize", default="float32", choices=QUANTIZE_MODES)
    p.add_argument("--calibration-data", help="int8: folder of images (default: the run's calibration.npy)")


def run(args) -> int:
    # Imported here: the converter needs TensorFlow, which a TFLite-only install lacks.
    from crnn_keras.export.tflite import export

    if not args.out.lower().endswith(".tflite"):
        raise UserError(f"--out {args.out}: name the file .tflite")
    if os.path.isdir(args.out):
        raise UserError(f"--out {args.out}: is a folder; name the .tflite file to write")
    info = export(args.model, args.out, args.quantize, args.calibration_data)
    print(f"wrote {info['path']} ({info['bytes'] / 1024:.0f} KiB, {info['quantize']})")
    print(f"input: {info['input']}")
    for output in info["outputs"]:
        print(f"output: {output}")
    print(f"ops: {', '.join(info['ops'])}")
    return 0
