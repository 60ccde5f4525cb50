"""Keras predict speed of model shapes, untrained, side by side in one process.

    python bench/variants.py

Speed does not depend on the weights, so this compares shapes without training them: the
default as training builds it for 4–6-character labels (`fit_labels(5)`: 40 time steps) and
under 2,000 training images, with batch norm folded as a finished run saves it and unfolded as
during training, with 0.3.12's length bound (1–40 characters, which every read meets: only the
check runs; 5, which random weights' reads almost never meet: the search runs on every batch;
the other rows read greedily, as readers saved before 0.3.12 do), and read in colour (RGB) as
0.3.11 builds it for coloured training images;
0.3.9's wider model and its blocks with a narrower GRU (`bench/NOTES.md`, session 15); the
narrower model such sets got in versions 0.3.3–0.3.8; the 430 k model of 2,000 images or more
(all sets in version 0.3.2); version 0.2's 20 time steps; and the Keras example. Each reads
1,024 random images per round with `predict` on batches of 64, taking turns (bench/throughput.py);
the figure is each model's best round. Writes bench/results/variants-<date>-<host>.json and .md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from bench.machine import header, write_results  # noqa: E402
from bench.throughput import best_rounds  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = parser.parse_args()

    from bench.baseline import HEIGHT, WIDTH, build_keras_example
    from crnn_keras.contract import Vocabulary
    from crnn_keras.data.pipeline import image_batches
    from crnn_keras.model.backbone import build_backbone, fold_batch_norm
    from crnn_keras.model.config import SMALL_SET, ModelConfig, default_widths
    from crnn_keras.model.heads import build_reader

    vocabulary = Vocabulary(tuple("abcdefghijklmnopqrs"))  # 19 characters, as in captcha_images_v2
    classes = vocabulary.num_classes

    def backbone(cfg: ModelConfig, folded: bool):
        model = build_backbone(classes, cfg)
        return (fold_batch_norm(model, cfg) if folded else model), cfg

    default = ModelConfig().fit_labels(5).fit_data(1500)
    large_blocks, large_units = default_widths(SMALL_SET)  # blocks also every set's in versions 0.2 to 0.3.2
    backbones = {
        "default (64x160, 40 time steps, under 2,000 images), batch norm folded": backbone(default, folded=True),
        "default, batch norm not folded": backbone(default, folded=False),
        "default, length bound (0.3.12) met by every read: the check alone": backbone(default, folded=True),
        "default, length bound met by no read: the search on every batch": backbone(default, folded=True),
        "default read in colour (RGB input, 0.3.11's coloured sets), folded": backbone(
            dataclasses.replace(default, channels=3), folded=True),
        "under 2,000 images in 0.3.9 (blocks 32-64-96-128, GRU 128), folded": backbone(
            dataclasses.replace(default, block_widths=(32, 64, 96, 128), rnn_units=128), folded=True),
        "blocks 32-64-96-128, GRU 96, folded": backbone(
            dataclasses.replace(default, block_widths=(32, 64, 96, 128), rnn_units=96), folded=True),
        "under 2,000 images in 0.3.3–0.3.8 (blocks 16-32-48-64, GRU 96), folded": backbone(
            dataclasses.replace(default, block_widths=(16, 32, 48, 64), rnn_units=96), folded=True),
        "2,000 images or more; 0.3.2 (blocks 16-32-64-96, GRU 96), folded": backbone(
            ModelConfig().fit_labels(5).fit_data(SMALL_SET), folded=True),
        "0.2 (20 time steps), folded": backbone(ModelConfig(block_widths=large_blocks, rnn_units=large_units),
                                                 folded=True),
        "Keras example (50x200)": (build_keras_example(classes), ModelConfig(height=HEIGHT, width=WIDTH)),
    }
    rng = np.random.default_rng(0)
    inputs = {}
    bounds = {name: (1, 40) if "every read" in name else (5, 5) for name in backbones if "length bound" in name}
    for name, (model, cfg) in backbones.items():
        reader = build_reader(model, vocabulary, bounds.get(name))
        images = rng.integers(0, 256, (1024, cfg.height, cfg.width, cfg.input_channels), dtype=np.uint8)
        reader.predict(image_batches(images, 64), verbose=0)  # warm-up: tracing
        inputs[name] = (reader, images)
    best = best_rounds(inputs, args.rounds)
    base = best["Keras example (50x200)"]
    result = {**header(), "images_per_second": {k: round(v, 1) for k, v in best.items()},
              "parameters": {k: int(b.count_params()) for k, (b, _) in backbones.items()}}
    lines = [f"# Predict speed of model shapes {result['date']}: {result['machine']['cores']} cores, "
             f"{result['machine']['cpu']}", "", f"`{result['command']}` (untrained readers, 1,024 random "
             f"images a round, batch 64, best of {args.rounds} rounds, models taking turns)", "",
             "| model | parameters | images/s | / Keras example |", "|---|---|---|---|"]
    for name, value in best.items():
        lines.append(f"| {name} | {result['parameters'][name]:,} | {value:,.0f} | {value / base:.2f} |")
    write_results(args.out, "variants-", result, "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
