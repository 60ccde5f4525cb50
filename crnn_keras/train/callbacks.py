"""Callbacks of a training run, one job each (as Keras' own EarlyStopping, TerminateOnNaN).

They run in this order each epoch: ElapsedTime counts; AveragedWeights (when the optimizer
averages the weights) lends the average to the next ones; ValidationMetrics adds to the logs
(CleanNormStatistics has set batch norm's statistics before Keras' validation pass);
StopOnNonFiniteLoss flags a broken epoch; BestReader saves the reader when validation
improves; AveragedWeights takes the training weights back; ResumePoint saves what `--resume`
needs; EarlyStop ends a run that stopped improving; HistoryCSV appends the epoch to history.csv.
A non-finite epoch is saved by none of them.
"""

from __future__ import annotations

import logging
import math
import time

import keras
import numpy as np

from crnn_keras.data.labelled import LabelledImages
from crnn_keras.data.pipeline import image_batches
from crnn_keras.metrics import score
from crnn_keras.model.backbone import NormStatistics
from crnn_keras.run_folder import ResumeState, RunFolder

log = logging.getLogger(__name__)

MONITORS = ("val_accuracy", "val_loss")


def finite_epoch(logs: dict) -> bool:
    return math.isfinite(logs.get("loss", 0.0)) and math.isfinite(logs.get("val_loss", 0.0))


def predict_texts(reader: keras.Model, images, batch_size: int = 64) -> tuple[list[str], np.ndarray]:
    """Greedy texts and confidences of a reader for (N, H, W, C) uint8 images: an array, or a
    tf.data.Dataset of single images (a streamed validation split)."""
    out = reader.predict(image_batches(images, batch_size), verbose=0)
    return [t.decode("utf-8") for t in out["text"]], out["confidence"]


class ElapsedTime(keras.callbacks.Callback):
    """Counts the training seconds so far (a resumed run counts its earlier ones) in `seconds`.

    Kept off the logs, so the progress bar does not show it; HistoryCSV writes it.
    """

    def __init__(self, before: float = 0.0):
        super().__init__()
        self.before, self.started, self.seconds = before, time.time(), before

    def on_train_begin(self, logs=None):
        self.started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = round(self.before + time.time() - self.started, 2)


class HistoryCSV(keras.callbacks.CSVLogger):
    """history.csv: the epoch's logs and the elapsed_s column (0-based `epoch`, as Keras writes it)."""

    def __init__(self, path: str, elapsed: ElapsedTime, append: bool):
        super().__init__(path, append=append)
        self.elapsed = elapsed

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, {**(logs or {}), "elapsed_s": self.elapsed.seconds})


class _OnEpochEnd(keras.callbacks.Callback):
    def __init__(self, call):
        super().__init__()
        self.call = call

    def on_epoch_end(self, epoch, logs=None):
        self.call()


class AveragedWeights(keras.callbacks.SwapEMAWeights):
    """Validation and the saved reader see the optimizer's moving average of the weights.

    For an optimizer made with `use_ema=True`. As Keras' SwapEMAWeights, it swaps the average
    into the model for Keras' validation pass (val_loss); the callbacks placed between `lend`
    and `take_back` in the list also see it at the epoch's end (val_accuracy, the best reader).
    Training, and the resume point saved after `take_back`, keep the raw weights, and the
    average stays in the optimizer's variables, so a resumed run averages on.

    Example:
    >>> averaged = AveragedWeights()
    >>> callbacks = [averaged, averaged.lend, ValidationMetrics(...), BestReader(...),
    ...              averaged.take_back, ResumePoint(...)]  # doctest: +SKIP
    """

    def __init__(self):
        super().__init__(swap_on_epoch=False)
        self.lend = _OnEpochEnd(self.on_test_begin)
        self.take_back = _OnEpochEnd(self.on_test_end)


class CleanNormStatistics(keras.callbacks.Callback):
    """Before each validation pass, batch norm's moving statistics become those of clean
    training images (`NormStatistics`): validation, the saved reader and its folded
    convolutions see the statistics of what a reader reads. Training uses batch statistics,
    so it is not changed. Place it after AveragedWeights, which swaps in the weights to measure.
    """

    def __init__(self, backbone: keras.Model, images: np.ndarray):
        super().__init__()
        self.statistics, self.images = NormStatistics(backbone), images

    def on_test_begin(self, logs=None):
        self.statistics.measure(self.images)


class ValidationMetrics(keras.callbacks.Callback):
    """Adds val_accuracy (exact match) and val_cer (character error rate) of the greedy reader."""

    def __init__(self, reader: keras.Model, val: LabelledImages, batch_size: int):
        super().__init__()
        self.reader, self.val, self.batch_size = reader, val, batch_size

    def on_epoch_end(self, epoch, logs=None):
        texts, _ = predict_texts(self.reader, self.val.images, self.batch_size)
        result = score(texts, self.val.labels)
        logs["val_accuracy"] = result["sequence_accuracy"]
        logs["val_cer"] = result["character_error_rate"]


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops training when an epoch's loss or validation loss is NaN or infinite.

    `epoch` is the 1-based epoch that broke, or None.
    """

    def __init__(self):
        super().__init__()
        self.epoch: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        if not finite_epoch(logs):
            self.epoch = epoch + 1
            self.model.stop_training = True


class BestReader(keras.callbacks.Callback):
    """Saves the reader to the run folder's model.keras whenever the kept epoch moves.

    Monitor "val_accuracy": the kept epoch is the latest one whose validation accuracy is
    within one image of the best so far (exact ties only below MIN_IMAGES_FOR_SLACK images).
    On a few hundred validation images, epochs that far apart read alike; on a check set ten
    times larger, the latest of them read as well or better (bench/NOTES.md, session 12).
    Monitor "val_loss": the lowest val_loss. `best` holds (the best accuracy so far, the loss
    of the kept epoch, the kept 1-based epoch).
    """

    MIN_IMAGES_FOR_SLACK = 50

    def __init__(self, reader: keras.Model, run: RunFolder, monitor: str = "val_accuracy",
                 best: tuple[float, float, int] = (-1.0, math.inf, 0), val_images: int = 0):
        super().__init__()
        if monitor not in MONITORS:
            raise ValueError(f"monitor: expected one of {', '.join(MONITORS)}, received {monitor!r}")
        self.reader, self.run, self.monitor = reader, run, monitor
        self.best_accuracy, self.best_loss, self.best_epoch = best
        # half an image over one, so a float's rounding cannot turn one image into two
        self.slack = 1.5 / val_images if val_images >= self.MIN_IMAGES_FOR_SLACK else 0.0

    def keeps(self, accuracy: float, loss: float) -> bool:
        if self.monitor == "val_loss":
            return loss < self.best_loss
        return accuracy >= self.best_accuracy - self.slack

    def on_epoch_end(self, epoch, logs=None):
        if finite_epoch(logs) and self.keeps(logs["val_accuracy"], logs.get("val_loss", 0.0)):
            self.best_accuracy = max(self.best_accuracy, logs["val_accuracy"])
            self.best_loss, self.best_epoch = logs.get("val_loss", 0.0), epoch + 1
            self.run.save_model(self.reader)


class ResumePoint(keras.callbacks.Callback):
    """Saves the trainer (weights and optimizer) and state.json after every finite epoch.

    `state` is what state.json holds: the state it was given until the first save.
    """

    def __init__(self, run: RunFolder, best: BestReader, elapsed: ElapsedTime, state: ResumeState):
        super().__init__()
        self.run, self.best, self.elapsed, self.state = run, best, elapsed, state

    def on_epoch_end(self, epoch, logs=None):
        if not finite_epoch(logs):
            return
        self.run.save_model(self.model, RunFolder.CHECKPOINT)
        self.state = ResumeState(epoch=epoch + 1, best_accuracy=self.best.best_accuracy,
                                 best_loss=self.best.best_loss, best_epoch=self.best.best_epoch,
                                 elapsed_s=self.elapsed.seconds)
        self.run.write_state(self.state)


class EarlyStop(keras.callbacks.Callback):
    """Stops when `patience` epochs have passed since the kept one or `min_epochs`, the later.

    The learning rate follows a cosine over all epochs: on small real sets, validation accuracy
    swings while it is high, and runs stopped half-way read worse than runs that let it decay.
    Patience counts from `min_epochs` even when the kept epoch is older, so a lucky early peak
    on a small validation set cannot end the run before the low-rate end has had `patience`
    epochs to come near it (bench/NOTES.md, session 13).
    """

    def __init__(self, best: BestReader, patience: int, min_epochs: int = 0):
        super().__init__()
        self.best, self.patience, self.min_epochs = best, patience, min_epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 - max(self.best.best_epoch, self.min_epochs) >= self.patience:
            log.info("no epoch kept since epoch %d: stopping early", self.best.best_epoch)
            self.model.stop_training = True
