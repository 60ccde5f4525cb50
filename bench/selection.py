"""Which epoch to keep: rules for the best epoch and early stopping, scored on a check set.

    python bench/selection.py --style captcha_mixedcase --seeds 0 1   # train: one row per run
    python bench/selection.py --report                                # score the rules on the rows
    python bench/selection.py --style receita_br --name wide --model '{"block_widths": [32, 64, 96, 128]}'

Each run trains the default recipe through the whole schedule (no early stop) and, after every
epoch, reads a *check set* that neither training nor validation sees: for a generated style
the train split of its seed-1 build (1,200 images), for a real style a fifth of its train split
(taken out of training; every fifth file in name order). The rows (`--out`, JSON lines) hold
each epoch's validation accuracy, loss and CER and the check set's accuracy, so any rule that
looks only at validation (which epoch to keep, when to stop) can be replayed on them and
judged by the check set's accuracy at the epoch it keeps. Test splits are not read. With
`--model` / `--train` (JSON: ModelConfig / TrainConfig fields to change) and `--name`, a row is a
variant's, and `--report` compares each variant with the default on the same styles and seeds.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "bench", "results", "selection.jsonl")
CHECK_EVERY = 5  # real styles: every fifth training file is kept for the check set
DEFAULT_NAME = "default"


def split_folder(train_dir: str, work: str) -> tuple[str, str]:
    """Copies a real style's train split into (train, check) folders, a fifth to check."""
    train, check = os.path.join(work, "train"), os.path.join(work, "check")
    os.makedirs(train), os.makedirs(check)
    for n, name in enumerate(sorted(f for f in os.listdir(train_dir) if not f.startswith("."))):
        shutil.copy(os.path.join(train_dir, name), check if n % CHECK_EVERY == CHECK_EVERY - 1 else train)
    return train, check


def style_folders(style: str, work: str) -> tuple[str, str, str | None, bool]:
    """(train folder, check folder, label regex, ignore case) for a dev-suite style."""
    from bench.styles import STYLES as GENERATED
    from bench.styles import build_style
    from bench.suite import CACHE, STYLES

    folder, regex, ignore_case = STYLES[style]
    if style in GENERATED:
        return (os.path.join(build_style(style, CACHE), "train"),
                os.path.join(build_style(style, CACHE, seed=1), "train"), regex, ignore_case)
    train, check = split_folder(os.path.join(ROOT, "..", "shared", "data", folder, "train"), work)
    return train, check, regex, ignore_case


def check_callback(check_dir: str, regex: str | None, ignore_case: bool, run_dir: str):
    import keras

    from crnn_keras.data.files import list_samples
    from crnn_keras.data.images import load_images
    from crnn_keras.metrics import score
    from crnn_keras.model.heads import build_reader, find_backbone
    from crnn_keras.run_folder import RunFolder
    from crnn_keras.train.callbacks import predict_texts

    class CheckSet(keras.callbacks.Callback):
        """Adds check_accuracy and check_cer: the greedy reader on the check set, each epoch."""

        def on_train_begin(self, logs=None):
            backbone = find_backbone(self.model)
            self.reader = build_reader(backbone, RunFolder(run_dir).read_info().vocabulary)
            samples, _ = list_samples(check_dir, regex, ignore_case)
            self.images, kept, _ = load_images([s.path for s in samples], *backbone.input_shape[1:])
            self.labels = [samples[i].label for i in kept]

        def on_epoch_end(self, epoch, logs=None):
            texts, _ = predict_texts(self.reader, self.images)
            result = score(texts, self.labels)
            logs["check_accuracy"] = result["sequence_accuracy"]
            logs["check_cer"] = result["character_error_rate"]

    return CheckSet()


def train_runs(args) -> None:
    from crnn_keras.model.config import ModelConfig
    from crnn_keras.run_folder import RunFolder
    from crnn_keras.train.config import TrainConfig
    from crnn_keras.train.trainer import train

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)  # before training, not after
    for seed in args.seeds:
        work = tempfile.mkdtemp(prefix="crnn_selection_")
        train_dir, check_dir, regex, ignore_case = style_folders(args.style, work)
        out = os.path.join(work, "run")
        cfg = TrainConfig(data=train_dir, out=out, seed=seed, epochs=args.epochs, patience=args.epochs,
                          label_regex=regex, ignore_case=ignore_case, **json.loads(args.train))
        model = ModelConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(args.model).items()})
        log = epoch_log()
        result = train(cfg, model, extra_callbacks=[check_callback(check_dir, regex, ignore_case, out), log])
        row = {"date": datetime.date.today().isoformat(), "style": args.style, "seed": seed,
               "train_seconds": result["seconds"], "val_images": RunFolder(out).read_info().val_images,
               "epochs": log.rows}
        if args.name != DEFAULT_NAME:
            row.update(variant=args.name, model=json.loads(args.model), train=json.loads(args.train))
        print(json.dumps({k: v for k, v in row.items() if k != "epochs"}), flush=True)
        with open(args.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        shutil.rmtree(work, ignore_errors=True)


LOGGED = ("loss", "val_loss", "val_accuracy", "val_cer", "check_accuracy", "check_cer")


def epoch_log():
    """A callback, placed last, that keeps each epoch's LOGGED values in `rows`."""
    import keras

    class EpochLog(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.rows = []

        def on_epoch_end(self, epoch, logs=None):
            self.rows.append({k: round(float(logs[k]), 4) for k in LOGGED})

    return EpochLog()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style", help="a dev-suite style (bench/suite.py)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, default=60, help="the schedule's length (the default recipe's)")
    parser.add_argument("--out", default=RESULTS)
    parser.add_argument("--name", default=DEFAULT_NAME, help="what to call a variant's rows")
    parser.add_argument("--model", default="{}", help="JSON: ModelConfig fields to change")
    parser.add_argument("--train", default="{}", help="JSON: TrainConfig fields to change")
    parser.add_argument("--report", action="store_true", help="score the rules on --out's rows")
    args = parser.parse_args()
    if args.report:
        from bench.selection_rules import report

        print(report(args.out))
        return 0
    if not args.style:
        parser.error("give --style (or --report)")
    train_runs(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
