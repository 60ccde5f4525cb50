"""Recipe sweep: train model variants with the default recipe, report test accuracy per seed.

    python bench/sweep.py --name A --model '{"block_widths": [16, 32, 64, 96], "width": 128}' --seeds 0 1 2
    python bench/sweep.py --name A --model '{...}' --until 0.95 --max-epochs 20   # how soon a run learns

`--model` and `--train` are JSON objects of ModelConfig / TrainConfig fields that differ from the
defaults. Each run trains on DATA/train (10% held out for validation) and, unless --until is given,
is scored on DATA/test. One line per run goes to stdout and to bench/results/sweep.jsonl. The
rows in bench/NOTES.md were made with this script (runs of CPU training without --deterministic
are not repeatable: the same seed can differ from run to run).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.run import first_reaching  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--name", required=True, help="what to call this variant in the results")
    parser.add_argument("--model", default="{}", help="JSON: ModelConfig fields to change")
    parser.add_argument("--train", default="{}", help="JSON: TrainConfig fields to change")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--until", type=float, help="stop a run once val accuracy reaches this; no test scoring")
    parser.add_argument("--max-epochs", type=int, help="with --until: give up after this many epochs")
    parser.add_argument("--data", default=os.path.join(root, "..", "shared", "data", "captcha_images_v2"))
    parser.add_argument("--style", help="a dev-suite style (bench/suite.py; generated ones are built in its cache) "
                        "instead of --data; validation only")
    parser.add_argument("--out", default=os.path.join(root, "bench", "results", "sweep.jsonl"))
    args = parser.parse_args()

    import keras

    from crnn_keras.data.files import list_samples
    from crnn_keras.metrics import score
    from crnn_keras.model.config import ModelConfig
    from crnn_keras.runtime.reader import Reader
    from crnn_keras.train.config import TrainConfig
    from crnn_keras.train.trainer import train

    model_kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(args.model).items()}
    train_kwargs = json.loads(args.train)

    class StopAt(keras.callbacks.Callback):
        """Ends a learning run at --until validation accuracy or after --max-epochs."""

        def on_epoch_end(self, epoch, logs=None):
            if logs["val_accuracy"] >= args.until or (args.max_epochs and epoch + 1 >= args.max_epochs):
                self.model.stop_training = True

    if args.style:
        from bench.styles import build_style
        from bench.suite import CACHE, STYLES

        folder, regex, ignore_case = STYLES[args.style]
        args.data = (build_style(args.style, CACHE) if folder is None
                     else os.path.join(root, "..", "shared", "data", folder))
        train_kwargs = {"label_regex": regex, "ignore_case": ignore_case, **train_kwargs}
    samples = [] if args.style else list_samples(os.path.join(args.data, "test"))[0]
    work = tempfile.mkdtemp(prefix="crnn_sweep_")
    for seed in args.seeds:
        out = os.path.join(work, f"{args.name}-{seed}")
        cfg = TrainConfig(data=os.path.join(args.data, "train"), out=out, seed=seed, **train_kwargs)
        stop = [StopAt()] if args.until is not None else []
        result = train(cfg, ModelConfig(**model_kwargs), extra_callbacks=stop)
        history_csv = os.path.join(out, "history.csv")
        with open(history_csv, newline="", encoding="utf-8") as f:
            history = list(csv.DictReader(f))
        reached, _ = first_reaching(history_csv, 0.95)
        row = {
            "date": datetime.date.today().isoformat(), "name": args.name, "model": json.loads(args.model),
            "train": train_kwargs, "seed": seed, "epochs": result["epochs_run"], "best_epoch": result["best_epoch"],
            "train_seconds": result["seconds"], "epochs_to_val_0.95": reached,
            "loss_per_epoch": [round(float(r["loss"]), 2) for r in history],
            "val_accuracy_per_epoch": [round(float(r["val_accuracy"]), 3) for r in history],
        }
        row["style"] = args.style
        if args.until is None and not args.style:
            texts = [r.text for r in Reader(result["model"]).read([s.path for s in samples])]
            test = score(texts, [s.label for s in samples])
            row.update(test_correct=test["correct"], test_count=test["count"],
                       misses=[[s.label, t] for s, t in zip(samples, texts) if s.label != t])
        print(json.dumps(row), flush=True)
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
