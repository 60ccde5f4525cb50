"""Command line: `python -m crnn_keras {train,evaluate,predict,export}` (installed: `crnn-keras`).

Results go to stdout (pipe them); diagnostics and one-line errors to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys

from crnn_keras.cli import export, read, train
from crnn_keras.cli.common import run_command
from crnn_keras.quiet import native_stderr_silenced

COMMANDS = {"train": train.run, "evaluate": read.evaluate, "predict": read.predict, "export": export.run}


def parser(prog: str = "python -m crnn_keras") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    train.add_arguments(sub.add_parser("train", help="train on a folder of labelled images"))
    read.add_evaluate_arguments(sub.add_parser("evaluate", help="accuracy of a model on a labelled folder"))
    read.add_predict_arguments(sub.add_parser("predict", help="read images: path, text, confidence per line"))
    export.add_arguments(sub.add_parser("export", help="write a TFLite model"))
    return p


def _probe_devices_quietly() -> None:
    # TensorFlow's first device query prints CUDA probing lines on machines without a GPU.
    if sys.modules.get("tensorflow") is not None:
        with native_stderr_silenced():
            sys.modules["tensorflow"].config.list_physical_devices()


def main(argv: list[str] | None = None, prog: str = "python -m crnn_keras") -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    args = parser(prog).parse_args(argv)
    _probe_devices_quietly()
    return run_command(COMMANDS[args.command], args)


def train_main(argv: list[str] | None = None) -> int:
    """`train.py`: the train command's options at the top level."""
    return main(["train", *(sys.argv[1:] if argv is None else argv)])


def export_main(argv: list[str] | None = None) -> int:
    """`export_tflite.py`: the export command's options at the top level."""
    return main(["export", *(sys.argv[1:] if argv is None else argv)])


def console_main() -> None:
    """The installed `crnn-keras` command."""
    sys.exit(main(prog="crnn-keras"))
