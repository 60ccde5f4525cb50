"""Command line: `python -m crnn_keras {train,evaluate,predict,export,explain,serve,dataset,label}` (or `crnn-keras`).

Results go to stdout (pipe them); diagnostics and one-line errors to stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from crnn_keras.cli import dataset, explain, export, label, read, serve, train
from crnn_keras.cli.common import run_command
from crnn_keras.quiet import native_stderr_silenced

COMMANDS = {"train": train.run, "evaluate": read.evaluate, "predict": read.predict, "export": export.run,
            "explain": explain.run, "serve": serve.run, "dataset": dataset.run,
            "label": label.run}


class _ShowDefaults(argparse.HelpFormatter):
    """Help that names each option's default, where it has one and the text does not say it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS) and "default" not in text:
            text += " (default: %(default)s)"
        return text


def parser(prog: str = "python -m crnn_keras") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    def command(name: str, helptext: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=helptext, description=helptext,
                              formatter_class=_ShowDefaults)

    train.add_arguments(command("train", "train on a folder of labelled images"))
    read.add_evaluate_arguments(command("evaluate", "accuracy of a model on a labelled folder"))
    read.add_predict_arguments(command("predict", "read images: path, text, confidence per line"))
    export.add_arguments(command("export", "write a TFLite or ONNX model"))
    explain.add_arguments(command("explain", "draw how a .keras model reads each image"))
    serve.add_arguments(command("serve", "read uploaded images over HTTP"))
    dataset.add_arguments(command("dataset", "turn labelled images into a TFDS dataset (dataset build)"))
    label.add_arguments(command("label", "label images in the browser; a model pre-labels, you correct"))
    return p


def _probe_devices_quietly() -> None:
    # TensorFlow's first device query prints CUDA probing lines on machines without a GPU.
    if sys.modules.get("tensorflow") is not None:
        with native_stderr_silenced():
            sys.modules["tensorflow"].config.list_physical_devices()


def main(argv: list[str] | None = None, prog: str = "python -m crnn_keras") -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("absl").setLevel(logging.WARNING)  # TFDS narrates every dataset it opens
    args = parser(prog).parse_args(argv)
    _probe_devices_quietly()
    try:
        return run_command(COMMANDS[args.command], args)
    except BrokenPipeError:
        # The reader of our output went away (`… | head -1`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def train_main(argv: list[str] | None = None) -> int:
    """`train.py`: the train command's options at the top level."""
    return main(["train", *(sys.argv[1:] if argv is None else argv)])


def export_main(argv: list[str] | None = None) -> int:
    """`export_tflite.py`: the export command's options at the top level."""
    return main(["export", *(sys.argv[1:] if argv is None else argv)])


def console_main() -> None:
    """The installed `crnn-keras` command."""
    sys.exit(main(prog="crnn-keras"))
