"""Accuracy and speed: our default recipe beside the Keras captcha example, in one run.

    python bench/run.py                       # ../shared/data/captcha_images_v2, seeds 0 1 2
    python bench/run.py --quick --data DIR    # a smoke run: small subsets, 2 epochs, no targets

DIR holds train/ and test/. Ours is trained with plain `train.py` defaults; the baseline
(bench/baseline.py) with the example's recipe: 50x200, Adam 1e-3, batch 16, up to 100 epochs,
early stopping on val_loss with patience 10, no augmentation. Both are evaluated by the same
evaluator on test/. Writes bench/results/<date>-<host>.json and .md. Wall times are comparable only
within one run (same machine, same load).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from bench.machine import header, write_results  # noqa: E402
from bench.tflite import median_ms  # noqa: E402


def first_reaching(history_csv: str, target: float) -> tuple[int | None, float | None]:
    """(epoch, elapsed seconds) when val_accuracy first reached `target`, or (None, None)."""
    with open(history_csv, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if float(row["val_accuracy"]) >= target:
                return int(row["epoch"]) + 1, float(row["elapsed_s"])
    return None, None


def subset_folder(src: str, dst: str, count: int) -> str:
    os.makedirs(dst, exist_ok=True)
    for name in sorted(os.listdir(src))[:count]:
        shutil.copy(os.path.join(src, name), dst)
    return dst


def train_and_measure(name, cfg, mcfg, test_dir, quick: bool, recipe: dict | None = None) -> dict:
    from crnn_keras.data.files import list_samples
    from crnn_keras.export.tflite import export
    from crnn_keras.metrics import score
    from crnn_keras.model.heads import find_backbone
    from crnn_keras.runtime.lite import LiteModel
    from crnn_keras.runtime.reader import Reader
    from crnn_keras.train.trainer import train

    architecture = "keras_example" if recipe else "crnn"
    print(f"== {name}: training {architecture}, seed {cfg.seed}", file=sys.stderr, flush=True)
    result = train(cfg, mcfg, **(recipe or {}))
    reader = Reader(result["model"])
    samples, _ = list_samples(test_dir)
    images = np.stack([reader.prepare(s.path) for s in samples])
    texts = [r.text for r in reader.read_arrays(images)]
    test = score(texts, [s.label for s in samples])
    epoch95, seconds95 = first_reaching(os.path.join(cfg.out, "history.csv"), 0.95)

    row = {
        "name": name,
        "architecture": architecture,
        "seed": cfg.seed,
        "test_sequence_accuracy": test["sequence_accuracy"],
        "test_correct": test["correct"],
        "test_count": test["count"],
        "test_character_error_rate": test["character_error_rate"],
        "test_misses": [[s.label, t] for s, t in zip(samples, texts) if s.label != t],
        "train_seconds": result["seconds"],
        "epochs": result["epochs_run"],
        "best_epoch": result["best_epoch"],
        "seconds_per_epoch": round(result["seconds"] / max(1, result["epochs_run"]), 2),
        "epochs_to_val_0.95": epoch95,
        "seconds_to_val_0.95": seconds95,
        "model_path": result["model"],
        "parameters": int(find_backbone(reader.keras_model).count_params()),
        "keras_file_bytes": os.path.getsize(result["model"]),
    }
    for mode in ("float32", "int8"):
        path = os.path.join(cfg.out, f"{mode}.tflite")
        try:
            info = export(result["model"], path, mode)
            lite = LiteModel(path, num_threads=1)
            runs = 30 if quick else 300
            row[f"tflite_{mode}_bytes"] = info["bytes"]
            row[f"tflite_{mode}_latency_ms"] = round(median_ms(lambda lite=lite: lite.run(images[0]), 10, runs), 3)
        except Exception as error:  # a model that will not convert is a result too
            row[f"tflite_{mode}_error"] = str(error).splitlines()[0][:200]
    print(f"== {name}: {json.dumps(row)}", file=sys.stderr, flush=True)
    return row


RATIO_KEYS = [
    ("test_sequence_accuracy", "test sequence accuracy"),
    ("test_character_error_rate", "test character error rate"),
    ("train_seconds", "training wall time (s)"),
    ("epochs", "epochs run"),
    ("seconds_to_val_0.95", "wall time to val accuracy 0.95 (s)"),
    ("epochs_to_val_0.95", "epochs to val accuracy 0.95"),
    ("seconds_per_epoch", "seconds per epoch"),
    ("predict_images_per_second_batch64", "Keras predict throughput (images/s, batch 64; bench/throughput.py)"),
    ("tflite_float32_latency_ms", "TFLite float32 latency (ms, batch 1, 1 thread)"),
    ("tflite_int8_latency_ms", "TFLite int8 latency (ms, batch 1, 1 thread)"),
    ("parameters", "parameters"),
    ("keras_file_bytes", "model.keras bytes"),
    ("tflite_float32_bytes", "TFLite float32 bytes"),
    ("tflite_int8_bytes", "TFLite int8 bytes"),
]


def markdown(result: dict) -> str:
    ours, base = result["ours"], result["baseline"]
    first = ours[0]
    lines = [
        f"# Benchmark {result['date']}: {result['machine']['cores']} cores, {result['machine']['cpu']}",
        "",
        f"`{result['command']}`{' (QUICK: smoke run, not a measurement)' if result['quick'] else ''}",
        "",
        "Wall times are comparable only within this run.",
        "",
        f"| measure | ours (seed {first['seed']}) | baseline (Keras example) | ours / baseline |",
        "|---|---|---|---|",
    ]
    for key, label in RATIO_KEYS:
        a, b = first.get(key), base.get(key)
        ratio = f"{a / b:.3f}" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else "—"
        show = [f"{v:,.4g}" if isinstance(v, (int, float)) else ("not reached" if v is None else str(v)) for v in (a, b)]
        lines.append(f"| {label} | {show[0]} | {show[1]} | {ratio} |")
    lines += ["", "Ours, every seed (misses as truth → read):", "",
              "| seed | test correct | accuracy | CER | train s | s to 0.95 | misses |",
              "|---|---|---|---|---|---|---|"]
    for r in ours + [dict(base, seed="baseline")]:
        misses = ", ".join(f"`{a}` → `{b}`" for a, b in r.get("test_misses", [])[:10])
        lines.append(f"| {r['seed']} | {r['test_correct']}/{r['test_count']} | {r['test_sequence_accuracy']:.4f} | "
                     f"{r['test_character_error_rate']:.4f} | {r['train_seconds']:.0f} | "
                     f"{'not reached' if r['seconds_to_val_0.95'] is None else r['seconds_to_val_0.95']} | {misses} |")
    lines.append(f"| mean (ours) | | {result['ours_mean_accuracy']:.4f} | | | | |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--data", default=os.path.join(root, "..", "shared", "data", "captcha_images_v2"),
                        help="folder with train/ and test/")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="smoke run: 64 train / 16 test images, 2 epochs")
    parser.add_argument("--out", default=os.path.join(root, "bench", "results"))
    parser.add_argument("--keep", metavar="DIR", help="copy the first seed's run folder here (the README's pictures)")
    args = parser.parse_args()

    from bench.baseline import HEIGHT, RECIPE, WIDTH
    from crnn_keras.model.config import ModelConfig
    from crnn_keras.train.config import TrainConfig

    work = tempfile.mkdtemp(prefix="crnn_bench_")
    train_dir, test_dir = os.path.join(args.data, "train"), os.path.join(args.data, "test")
    if args.quick:
        train_dir = subset_folder(train_dir, os.path.join(work, "train"), 64)
        test_dir = subset_folder(test_dir, os.path.join(work, "test"), 16)
        args.seeds = args.seeds[:1]
    epochs = 2 if args.quick else None
    ours = []
    for seed in args.seeds:
        cfg = TrainConfig(data=train_dir, out=os.path.join(work, f"ours-{seed}"), seed=seed)
        if epochs:
            cfg = TrainConfig(**{**cfg.__dict__, "epochs": epochs})
        ours.append(train_and_measure(f"ours seed {seed}", cfg, ModelConfig(), test_dir, args.quick))
    base_cfg = TrainConfig(data=train_dir, out=os.path.join(work, "baseline"), seed=args.seeds[0],
                           epochs=epochs or 100, batch_size=16, learning_rate=1e-3, patience=10, augment=False)
    baseline = train_and_measure("baseline", base_cfg, ModelConfig(height=HEIGHT, width=WIDTH), test_dir, args.quick,
                                 RECIPE)
    # Throughput last, in one fresh process, ours and the baseline taking turns: measured inside
    # this process, the baseline ran after four trainings and ours after one.
    paths = [ours[0]["model_path"], baseline["model_path"]]
    done = subprocess.run([sys.executable, os.path.join(root, "bench", "throughput.py"), "--data", test_dir,
                           *(["--rounds", "2", "--images", "128"] if args.quick else []), *paths],
                          capture_output=True, text=True, check=False, env=dict(os.environ, PYTHONPATH=root))
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return 1
    speeds = json.loads(done.stdout.strip().splitlines()[-1])
    for row, path in zip((ours[0], baseline), paths):
        row["predict_images_per_second_batch64"] = speeds[path]
    for row in (*ours, baseline):
        row.pop("model_path")
    result = {
        **header(),
        "quick": args.quick,
        "data": os.path.abspath(args.data),
        "ours": ours,
        "ours_mean_accuracy": float(np.mean([r["test_sequence_accuracy"] for r in ours])),
        "baseline": baseline,
    }
    write_results(args.out, "quick-" if args.quick else "", result, markdown(result))
    if args.keep:
        shutil.copytree(os.path.join(work, f"ours-{args.seeds[0]}"), args.keep, dirs_exist_ok=True)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
