"""`python -m crnn_keras explain`: a picture of how a `.keras` model reads each image."""

from __future__ import annotations

import argparse
import json
import os
import sys

from crnn_keras import atomic
from crnn_keras.cli.common import UserError
from crnn_keras.cli.read import beam_width, tsv_field
from crnn_keras.data.files import list_image_files, printable_path
from crnn_keras.data.images import ImageError
from crnn_keras.runtime.reader import Reader


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model.keras (a .tflite graph keeps no intermediate maps)")
    p.add_argument("--out", default="explain", help="folder for the pictures; existing ones are never overwritten")
    p.add_argument("--beam-width", type=int, help="also read with beam search of this width, shown where it differs")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders")


def free_name(folder: str, stem: str) -> str:
    """folder/stem, or stem-2, stem-3, … where a picture of that name exists."""
    candidate, n = os.path.join(folder, stem), 2
    while os.path.exists(candidate + ".png") or os.path.exists(candidate + ".json"):
        candidate, n = os.path.join(folder, f"{stem}-{n}"), n + 1
    return candidate


def run(args) -> int:
    if args.model.lower().endswith(".tflite"):
        raise UserError(f"{args.model}: explain needs the .keras model; a .tflite graph returns only the decoded "
                        "ids, not the feature maps and per-step probabilities the picture shows")
    # Imported here: drawing needs Keras and matplotlib, which a reader-only install lacks.
    from crnn_keras.explain.alignment import explain
    from crnn_keras.explain.figure import draw

    reader, beam = Reader(args.model), beam_width(args)
    files, problems = list_image_files(args.images)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UserError(f"--out {args.out}: is a file; give a folder for the pictures")
    os.makedirs(args.out, exist_ok=True)
    written = 0
    for path in files:
        try:
            image = reader.prepare(path)
        except ImageError as error:
            print(f"error: {error}", file=sys.stderr)
            continue
        explanation = explain(reader.keras_model, image, beam)
        stem = free_name(args.out, printable_path(os.path.splitext(os.path.basename(path))[0]))
        draw(explanation, stem + ".png", title=printable_path(os.path.basename(path)))
        atomic.write_text(stem + ".json", json.dumps(explanation.to_dict(), ensure_ascii=False, indent=1))
        print(f"{tsv_field(stem + '.png')}\t{tsv_field(explanation.text)}\t{explanation.confidence:.4f}", flush=True)
        written += 1
    return 0 if written else 1
