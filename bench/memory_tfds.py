"""Training streamed from TFDS: does RSS stay flat on 1,000,000 images, and is it as fast as memory?

    python bench/memory_tfds.py [--count 1000000] [--steps 2000] [--compare 100000] [--compare-steps 500]

1. Renders 400 captchas with the `captcha` package at the model's input (64x160 grey) and makes
   every example by perturbing one of them (seeded per example): a shift of up to ±8 x ±3 pixels
   on a white background, contrast and brightness, and 40–120 dark speckles. The label is the
   captcha's. Rendering a million captchas would take hours on 2 cores; perturbing takes
   microseconds, and what is measured — the TFDS write, the shards, the streamed pipeline — is the
   same.
2. Writes them through the project's TFDS builder (`crnn_keras.data.tfds_dataset`: PNG, ≥ 16
   shards, the metadata) into a dataset of --count images, and one of --compare images.
3. In a fresh process each: trains the default model --steps batches of 32 streamed from the big
   dataset, sampling RSS; then --compare-steps batches from the small dataset streamed, and from
   the same images decoded into memory (`TrainingData`, what a folder gives), timing images/s
   after a warm-up. Augmentation is on, as in `train`.

Writes bench/results/memory-tfds-<date>-<host>.json and .md. The datasets live in --work
(a temporary folder unless given) and are deleted unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.memory import rss_mb  # noqa: E402

BASES = 400
ALPHABET = "2345678bcdefgmnpwxy"  # captcha_images_v2's characters
HEIGHT, WIDTH = 64, 160
BATCH = 32
WARM_UP = 50  # steps left out of images/s: graph tracing and the shuffle buffer filling


def render_bases(seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """(BASES, 64, 160) uint8 captchas and their labels (4–6 characters)."""
    from captcha.image import ImageCaptcha

    rng = np.random.default_rng(seed)
    maker = ImageCaptcha(width=WIDTH, height=HEIGHT)
    labels = ["".join(rng.choice(list(ALPHABET), rng.integers(4, 7))) for _ in range(BASES)]
    images = np.stack([np.asarray(maker.generate_image(label).convert("L")) for label in labels])
    return images, labels


def perturb(base: np.ndarray, seed: int) -> np.ndarray:
    """One example from a base captcha: shifted on white, contrast and brightness, speckles."""
    rng = np.random.default_rng(seed)
    dy, dx = int(rng.integers(-3, 4)), int(rng.integers(-8, 9))
    out = np.full_like(base, 255)
    out[max(dy, 0):HEIGHT + min(dy, 0), max(dx, 0):WIDTH + min(dx, 0)] = \
        base[max(-dy, 0):HEIGHT + min(-dy, 0), max(-dx, 0):WIDTH + min(-dx, 0)]
    out = np.clip(out * rng.uniform(0.7, 1.0) + rng.uniform(0, 60), 0, 255).astype(np.uint8)
    count = int(rng.integers(40, 121))
    out[rng.integers(0, HEIGHT, count), rng.integers(0, WIDTH, count)] = rng.integers(0, 120, count)
    return out


def example(bases: np.ndarray, labels: list[str], n: int) -> tuple[np.ndarray, str]:
    return perturb(bases[n % BASES], n), labels[n % BASES]


def build(out: str, count: int) -> tuple[str, float]:
    """Writes a dataset of `count` perturbed captchas; returns its folder and the seconds taken."""
    from etils import epath

    from crnn_keras.data.tfds_dataset import MIN_SHARDS, CaptchaConfig, CrnnCaptchas, prepare

    bases, labels = render_bases()

    class PerturbedCaptchas(CrnnCaptchas, skip_registration=True):
        pkg_dir_path = epath.Path(os.path.dirname(os.path.abspath(__file__)))  # TFDS looks for a README there

        def _generate_examples(self, samples, stats):
            for n in samples:
                image, label = example(bases, labels, n)
                stats.add(label)
                yield str(n), {"image": image[..., None], "label": label}

    started = time.time()
    builder = PerturbedCaptchas(splits={"train": range(count)}, config=CaptchaConfig(name="default"), data_dir=out)
    prepare(builder, max(MIN_SHARDS, count // 20_000))  # about 64 MB a shard at ~3 KB an image
    return builder.data_dir, time.time() - started


def train_steps(data, steps: int) -> dict:
    """Trains the default model `steps` batches from `data` (a TrainingData or StreamedData);
    RSS every 100 steps, and images/s after the warm-up."""
    import keras

    from crnn_keras.model.builder import CRNNBuilder
    from crnn_keras.model.config import ModelConfig
    from crnn_keras.model.heads import build_trainer

    vocabulary = data.vocabulary()
    builder = CRNNBuilder()
    config = builder.configure(ModelConfig(), data.max_label_length, len(data.train))
    trainer = build_trainer(builder.build(vocabulary.num_classes, config, data.train.mean_label_length),
                            data.max_label_length)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
    train, _ = data.datasets(vocabulary, data.max_label_length, BATCH, augment=True, seed=0)
    rss, times = {}, {}

    class Mark(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            step = batch + 1
            if step % 100 == 0 or step in (10, WARM_UP, steps):
                rss[step] = round(rss_mb(), 1)
            if step in (WARM_UP, steps):
                times[step] = time.time()

    trainer.fit(train.repeat().take(steps), epochs=1, verbose=0, callbacks=[Mark()])
    return {"steps": steps, "rss_mb_at_step": rss,
            "images_per_second": round((steps - WARM_UP) * BATCH / (times[steps] - times[WARM_UP]), 1)}


def measure(mode: str, path: str, steps: int) -> dict:
    """In its own process: `streamed` trains from the dataset at `path`; `memory` decodes the
    same dataset into one array first (as a folder would be) and trains from that."""
    samples, started, stop = [], time.time(), threading.Event()

    def sample():
        while not stop.is_set():
            samples.append((round(time.time() - started, 1), round(rss_mb(), 1)))
            time.sleep(1.0)

    threading.Thread(target=sample, daemon=True).start()
    at_start = rss_mb()
    from crnn_keras.data.streamed import TfdsSource

    data = TfdsSource(path, val_split=0.01).load(HEIGHT, WIDTH, 1)
    if mode == "memory":
        data = in_memory(data)
    loaded = rss_mb()
    result = train_steps(data, steps)
    stop.set()
    return dict(result, mode=mode, images=len(data.train), rss_mb_at_start=round(at_start, 1),
                rss_mb_after_loading=round(loaded, 1), peak_rss_mb=max(s[1] for s in samples), samples=samples)


def in_memory(streamed):
    """The streamed training split decoded into one array: the in-memory path's `TrainingData`."""
    import tensorflow_datasets as tfds

    from crnn_keras.data.labelled import LabelledImages
    from crnn_keras.data.source import TrainingData

    ds = streamed.builder.as_dataset(split=streamed.train_split, shuffle_files=False)
    images, labels = [], []
    for example in tfds.as_numpy(ds.batch(4096)):
        images.append(example["image"])
        labels.extend(label.decode("utf-8") for label in example["label"])
    images = np.concatenate(images)
    paths = [f"train#{n}" for n in range(len(labels))]
    val = streamed.val
    return TrainingData(LabelledImages(images, labels, paths),
                        LabelledImages(val.images_at(range(len(val))), val.labels, val.paths))


def run_measure(mode: str, path: str, steps: int) -> dict:
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--measure", mode, path, str(steps)],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT))
    if done.returncode != 0:
        raise RuntimeError(f"{mode} measurement failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary_md(result: dict) -> str:
    big, streamed, memory = result["large"], result["compare_streamed"], result["compare_memory"]
    marks = big["rss_mb_at_step"]
    first, last = marks["200"], big["rss_mb_at_last_step"]
    ratio = streamed["images_per_second"] / memory["images_per_second"]
    return (
        f"TFDS memory benchmark {result['date']}, {result['machine']['cores']} cores, {result['machine']['cpu']}\n\n"
        f"`{result['command']}`\n\n"
        f"- Built {result['count_large']:,} images (perturbed captchas, 64x160 grey PNG) in "
        f"{result['build_seconds_large'] / 60:.1f} min, {result['dataset_mb_large']:,.0f} MB on disk; "
        f"{result['count_compare']:,} in {result['build_seconds_compare'] / 60:.1f} min. 1% of each is held for "
        "validation (not used here).\n"
        f"- Streamed, {big['steps']:,} steps of {BATCH}: RSS {first:,.0f} MB at step 200, {last:,.0f} MB at step "
        f"{big['steps']:,} ({(last - first) / first:+.1%}), peak {big['peak_rss_mb']:,.0f} MB; "
        f"{big['images_per_second']:.0f} images/s.\n"
        f"- {memory['images']:,} images, {streamed['steps']} steps each: streamed {streamed['images_per_second']:.0f} "
        f"images/s (peak RSS {streamed['peak_rss_mb']:,.0f} MB), in memory {memory['images_per_second']:.0f} images/s "
        f"(peak RSS {memory['peak_rss_mb']:,.0f} MB): streamed at {ratio:.2f}x.\n"
    )


def folder_mb(path: str) -> float:
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files) / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--compare", type=int, default=100_000)
    parser.add_argument("--compare-steps", type=int, default=500)
    parser.add_argument("--work", help="where the datasets are written (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the datasets")
    parser.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    args = parser.parse_args()
    if args.measure:
        mode, path, steps = args.measure
        print(json.dumps(measure(mode, path, int(steps))))
        return 0

    from bench.machine import header, write_results

    work = args.work or tempfile.mkdtemp(prefix="crnn_memory_tfds_")
    try:
        result = run(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    result.update(**header())
    write_results(args.out, "memory-tfds-", result, summary_md(result))
    return 0


def run(args, work: str) -> dict:
    result = {}
    for name, count in (("compare", args.compare), ("large", args.count)):
        path, seconds = build(os.path.join(work, name), count)
        result[f"build_seconds_{name}"] = round(seconds, 1)
        result[f"count_{name}"] = count
        result[f"dataset_mb_{name}"] = round(folder_mb(path), 1)
        print(f"built {count:,} images in {seconds:.0f} s: {path}", file=sys.stderr, flush=True)
        result[f"path_{name}"] = path
    result["compare_streamed"] = run_measure("streamed", result["path_compare"], args.compare_steps)
    result["compare_memory"] = run_measure("memory", result["path_compare"], args.compare_steps)
    large = run_measure("streamed", result["path_large"], args.steps)
    large["rss_mb_at_last_step"] = large["rss_mb_at_step"][str(args.steps)]
    result["large"] = large
    return result


if __name__ == "__main__":
    sys.exit(main())
