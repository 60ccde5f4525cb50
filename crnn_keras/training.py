"""Training a CRNN on a labelled folder, end to end, into a run folder.

A run folder holds:
    model.keras       the reader at its best validation epoch (batch norm folded in at the end)
    run.json          what was trained, on what, with which options
    history.csv       loss, val_loss, val_accuracy, val_cer per epoch
    curves.png        the history, drawn
    predictions.png   validation images with prediction and truth
    checkpoint.keras  the trainer and optimizer after the last epoch (for --resume)
    state.json        epoch counter and early-stopping state (for --resume)
    calibration.npy   a sample of training images (int8 TFLite calibration)
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import math
import os
import sys
import time
from collections.abc import Sequence

import keras
import numpy as np

from crnn_keras import plots
from crnn_keras.data import LabelledImages, check_labels_fit, load_folder, make_dataset, split
from crnn_keras.files import Problem, vocabulary_of
from crnn_keras.model import (
    ModelConfig,
    build_backbone,
    build_reader,
    build_trainer,
    find_backbone,
    fold_batch_norm,
)
from crnn_keras.text import score

log = logging.getLogger(__name__)

CALIBRATION_SAMPLES = 200
# Below this many training images the default batch is 16, else 32: with 27 updates an epoch
# (936 captchas, batch 32) CTC's all-blank start lasted too long in one seed of three; batch 16
# made that rarer (bench/NOTES.md). Fewer time steps (ModelConfig.fit_labels) later removed it.
SMALL_SET = 2000


def default_batch_size(train_images: int) -> int:
    return 16 if train_images < SMALL_SET else 32


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Options of one training run (the command line of `train.py`)."""

    data: str
    out: str = "runs/latest"
    val_data: str | None = None
    val_split: float = 0.1
    epochs: int = 60
    batch_size: int | None = None  # None: default_batch_size(training images)
    learning_rate: float = 2e-3
    patience: int = 15
    augment: bool = True
    seed: int = 0
    label_regex: str | None = None
    ignore_case: bool = False
    deterministic: bool = False
    # What the benchmark varies to re-run the Keras example's recipe; users keep the defaults.
    architecture: str = "crnn"  # or "keras_example" (crnn_keras.baseline)
    schedule: str = "cosine"  # or "constant"
    monitor: str = "val_accuracy"  # or "val_loss"


class TrainingStopped(Exception):
    """Training ended early for a reason the user must hear (NaN loss, Ctrl-C)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def _atomic_write_text(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def save_model_atomic(model: keras.Model, path: str) -> None:
    """Saves to a temporary name, then renames: a kill never leaves half a file."""
    tmp = f"{path}.tmp.keras"
    model.save(tmp)
    os.replace(tmp, path)


def predict_texts(reader: keras.Model, images: np.ndarray, batch_size: int = 64) -> tuple[list[str], np.ndarray]:
    """Greedy texts and confidences of a reader for (N, H, W, C) uint8 images."""
    out = reader.predict(images, batch_size=batch_size, verbose=0)
    return [t.decode("utf-8") for t in out["text"]], out["confidence"]


class ValidationMetrics(keras.callbacks.Callback):
    """Adds val_accuracy (exact match), val_cer and elapsed_s (training seconds so far) to the logs."""

    def __init__(self, reader: keras.Model, val: LabelledImages, batch_size: int, elapsed_before: float = 0.0):
        super().__init__()
        self.reader, self.val, self.batch_size = reader, val, batch_size
        self.elapsed_before = elapsed_before
        self.started = time.time()

    def on_train_begin(self, logs=None):
        self.started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        logs["elapsed_s"] = round(self.elapsed_before + time.time() - self.started, 2)
        texts, _ = predict_texts(self.reader, self.val.images, self.batch_size)
        result = score(texts, self.val.labels)
        logs["val_accuracy"] = result["sequence_accuracy"]
        logs["val_cer"] = result["character_error_rate"]


class BestModelAndCheckpoint(keras.callbacks.Callback):
    """Keeps the best reader, checkpoints the trainer each epoch, stops early.

    Best = highest val_accuracy, ties broken by lower val_loss (monitor
    "val_accuracy"), or lowest val_loss (monitor "val_loss"). A non-finite loss
    stops training before anything of that epoch is saved.
    """

    def __init__(self, reader: keras.Model, out: str, patience: int, state: dict, monitor: str = "val_accuracy"):
        super().__init__()
        self.reader, self.out, self.patience, self.monitor = reader, out, patience, monitor
        self.state = state  # epoch, best_accuracy, best_loss, best_epoch, wait
        self.nan_epoch: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        loss, val_loss = logs.get("loss", 0.0), logs.get("val_loss", 0.0)
        if not (math.isfinite(loss) and math.isfinite(val_loss)):
            self.nan_epoch = epoch + 1
            self.model.stop_training = True
            return
        s = self.state
        accuracy = logs["val_accuracy"]
        if self.monitor == "val_loss":
            better = val_loss < s["best_loss"]
        else:
            better = accuracy > s["best_accuracy"] or (accuracy == s["best_accuracy"] and val_loss < s["best_loss"])
        if better:
            s.update(best_accuracy=accuracy, best_loss=val_loss, best_epoch=epoch + 1, wait=0)
            save_model_atomic(self.reader, os.path.join(self.out, "model.keras"))
        else:
            s["wait"] += 1
        s["epoch"] = epoch + 1
        s["elapsed_s"] = logs.get("elapsed_s", 0.0)
        save_model_atomic(self.model, os.path.join(self.out, "checkpoint.keras"))
        _atomic_write_text(os.path.join(self.out, "state.json"), json.dumps(s, indent=2))
        if s["wait"] >= self.patience:
            log.info("no better validation accuracy for %d epochs: stopping early", self.patience)
            self.model.stop_training = True


def _report_problems(problems: list[Problem], what: str, shown: int = 20) -> None:
    for problem in problems[:shown]:
        print(f"skipped: {problem}", file=sys.stderr)
    if len(problems) > shown:
        print(f"skipped: … and {len(problems) - shown} more", file=sys.stderr)
    if problems:
        print(f"{what}: skipped {len(problems)} file(s)", file=sys.stderr)


def _drop_unknown(val: LabelledImages, vocabulary: list[str]) -> LabelledImages:
    known = set(vocabulary)
    keep = [i for i, label in enumerate(val.labels) if set(label) <= known]
    if len(keep) < len(val):
        bad = [p for p, label in zip(val.paths, val.labels) if not set(label) <= known]
        print(
            f"warning: {len(bad)} validation image(s) have characters missing from the training "
            f"vocabulary and are left out of validation, e.g. {bad[0]}",
            file=sys.stderr,
        )
    if not keep:
        raise ValueError("no validation image has a label the training vocabulary can spell")
    return val.subset(keep)


def _load_data(cfg: TrainConfig, mcfg: ModelConfig) -> tuple[LabelledImages, LabelledImages]:
    shape = dict(height=mcfg.height, width=mcfg.width, channels=mcfg.channels)
    data, problems = load_folder(cfg.data, **shape, label_regex=cfg.label_regex, ignore_case=cfg.ignore_case)
    _report_problems(problems, cfg.data)
    if cfg.val_data:
        train, (val, val_problems) = data, load_folder(
            cfg.val_data, **shape, label_regex=cfg.label_regex, ignore_case=cfg.ignore_case
        )
        _report_problems(val_problems, cfg.val_data)
    else:
        train, val = split(data, cfg.val_split, cfg.seed)
    return train, val


def _truncate_history(path: str, epochs_done: int) -> None:
    """Drops history rows past the checkpoint (a kill can land between the two writes)."""
    if not os.path.exists(path):
        return
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if rows:
        kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) < epochs_done]
        with open(path, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(kept)


def train(cfg: TrainConfig, mcfg: ModelConfig = ModelConfig(), resume: bool = False,
          extra_callbacks: Sequence[keras.callbacks.Callback] = ()) -> dict:
    """Trains, writes the run folder, and returns a summary.

    `extra_callbacks` run after ours each epoch, so their logs hold val_accuracy and val_cer.

    Raises:
        FileNotFoundError, ValueError: bad data or options (one-line messages).
        TrainingStopped: Ctrl-C or a non-finite loss; the best model so far is kept.
    """
    if cfg.architecture not in ("crnn", "keras_example"):
        raise ValueError(f"architecture {cfg.architecture!r}: choose crnn or keras_example")
    if cfg.architecture == "crnn":
        # Shape errors before the slow load; the width halvings are fitted to the labels below.
        dataclasses.replace(mcfg, width_halvings=mcfg.stem_halvings).validate()
    os.makedirs(cfg.out, exist_ok=True)
    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    started = time.time()
    train_set, val = _load_data(cfg, mcfg)
    if cfg.batch_size is None:
        cfg = dataclasses.replace(cfg, batch_size=default_batch_size(len(train_set)))
    if resume:
        run = json.load(open(os.path.join(cfg.out, "run.json"), encoding="utf-8"))
        vocabulary, max_label_length = run["vocabulary"], run["max_label_length"]
    else:
        vocabulary = vocabulary_of(train_set.labels)
        max_label_length = max(len(label) for label in train_set.labels)
    val = _drop_unknown(val, vocabulary)
    max_label_length = max(max_label_length, *(len(label) for label in val.labels))
    if not resume and cfg.architecture == "crnn":
        fitted = mcfg.fit_labels(max_label_length)
        if fitted.time_steps != mcfg.time_steps:
            log.info("labels of up to %d characters: %d time steps instead of %d",
                     max_label_length, fitted.time_steps, mcfg.time_steps)
        mcfg = fitted
        mcfg.validate()
    if cfg.architecture == "keras_example":
        from crnn_keras.baseline import time_steps

        steps = time_steps(mcfg.width)
    else:
        steps = mcfg.time_steps
    check_labels_fit(train_set.labels, train_set.paths, steps)
    check_labels_fit(val.labels, val.paths, steps)
    log.info("%d training / %d validation images, %d characters: %s", len(train_set), len(val),
             len(vocabulary), "".join(vocabulary))

    steps_per_epoch = math.ceil(len(train_set) / cfg.batch_size)
    if resume:
        trainer = keras.saving.load_model(os.path.join(cfg.out, "checkpoint.keras"))
        backbone = find_backbone(trainer)
        state = json.load(open(os.path.join(cfg.out, "state.json"), encoding="utf-8"))
        _truncate_history(os.path.join(cfg.out, "history.csv"), state["epoch"])
        print(f"resuming {cfg.out} after epoch {state['epoch']}", file=sys.stderr)
    else:
        if cfg.architecture == "keras_example":
            from crnn_keras.baseline import build_keras_example

            backbone = build_keras_example(len(vocabulary) + 1, mcfg.height, mcfg.width)
        else:
            backbone = build_backbone(len(vocabulary) + 1, mcfg)
        trainer = build_trainer(backbone, max_label_length)
        if cfg.schedule == "constant":
            trainer.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate))
        else:
            total = cfg.epochs * steps_per_epoch
            warmup = min(steps_per_epoch, total // 10)
            schedule = keras.optimizers.schedules.CosineDecay(
                0.0, max(1, total - warmup), alpha=0.02, warmup_target=cfg.learning_rate, warmup_steps=warmup
            )
            trainer.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=5.0))
        state = dict(epoch=0, best_accuracy=-1.0, best_loss=float("inf"), best_epoch=0, wait=0)
        run = {
            "model": dataclasses.asdict(mcfg),
            "train": dataclasses.asdict(cfg),
            "vocabulary": vocabulary,
            "max_label_length": max_label_length,
            "train_images": len(train_set),
            "val_images": len(val),
            "keras": keras.__version__,
        }
        _atomic_write_text(os.path.join(cfg.out, "run.json"), json.dumps(run, indent=2, ensure_ascii=False))
        rng = np.random.default_rng(cfg.seed)
        sample = rng.choice(len(train_set), min(CALIBRATION_SAMPLES, len(train_set)), replace=False)
        np.save(os.path.join(cfg.out, "calibration.npy"), train_set.images[np.sort(sample)])
    reader = build_reader(backbone, vocabulary)

    train_ds = make_dataset(train_set, vocabulary, max_label_length, cfg.batch_size,
                            shuffle=True, augment_images=cfg.augment, seed=cfg.seed)
    val_ds = make_dataset(val, vocabulary, max_label_length, cfg.batch_size)
    keeper = BestModelAndCheckpoint(reader, cfg.out, cfg.patience, state, cfg.monitor)
    callbacks = [
        ValidationMetrics(reader, val, cfg.batch_size, state.get("elapsed_s", 0.0)),
        keeper,
        keras.callbacks.CSVLogger(os.path.join(cfg.out, "history.csv"), append=resume),
        *extra_callbacks,
    ]
    stopped: TrainingStopped | None = None
    interrupted: list[bool] = []

    def on_sigint(signum, frame):
        # A KeyboardInterrupt raised inside TensorFlow or a save can be lost (a test saw one
        # run to the end); a flag Keras checks after each batch cannot. Twice: stop at once.
        if interrupted:
            raise KeyboardInterrupt
        interrupted.append(True)
        trainer.stop_training = True
        print("\nCtrl-C: stopping after this batch, then saving (Ctrl-C again to stop now)", file=sys.stderr)

    if state["epoch"] < cfg.epochs:
        import signal
        import threading

        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, on_sigint) if main_thread else None
        try:
            trainer.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs, initial_epoch=state["epoch"],
                        callbacks=callbacks, shuffle=False,  # the dataset shuffles itself
                        verbose=1 if sys.stdout.isatty() else 2)
        except KeyboardInterrupt:
            interrupted.append(True)
        finally:
            if main_thread:
                signal.signal(signal.SIGINT, previous)
        if interrupted:
            stopped = TrainingStopped(
                f"interrupted: {state['epoch']} epoch(s) saved in {cfg.out}; "
                f"continue with: python train.py --resume {cfg.out}", 130)
    if keeper.nan_epoch is not None:
        kept = (f"the best model so far (epoch {state['best_epoch']}) is kept in {cfg.out}/model.keras"
                if state["best_epoch"] else "no epoch finished, so no model was saved")
        stopped = TrainingStopped(
            f"stopped: the loss became NaN or infinite in epoch {keeper.nan_epoch}; {kept} — try a lower "
            "--learning-rate", 3)

    model_path = os.path.join(cfg.out, "model.keras")
    history_path = os.path.join(cfg.out, "history.csv")
    if os.path.exists(history_path):
        plots.curves(history_path, os.path.join(cfg.out, "curves.png"))
    if stopped is not None:
        raise stopped
    best = keras.saving.load_model(model_path)
    if cfg.architecture == "crnn":
        # Batch normalization only matters while training: the reader users keep has it
        # folded into the convolutions, one op where predict ran three (bench/NOTES.md).
        best = build_reader(fold_batch_norm(find_backbone(best), mcfg), vocabulary)
        save_model_atomic(best, model_path)
    texts, confidences = predict_texts(best, val.images, cfg.batch_size)
    result = score(texts, val.labels)
    plots.predictions(val.images, texts, val.labels, confidences, os.path.join(cfg.out, "predictions.png"))
    for name in ("checkpoint.keras", "state.json"):
        # A finished run needs no resume point; keeping it would invite resuming a done run.
        if os.path.exists(os.path.join(cfg.out, name)):
            os.remove(os.path.join(cfg.out, name))
    return {
        "model": model_path,
        "best_epoch": state["best_epoch"],
        "epochs_run": state["epoch"],
        "val_sequence_accuracy": result["sequence_accuracy"],
        "val_character_error_rate": result["character_error_rate"],
        "val_count": result["count"],
        "seconds": round(time.time() - started, 1),
    }
