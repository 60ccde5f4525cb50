"""Memory on a large folder: does RSS stay flat while 100,000 small images load and train?

    python bench/memory.py [--count 100000] [--steps 300]

Makes a folder of small labelled images (PIL text, 100x32), then, in a fresh process, loads it the
way `train.py` does (Pillow decoding into one compact uint8 array), builds the tf.data pipeline and
the trainer, and trains --steps batches, sampling RSS every 0.5 s. Writes
bench/results/memory-<date>-<host>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def make_folder(folder: str, count: int, seed: int = 0) -> None:
    from PIL import Image, ImageDraw, ImageFont

    rng = random.Random(seed)
    font = ImageFont.load_default()
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        text = "".join(rng.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(rng.randint(4, 6)))
        image = Image.new("L", (100, 32), 255)
        ImageDraw.Draw(image).text((rng.randint(2, 20), rng.randint(2, 14)), text, font=font, fill=0)
        image.save(os.path.join(folder, f"{text}_{i}.png"))


def rss_mb() -> float:
    with open("/proc/self/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(folder: str, steps: int) -> dict:
    """Runs in its own process so generation does not count."""
    import keras

    from crnn_keras.contract import Vocabulary
    from crnn_keras.data.labelled import load_folder
    from crnn_keras.data.pipeline import make_dataset
    from crnn_keras.model.backbone import build_backbone
    from crnn_keras.model.config import ModelConfig
    from crnn_keras.model.heads import build_trainer

    samples: list[tuple[float, str, float]] = []
    phase = ["start"]
    started = time.time()
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            samples.append((round(time.time() - started, 1), phase[0], round(rss_mb(), 1)))
            time.sleep(0.5)

    threading.Thread(target=sample, daemon=True).start()
    baseline = rss_mb()
    phase[0] = "load"
    cfg = ModelConfig()
    data, problems = load_folder(folder, cfg.height, cfg.width, cfg.input_channels, label_regex=r"^(.+)_\d+$")
    after_load = rss_mb()
    vocabulary = Vocabulary.from_labels(data.labels)
    phase[0] = "train"
    trainer = build_trainer(build_backbone(vocabulary.num_classes, cfg), data.max_label_length)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
    dataset = make_dataset(data, vocabulary, trainer.input["labels"].shape[1], 32, shuffle=True,
                           augment_images=True).take(steps)
    marks = {}

    class Mark(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch + 1 in (10, steps // 2, steps):
                marks[batch + 1] = round(rss_mb(), 1)

    t0 = time.time()
    trainer.fit(dataset, epochs=1, verbose=0, callbacks=[Mark()])
    stop.set()
    return {
        "images": len(data),
        "input": f"{cfg.height}x{cfg.width}x{cfg.input_channels}",
        "skipped": len(problems),
        "array_mb": round(data.images.nbytes / 2**20, 1),
        "rss_mb_at_start": round(baseline, 1),
        "rss_mb_after_loading": round(after_load, 1),
        "rss_mb_at_training_step": marks,
        "peak_rss_mb": max(s[2] for s in samples),
        "train_seconds": round(time.time() - t0, 1),
        "samples": samples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.steps)))
        return 0

    from bench.machine import header, write_results

    with tempfile.TemporaryDirectory(prefix="crnn_memory_") as tmp:
        folder = os.path.join(tmp, "images")
        t0 = time.time()
        make_folder(folder, args.count)
        print(f"made {args.count} images in {time.time() - t0:.0f} s", file=sys.stderr)
        done = subprocess.run([sys.executable, os.path.abspath(__file__), "--measure", folder, "--steps",
                               str(args.steps)], capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT))
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            return 1
        result = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(**header(), steps=args.steps)
    marks = ", ".join(f"step {k}: {v:,.0f} MB" for k, v in result["rss_mb_at_training_step"].items())
    summary = (
        f"Memory benchmark {result['date']}, {result['machine']['cores']} cores, {result['machine']['cpu']}\n\n"
        f"`{result['command']}`\n\n"
        f"- {result['images']:,} images of 100x32 decoded into a {result['array_mb']:,.0f} MB uint8 array "
        f"({result['input']})\n"
        f"- RSS: {result['rss_mb_at_start']:,.0f} MB at start (TensorFlow imported), "
        f"{result['rss_mb_after_loading']:,.0f} MB after loading; while training ({args.steps} steps, batch 32, "
        f"augmentation on): {marks}\n"
        f"- peak RSS {result['peak_rss_mb']:,.0f} MB\n"
    )
    write_results(args.out, "memory-", result, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
