"""`python -m crnn_keras train`: train on a folder of labelled images (or a synthetic set)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from crnn_keras.cli.common import UserError, add_colour_arguments, colour_channels
from crnn_keras.data import synthetic
from crnn_keras.data.files import compile_label_regex
from crnn_keras.model.config import COMPACT, ModelConfig
from crnn_keras.run_folder import RunFolder
from crnn_keras.train.config import TrainConfig

DEFAULT_SYNTHETIC_COUNT = 6000
# Measured on 2 cores (bench/NOTES.md, session 7): fresh, 9 epochs read 0.972 in 5 min 10 s;
# the fixed set, 12 epochs, 0.965 in 5 min 18 s.
DEFAULT_SYNTHETIC_EPOCHS = {"fresh": 9, "fixed": 12}


def add_arguments(p: argparse.ArgumentParser) -> None:
    d, m = TrainConfig(data=""), ModelConfig()
    p.add_argument("--data", help="folder of images named by their labels (default: a synthetic captcha set)")
    p.add_argument("--labels", metavar="FILE", help="CSV or TSV of path,label rows (paths relative to FILE) "
                   "to train on instead of --data")
    p.add_argument("--tfds", metavar="DATA_DIR", help="stream a TFDS dataset made by `dataset build` instead of "
                   "--data (its validation split, else a seeded --val-split slice of train)")
    p.add_argument("--val-data", help="validation folder (default: split off --val-split of the training data)")
    p.add_argument("--val-split", type=float, default=d.val_split, help="fraction held out for validation")
    p.add_argument("--out", help="run folder (default: runs/<data name>, never overwriting a run)")
    p.add_argument("--epochs", type=int, help=f"most epochs (default {d.epochs}; synthetic captchas: {DEFAULT_SYNTHETIC_EPOCHS['fresh']} "
                   f"fresh, {DEFAULT_SYNTHETIC_EPOCHS['fixed']} fixed)")
    p.add_argument("--batch-size", type=int, help="default: 16 under 2,000 training images, else 32")
    p.add_argument("--learning-rate", type=float, default=d.learning_rate, help="peak of the cosine schedule")
    p.add_argument("--patience", type=int, default=d.patience, help="epochs without a better val accuracy")
    p.add_argument("--height", type=int, default=m.height, help="input height: 8, 16, 32, 64, …")
    p.add_argument("--width", type=int, default=m.width,
                   help="input width (time steps: 6 a character of the longest label, at least width / 8)")
    add_colour_arguments(p)
    p.add_argument("--compact", action="store_true",
                   help="the small model (blocks 16-32-48-64, GRU 96): about 1.7x faster predict and two thirds "
                        "of the int8 TFLite size, reading 0.02-0.03 less on hard captchas (default: chosen from the data size)")
    p.add_argument("--label-regex", help="label = first capture group of this regex on the file name (no extension)")
    p.add_argument("--ignore-case", action="store_true", help="fold labels to lower case")
    p.add_argument("--no-augment", action="store_true", help="train without random geometry and noise")
    p.add_argument("--weight-average", type=float, metavar="M", default=d.weight_average or 0.0,
                   help="validate and keep the moving average of the weights with momentum M "
                   f"(default {d.weight_average or 0.0}; 0: the last step's weights)")
    p.add_argument("--weight-decay", type=float, metavar="W", default=d.weight_decay,
                   help=f"AdamW's decoupled weight decay, times the learning rate (default {d.weight_decay}; 0: Adam)")
    p.add_argument("--seed", type=int, default=d.seed,
                   help="seeds the split, the shuffling, the augmentation and the initial weights")
    p.add_argument("--deterministic", action="store_true", help="deterministic TF ops (slower)")
    p.add_argument("--synthetic-count", type=int, default=DEFAULT_SYNTHETIC_COUNT,
                   help="with no --data: synthetic captchas drawn each epoch (fresh) or in the cached set (fixed)")
    p.add_argument("--synthetic", choices=("fresh", "fixed"), default="fresh", help="with no --data: draw new "
                   "captchas every epoch at the model's input size (fresh), or train on one cached set (fixed)")
    p.add_argument("--synthetic-alphabet", default=d.fresh_alphabet, metavar="CHARS",
                   help="characters of the synthetic captchas (default a-z0-9)")
    p.add_argument("--synthetic-lengths", default="-".join(map(str, d.fresh_lengths)), metavar="MIN-MAX",
                   help="label lengths of the synthetic captchas (default 4-6)")
    p.add_argument("--distribute", choices=("mirrored", "multi-worker"),
                   help="mirrored: every local GPU (or --cpu-devices); multi-worker: the machines of TF_CONFIG. "
                   "--batch-size is then the global batch, split evenly over the replicas")
    p.add_argument("--cpu-devices", type=int, metavar="N", help="split the CPU into N logical devices "
                   "(to try --distribute without GPUs)")
    p.add_argument("--mixed-precision", action="store_true", help="compute in float16 (for GPUs); the logits, "
                   "the CTC loss and the saved model stay float32")
    p.add_argument("--init-from", metavar="MODEL", help="start from this .keras reader: its shape and weights; "
                   "new characters grow the vocabulary, known ones keep their weights")
    p.add_argument("--resume", metavar="OUT", help="continue the interrupted run in folder OUT (only --epochs may change)")
    p.add_argument("--overwrite", action="store_true", help="replace the run that --out holds")


def given_options(args) -> list[str]:
    """The options set to other than their defaults, as --flags."""
    defaults = argparse.ArgumentParser()
    add_arguments(defaults)
    default = vars(defaults.parse_args([]))
    return [f"--{k.replace('_', '-')}" for k, v in vars(args).items() if k in default and v != default[k]]


def free_run_folder(base: str) -> str:
    if not os.path.exists(base) or not os.listdir(base):
        return base
    n = 2
    while os.path.exists(f"{base}-{n}") and os.listdir(f"{base}-{n}"):
        n += 1
    return f"{base}-{n}"


def resume_configs(args) -> tuple[TrainConfig, ModelConfig]:
    ignored = [flag for flag in given_options(args) if flag not in ("--resume", "--epochs")]
    if ignored:
        raise UserError(f"--resume continues a run as it was started: {', '.join(ignored)} cannot change "
                        "(only --epochs can); start a new run for other options")
    folder = RunFolder(args.resume)
    if not folder.can_resume():
        raise UserError(f"{args.resume}: no checkpoint to resume (the run finished, or never saved an epoch)")
    info = folder.read_info()
    train = dict(info.train.to_dict(), out=args.resume)
    if args.epochs is not None:
        train["epochs"] = args.epochs
    return TrainConfig(**train), info.model


def new_configs(args) -> tuple[TrainConfig, ModelConfig]:
    """The run's options, checked before any data is generated or read."""
    shaped = [flag for flag in given_options(args) if flag in ("--height", "--width", "--rgb", "--grey", "--compact")]
    if args.init_from and shaped:
        raise UserError(f"--init-from takes the model's shape from {args.init_from}: drop {', '.join(shaped)}")
    model = ModelConfig(height=args.height, width=args.width, channels=colour_channels(args),
                        **(COMPACT if args.compact else {}))
    model.check_input()
    compile_label_regex(args.label_regex)
    _check_sources(args)
    synthetic_epochs = DEFAULT_SYNTHETIC_EPOCHS[args.synthetic] if not _data_flags(args) else TrainConfig.epochs
    options = dict(
        val_data=args.val_data, val_split=args.val_split, batch_size=args.batch_size,
        epochs=synthetic_epochs if args.epochs is None else args.epochs,
        learning_rate=args.learning_rate, patience=args.patience, augment=not args.no_augment, seed=args.seed,
        label_regex=args.label_regex, ignore_case=args.ignore_case, deterministic=args.deterministic,
        init_from=args.init_from, labels=args.labels, tfds=args.tfds, distribute=args.distribute,
        cpu_devices=args.cpu_devices, mixed_precision=args.mixed_precision,
        fresh_per_epoch=args.synthetic_count if _fresh(args) else None,
        weight_average=args.weight_average or None, weight_decay=args.weight_decay, **_synthetic_style(args))
    TrainConfig(data="", **options)  # refuses bad values now, not after generating thousands of images
    if args.synthetic_count < 2:
        raise UserError(f"--synthetic-count: expected an integer ≥ 2, received {args.synthetic_count}")
    data, name = _data_and_name(args)
    out = args.out or free_run_folder(os.path.join("runs", name))
    return TrainConfig(data=data, out=out, **options), model


def _data_flags(args) -> list[str]:
    return [flag for flag, value in (("--data", args.data), ("--labels", args.labels), ("--tfds", args.tfds)) if value]


def _check_sources(args) -> None:
    """Refuses options that name two sources of data, or that the chosen source cannot use."""
    sources = _data_flags(args)
    if len(sources) > 1:
        raise UserError(f"give one of --data (a folder), --labels (a labels file) or --tfds (a dataset), not "
                        f"{' and '.join(sources)}")
    if args.tfds and (args.val_data or args.label_regex or args.ignore_case):
        raise UserError("--tfds: the dataset holds its labels and splits; --val-data, --label-regex and "
                        "--ignore-case belong to `dataset build`")
    synthetic = [f for f in given_options(args) if f in ("--synthetic", "--synthetic-alphabet", "--synthetic-lengths")]
    if sources and synthetic:
        raise UserError(f"{synthetic[0]} describes the captchas trained on when no data is given: drop it or "
                        f"{sources[0]}")
    if _fresh(args) and (args.val_data or args.label_regex or args.ignore_case):
        given = [f for f, v in (("--val-data", args.val_data), ("--label-regex", args.label_regex),
                                ("--ignore-case", args.ignore_case)) if v]
        raise UserError(f"fresh synthetic captchas need no {' or '.join(given)} (for the cached set: --synthetic fixed)")
    if args.distribute == "multi-worker" and not args.out:
        raise UserError("--distribute multi-worker needs --out: every worker must name the same run folder")


def _fresh(args) -> bool:
    """Whether the run trains on captchas drawn every epoch (no data given, --synthetic fresh)."""
    return not _data_flags(args) and args.synthetic == "fresh"


def _lengths(text: str) -> tuple[int, ...]:
    """"4-6" → (4, 6); "4" → (4, 4)."""
    try:
        parts = tuple(int(part) for part in text.split("-"))
    except ValueError:
        parts = ()
    if len(parts) not in (1, 2):
        raise UserError(f"--synthetic-lengths: expected MIN-MAX such as 4-6, received {text!r}")
    return parts * 2 if len(parts) == 1 else parts


def _synthetic_style(args) -> dict:
    """The drawn captchas' characters and label lengths, as TrainConfig's fresh_* fields."""
    return dict(fresh_alphabet=args.synthetic_alphabet, fresh_lengths=_lengths(args.synthetic_lengths))


def _data_and_name(args) -> tuple[str, str]:
    """The folder the run reads ("" when it reads no folder) and the name its run folder takes."""
    if _fresh(args):
        return "", f"synthetic-fresh-{args.synthetic_count}"
    if args.labels or args.tfds:
        source = os.path.abspath(args.labels or args.tfds).rstrip(os.sep)
        return "", os.path.splitext(os.path.basename(source))[0] or "run"
    if not args.data:
        style = _synthetic_style(args)
        min_length, max_length = style["fresh_lengths"]
        data = synthetic.default_dataset(args.synthetic_count, alphabet=style["fresh_alphabet"],
                                         min_length=min_length, max_length=max_length)
    else:
        data = args.data
    # The name comes from the absolute path: `--data ..` or `--data .` name the folder itself.
    return data, os.path.basename(os.path.abspath(data).rstrip(os.sep)) or "run"


def run(args) -> int:
    # Imported here: `predict` with a .tflite model must work where TensorFlow is not installed.
    from crnn_keras.train.trainer import TrainingStopped, train

    cfg, model = resume_configs(args) if args.resume else new_configs(args)
    try:
        result = train(cfg, model, resume=bool(args.resume), overwrite=args.overwrite)
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
    print_next_commands(result["model"], cfg)
    return 0


def print_next_commands(model: str, cfg: TrainConfig) -> None:
    """What a user does next, with this run's real paths (stdout: it is part of the result)."""
    quote = shlex.quote
    options = "".join(f" {flag}" + (f" {quote(str(value))}" if value is not True else "")
                      for flag, value in (("--label-regex", cfg.label_regex), ("--ignore-case", cfg.ignore_case))
                      if value)
    # Without --val-data the only labelled folder known is the training one: not a fair test.
    data = quote(cfg.val_data) if cfg.val_data else "TEST_FOLDER"
    print("next:")
    print(f"  python -m crnn_keras predict --model {quote(model)} IMAGE_OR_FOLDER")
    print(f"  python -m crnn_keras evaluate --model {quote(model)} --data {data}{options}")
    tflite = os.path.join(os.path.dirname(model), "reader.tflite")
    print(f"  python -m crnn_keras export --model {quote(model)} --out {quote(tflite)}")
