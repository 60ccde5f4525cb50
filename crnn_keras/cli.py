"""Command line: `python -m crnn_keras {train,evaluate,predict,export}`.

Results go to stdout (pipe them); diagnostics and one-line errors to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

DEFAULT_SYNTHETIC_COUNT = 6000
DEFAULT_SYNTHETIC_EPOCHS = 12


class UserError(Exception):
    """An error the user can fix; printed as one line."""


def _error_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _run(command, args) -> int:
    try:
        return command(args) or 0
    except (UserError, ValueError, FileNotFoundError, PermissionError) as error:
        print(f"error: {_error_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


# ---------------------------------------------------------------- train


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    from crnn_keras.model import ModelConfig
    from crnn_keras.training import TrainConfig

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


def _free_run_folder(base: str) -> str:
    if not os.path.exists(base) or not os.listdir(base):
        return base
    n = 2
    while os.path.exists(f"{base}-{n}") and os.listdir(f"{base}-{n}"):
        n += 1
    return f"{base}-{n}"


def _train_configs(args):
    from crnn_keras import synthetic
    from crnn_keras.model import ModelConfig
    from crnn_keras.training import TrainConfig

    if args.resume:
        run_file = os.path.join(args.resume, "run.json")
        if not os.path.exists(os.path.join(args.resume, "checkpoint.keras")) or not os.path.exists(run_file):
            raise UserError(f"{args.resume}: no checkpoint to resume (the run finished, or never saved an epoch)")
        run = json.load(open(run_file, encoding="utf-8"))
        train = dict(run["train"], out=args.resume)
        if args.epochs is not None:
            train["epochs"] = args.epochs
        return TrainConfig(**train), ModelConfig.from_dict(run["model"]), True
    label_regex, epochs = args.label_regex, args.epochs
    if args.data:
        data = args.data
    else:
        logging.info("no --data: generating %d synthetic captchas (cached)", args.synthetic_count)
        data = synthetic.default_dataset(args.synthetic_count)
        label_regex = synthetic.LABEL_REGEX
        epochs = DEFAULT_SYNTHETIC_EPOCHS if epochs is None else epochs
    name = os.path.basename(os.path.normpath(data)) or "run"
    cfg = TrainConfig(
        data=data,
        out=args.out or _free_run_folder(os.path.join("runs", name)),
        val_data=args.val_data,
        val_split=args.val_split,
        epochs=TrainConfig.epochs if epochs is None else epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        patience=args.patience,
        augment=not args.no_augment,
        seed=args.seed,
        label_regex=label_regex,
        ignore_case=args.ignore_case,
        deterministic=args.deterministic,
    )
    for name, value in (("--epochs", cfg.epochs), ("--batch-size", cfg.batch_size), ("--patience", cfg.patience)):
        if value is not None and value < 1:
            raise UserError(f"{name} {value}: must be ≥ 1")
    mcfg = ModelConfig(height=args.height, width=args.width, channels=3 if args.rgb else 1)
    return cfg, mcfg, False


def cmd_train(args) -> int:
    from crnn_keras.training import TrainingStopped, train

    cfg, mcfg, resume = _train_configs(args)
    try:
        result = train(cfg, mcfg, resume=resume)
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


# ---------------------------------------------------------------- evaluate / predict


def _beam(args) -> int | None:
    if args.beam_width is not None and args.beam_width < 1:
        raise UserError(f"--beam-width {args.beam_width}: must be ≥ 1")
    return args.beam_width


def cmd_evaluate(args) -> int:
    from crnn_keras.files import list_samples
    from crnn_keras.reader import Reader, read_paths
    from crnn_keras.text import score

    started = time.time()
    reader = Reader(args.model)
    samples, problems = list_samples(args.data, args.label_regex, args.ignore_case)
    for problem in problems:
        print(f"skipped: {problem}", file=sys.stderr)
    beam = _beam(args)
    texts, truths, confidences = [], [], []
    by_path = {s.path: s.label for s in samples}
    for path, reading, error in read_paths(reader, [s.path for s in samples], beam):
        if error:
            print(f"skipped: {error}", file=sys.stderr)
            problems.append(error)
            continue
        text = reading.text.lower() if args.ignore_case else reading.text
        texts.append(text)
        truths.append(by_path[path])
        confidences.append(reading.confidence)
    if not texts:
        raise UserError(f"{args.data}: no image could be read")
    known = set(reader.vocabulary)
    unknown = [t for t in truths if not set(t) <= known]
    if unknown:
        print(
            f"warning: {len(unknown)} label(s) use characters the model never learned "
            f"(e.g. {unknown[0]!r}); they count as errors",
            file=sys.stderr,
        )
    result = score(texts, truths)
    result.update(
        skipped=len(problems),
        unknown_character_labels=len(unknown),
        mean_confidence=float(sum(confidences) / len(confidences)),
        decoder=f"beam({beam})" if beam else "greedy",
        model=args.model,
        data=args.data,
        seconds=round(time.time() - started, 2),
    )
    if args.json:
        print(json.dumps(result))
    else:
        for key in ("sequence_accuracy", "character_error_rate", "count", "correct", "skipped"):
            value = result[key]
            print(f"{key}\t{value:.4f}" if isinstance(value, float) else f"{key}\t{value}")
    return 0


def cmd_predict(args) -> int:
    from crnn_keras.files import list_image_files
    from crnn_keras.reader import Reader, read_paths

    reader = Reader(args.model)
    beam = _beam(args)
    files, problems = list_image_files(args.paths)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    read = 0
    for path, reading, error in read_paths(reader, files, beam):
        if error:
            print(f"error: {error}", file=sys.stderr)
        else:
            read += 1
            print(f"{path}\t{reading.text}\t{reading.confidence:.4f}", flush=True)
    if read == 0:
        print("error: no image could be read", file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------- export


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    from crnn_keras.export import QUANTIZE_MODES

    p.add_argument("--model", required=True, help="model.keras from a training run")
    p.add_argument("--out", required=True, help="where to write the .tflite file")
    p.add_argument("--quantize", default="float32", choices=QUANTIZE_MODES)
    p.add_argument("--calibration-data", help="int8: folder of images (default: the run's calibration.npy)")


def cmd_export(args) -> int:
    from crnn_keras.export import export

    if not args.out.lower().endswith(".tflite"):
        raise UserError(f"--out {args.out}: name the file .tflite")
    info = export(args.model, args.out, args.quantize, args.calibration_data)
    print(f"wrote {info['path']} ({info['bytes'] / 1024:.0f} KiB, {info['quantize']})")
    print(f"input: {info['input']}")
    for output in info["outputs"]:
        print(f"output: {output}")
    print(f"ops: {', '.join(info['ops'])}")
    return 0


# ---------------------------------------------------------------- entry points


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m crnn_keras", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_arguments(sub.add_parser("train", help="train on a folder of labelled images"))
    for name, helptext in (("evaluate", "accuracy of a model on a labelled folder"),
                           ("predict", "read images: path, text, confidence per line")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--model", required=True, help="model.keras or .tflite")
        p.add_argument("--beam-width", type=int, help="beam search with this width (default: greedy)")
        if name == "evaluate":
            p.add_argument("--data", required=True, help="folder of images named by their labels")
            p.add_argument("--label-regex", help="label = first capture group of this regex on the file name")
            p.add_argument("--ignore-case", action="store_true", help="compare in lower case")
            p.add_argument("--json", action="store_true", help="print one JSON object")
        else:
            p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    add_export_arguments(sub.add_parser("export", help="write a TFLite model"))
    return parser


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "export": cmd_export}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    args = _parser().parse_args(argv)
    return _run(COMMANDS[args.command], args)


def train_main(argv: list[str] | None = None) -> int:
    """`train.py`: the train command's options at the top level."""
    return main(["train", *(sys.argv[1:] if argv is None else argv)])


def export_main(argv: list[str] | None = None) -> int:
    """`export_tflite.py`: the export command's options at the top level."""
    return main(["export", *(sys.argv[1:] if argv is None else argv)])
