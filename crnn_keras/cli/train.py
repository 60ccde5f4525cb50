"""`python -m crnn_keras train`: train on a folder of labelled images (or a synthetic set)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from crnn_keras.cli.common import UserError
from crnn_keras.model.config import ModelConfig
from crnn_keras.run_folder import RunFolder
from crnn_keras.train.config import TrainConfig

DEFAULT_SYNTHETIC_COUNT = 6000
DEFAULT_SYNTHETIC_EPOCHS = 12


def add_arguments(p: argparse.ArgumentParser) -> None:
    d, m = TrainConfig(data=""), ModelConfig()
    p.add_argument("--data", help="folder of images named by their labels (default: a synthetic captcha set)")
    p.add_argument("--val-data", help="validation folder (default: split off --val-split of --data)")
    p.add_argument("--val-split", type=float, default=d.val_split, help="fraction held out for validation")
    p.add_argument("--out", help="run folder (default: runs/<data name>, never overwriting a run)")
    p.add_argument("--epochs", type=int, help=f"most epochs (default {d.epochs}; synthetic {DEFAULT_SYNTHETIC_EPOCHS})")
    p.add_argument("--batch-size", type=int, help="default: 16 under 2,000 training images, else 32")
    p.add_argument("--learning-rate", type=float, default=d.learning_rate, help="peak of the cosine schedule")
    p.add_argument("--patience", type=int, default=d.patience, help="epochs without a better val accuracy")
    p.add_argument("--height", type=int, default=m.height, help="input height: 8, 16, 32, 64, …")
    p.add_argument("--width", type=int, default=m.width,
                   help="input width (time steps = width / 8, more when the longest label needs them)")
    p.add_argument("--rgb", action="store_true", help="read colour (default: grayscale)")
    p.add_argument("--label-regex", help="label = first capture group of this regex on the file name (no extension)")
    p.add_argument("--ignore-case", action="store_true", help="fold labels to lower case")
    p.add_argument("--no-augment", action="store_true", help="train without random geometry and noise")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--deterministic", action="store_true", help="deterministic TF ops (slower)")
    p.add_argument("--synthetic-count", type=int, default=DEFAULT_SYNTHETIC_COUNT,
                   help="images in the synthetic set used when --data is not given")
    p.add_argument("--resume", metavar="OUT", help="continue the interrupted run in folder OUT")


def free_run_folder(base: str) -> str:
    if not os.path.exists(base) or not os.listdir(base):
        return base
    n = 2
    while os.path.exists(f"{base}-{n}") and os.listdir(f"{base}-{n}"):
        n += 1
    return f"{base}-{n}"


def resume_configs(args) -> tuple[TrainConfig, ModelConfig]:
    folder = RunFolder(args.resume)
    if not folder.can_resume():
        raise UserError(f"{args.resume}: no checkpoint to resume (the run finished, or never saved an epoch)")
    info = folder.read_info()
    train = dict(info.train.to_dict(), out=args.resume)
    if args.epochs is not None:
        train["epochs"] = args.epochs
    return TrainConfig(**train), info.model


def new_configs(args) -> tuple[TrainConfig, ModelConfig]:
    label_regex, epochs, data = args.label_regex, args.epochs, args.data
    if not data:
        from crnn_keras.data import synthetic

        logging.info("no --data: generating %d synthetic captchas (cached)", args.synthetic_count)
        data = synthetic.default_dataset(args.synthetic_count)
        label_regex = synthetic.LABEL_REGEX
        epochs = DEFAULT_SYNTHETIC_EPOCHS if epochs is None else epochs
    name = os.path.basename(os.path.normpath(data)) or "run"
    cfg = TrainConfig(
        data=data, out=args.out or free_run_folder(os.path.join("runs", name)), val_data=args.val_data,
        val_split=args.val_split, epochs=TrainConfig.epochs if epochs is None else epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate, patience=args.patience,
        augment=not args.no_augment, seed=args.seed, label_regex=label_regex, ignore_case=args.ignore_case,
        deterministic=args.deterministic,
    )
    return cfg, ModelConfig(height=args.height, width=args.width, channels=3 if args.rgb else 1)


def run(args) -> int:
    # Imported here: `predict` with a .tflite model must work where TensorFlow is not installed.
    from crnn_keras.train.trainer import TrainingStopped, train

    cfg, model = resume_configs(args) if args.resume else new_configs(args)
    try:
        result = train(cfg, model, resume=bool(args.resume))
    except TrainingStopped as stop:
        print(stop, file=sys.stderr)
        return stop.exit_code
    print(f"model: {result['model']}")
    print(
        f"held-out accuracy: {result['val_sequence_accuracy']:.4f} "
        f"({round(result['val_sequence_accuracy'] * result['val_count'])}/{result['val_count']}), "
        f"character error rate {result['val_character_error_rate']:.4f}"
    )
    print(f"epochs: {result['epochs_run']} (best {result['best_epoch']}), {result['seconds']:.0f} s")
    return 0
