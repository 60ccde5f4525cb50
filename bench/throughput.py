"""Keras predict throughput of saved readers, measured side by side in one fresh process.

    python bench/throughput.py --data DIR MODEL.keras [MODEL.keras ...]

Each model reads the images of DIR (repeated to at least 1,024, each resized to that model's
input) with `model.predict` on batches of 64 from `image_batches`, as `Reader` reads them: a
NumPy array handed to `predict` makes Keras build an autotuned tf.data pipeline, whose end
waits for the autotune thread (a third of some rounds, for every model alike; bench/NOTES.md,
session 9). The models take turns, round after round, so a
slower or busier stretch of the machine hits them alike; each one's figure is its best round.
Prints one JSON object: {model path: images per second}. bench/run.py calls this once all
training is done, so no model is measured in a process that trained more models than another.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

BATCH = 64


def best_rounds(inputs: dict, rounds: int) -> dict:
    """{name: (model, images)} → {name: best images/s over `rounds`}; the models take turns."""
    from crnn_keras.data.pipeline import image_batches

    best = {name: 0.0 for name in inputs}
    for _ in range(rounds):
        for name, (model, images) in inputs.items():
            start = time.perf_counter()
            model.predict(image_batches(images, BATCH), verbose=0)
            best[name] = max(best[name], len(images) / (time.perf_counter() - start))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--data", required=True, help="a folder of images")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--images", type=int, default=1024, help="images a round (the folder, repeated)")
    args = parser.parse_args()

    from crnn_keras.data.files import list_image_files
    from crnn_keras.data.pipeline import image_batches
    from crnn_keras.runtime.reader import Reader

    files, _ = list_image_files([args.data])
    if not files:
        print(f"error: {args.data}: no images", file=sys.stderr)
        return 1
    inputs = {}
    for path in args.models:
        reader = Reader(path)
        images = np.stack([reader.prepare(f) for f in files])
        images = np.concatenate([images] * -(-args.images // len(images)))[: args.images]
        model = reader.keras_model
        model.predict(image_batches(images, BATCH), verbose=0)  # warm-up: tracing, the last partial batch
        inputs[path] = (model, images)
    best = best_rounds(inputs, args.rounds)
    print(json.dumps({path: round(value, 1) for path, value in best.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
