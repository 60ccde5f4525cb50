"""Training as a short pipeline: prepare the data → start or resume a run → fit → finish.

    result = train(TrainConfig(data="captchas/", out="runs/captchas"))

The run folder (`crnn_keras.run_folder`) receives the reader at its best epoch, the resume
point after every epoch, the history and the pictures. The model family and the optimizer
are passed in (CRNN and a warm-up + cosine Adam by default), so the benchmark trains the
Keras example through the same pipeline.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import keras
import numpy as np

from crnn_keras import quiet
from crnn_keras.data.labelled import drop_unspellable
from crnn_keras.data.source import FolderSource, TrainingData
from crnn_keras.metrics import score
from crnn_keras.model.builder import BackboneBuilder, CRNNBuilder
from crnn_keras.model.config import ModelConfig
from crnn_keras.contract import Vocabulary
from crnn_keras.model.heads import build_reader, build_trainer, find_backbone, find_decoder
from crnn_keras.model.transfer import config_of, warm_start
from crnn_keras.run_folder import ResumeState, RunFolder, RunInfo
from crnn_keras.runtime.keras_reader import load_keras_reader
from crnn_keras.train import callbacks as cb
from crnn_keras.train import distribute
from crnn_keras.train import plots
from crnn_keras.train.config import TrainConfig, default_batch_size
from crnn_keras.train.interrupt import TrainingStopped, stop_on_sigint

if TYPE_CHECKING:  # imported when used: TFDS takes seconds to import
    from crnn_keras.data.generated import GeneratedSource
    from crnn_keras.data.streamed import TfdsSource

log = logging.getLogger(__name__)

CALIBRATION_SAMPLES = 200
# Early stopping waits for this share of the epochs: the cosine schedule's low-rate end is
# where small sets gain their last errors (bench/NOTES.md).
EARLY_STOP_AFTER = 2 / 3
OptimizerFactory = Callable[[TrainConfig, int], keras.optimizers.Optimizer]


def cosine_adam(cfg: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """Adam with one epoch of linear warm-up, then cosine decay to 2% of the peak; clipnorm 5;
    AdamW's decoupled weight decay when cfg.weight_decay is set.

    With cfg.weight_average the optimizer also keeps the weights' moving average (Keras'
    `use_ema`), which validation and the saved reader use (callbacks.AveragedWeights).
    """
    total = cfg.epochs * steps_per_epoch
    warmup = min(steps_per_epoch, total // 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, max(1, total - warmup), alpha=0.02, warmup_target=cfg.learning_rate, warmup_steps=warmup)
    averaged = {"use_ema": True, "ema_momentum": cfg.weight_average} if cfg.weight_average else {}
    if cfg.weight_decay:
        return keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay, clipnorm=5.0, **averaged)
    return keras.optimizers.Adam(schedule, clipnorm=5.0, **averaged)


@dataclasses.dataclass
class Run:
    """A run being trained: its folder, what it records, and the models sharing one backbone."""

    folder: RunFolder
    info: RunInfo
    state: ResumeState
    trainer: keras.Model
    reader: keras.Model


def prepare(cfg: TrainConfig, model: ModelConfig, source: FolderSource) -> tuple[TrainingData, TrainConfig]:
    """Seeds, decodes the data, and fills in the batch size chosen from the data size."""
    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    data = source.load(model.height, model.width, model.input_channels)
    if cfg.batch_size is None:
        cfg = dataclasses.replace(cfg, batch_size=default_batch_size(len(data.train)))
    return data, cfg


def new_run(folder: RunFolder, cfg: TrainConfig, model: ModelConfig, data: TrainingData, index: dict,
            builder: BackboneBuilder, make_optimizer: OptimizerFactory, source: keras.Model | None,
            strategy) -> Run:
    """Builds the model for this data (from `source`'s weights with --init-from) under the
    distribution strategy, and writes run.json, data.json and the calibration sample."""
    known = Vocabulary(tuple(find_decoder(source).vocabulary)) if source is not None else None
    vocabulary = known.extended_by(data.vocabulary()) if known else data.vocabulary()
    data.val = drop_unspellable(data.val, vocabulary)
    max_label_length = data.max_label_length
    if source is None:
        model = builder.configure(model, max_label_length, len(data.train))
        backbone = builder.build(vocabulary.num_classes, model, data.train.mean_label_length)
    else:
        backbone = builder.build(vocabulary.num_classes, model)
        warm_start(find_backbone(source), backbone)
        log.info("starting from %s: %d known characters, %d new", cfg.init_from, len(known),
                 len(vocabulary) - len(known))
    _check_fit(data, backbone.output.shape[1])
    log.info("%d characters: %s", len(vocabulary), "".join(vocabulary.characters))
    log.info("reads %d to %d characters long, as the training labels are", *data.label_lengths)
    trainer = build_trainer(backbone, max_label_length)
    trainer.compile(optimizer=make_optimizer(cfg, math.ceil(len(data.train) / cfg.batch_size)))
    info = RunInfo(model=model, train=cfg, vocabulary=vocabulary, max_label_length=max_label_length,
                   train_images=len(data.train), val_images=len(data.val), keras=keras.__version__)
    folder.write_info(info)
    folder.write_data_index(index)
    folder.save_calibration(data.calibration_sample(CALIBRATION_SAMPLES, cfg.seed))
    return Run(folder, info, ResumeState(), trainer, build_reader(backbone, vocabulary, data.label_lengths))


def init_source(cfg: TrainConfig, builder: BackboneBuilder) -> tuple[keras.Model, ModelConfig]:
    """The reader --init-from names, and the model shape it fixes (the data is read at its size)."""
    if not isinstance(builder, CRNNBuilder):
        raise ValueError("--init-from: expected the CRNN model family")
    source = load_keras_reader(cfg.init_from)
    return source, config_of(find_backbone(source))


def resumed_run(folder: RunFolder, cfg: TrainConfig, data: TrainingData, index: dict, strategy) -> Run:
    """Loads the checkpoint and state of an interrupted run; the history is cut back to match.

    Raises:
        ValueError: the data changed since the run started (its targets would be wrong).
    """
    info = folder.read_info()
    state = folder.read_state()
    folder.check_data_index(index)
    unfit = data.unfit(info.vocabulary, info.max_label_length)
    if unfit:
        raise ValueError(f"{unfit[0]}: its label does not fit the run being resumed (characters outside its "
                         f"vocabulary or over {info.max_label_length} long); {len(unfit)} such file(s)")
    data.val = drop_unspellable(data.val, info.vocabulary)
    with strategy.scope():
        trainer = keras.saving.load_model(folder.file(RunFolder.CHECKPOINT))
    backbone = find_backbone(trainer)
    _check_fit(data, backbone.output.shape[1])
    folder.truncate_history(state.epoch)
    print(f"resuming {folder.path} after epoch {state.epoch}", file=sys.stderr)
    info = dataclasses.replace(info, train=cfg)
    return Run(folder, info, state, trainer, build_reader(backbone, info.vocabulary, data.label_lengths))


def _check_fit(data: TrainingData, time_steps: int) -> None:
    data.check_fit(time_steps)
    log.info("%d training / %d validation images", len(data.train), len(data.val))


def fit(run: Run, data: TrainingData, cfg: TrainConfig, monitor: str,
        extra_callbacks: Sequence[keras.callbacks.Callback],
        early_stop_after: float = EARLY_STOP_AFTER, replicas: int = 1) -> TrainingStopped | None:
    """Trains from the run's epoch to cfg.epochs; returns why it stopped early, if it must be told."""
    if run.state.epoch >= cfg.epochs:
        return None
    info = run.info
    train_ds, val_ds = data.datasets(info.vocabulary, info.max_label_length, cfg.batch_size, cfg.augment, cfg.seed,
                                     replicas)
    state = run.state
    best = cb.BestReader(run.reader, run.folder, monitor, (state.best_accuracy, state.best_loss, state.best_epoch),
                         val_images=len(data.val))
    non_finite = cb.StopOnNonFiniteLoss()
    elapsed = cb.ElapsedTime(state.elapsed_s)
    resume_point = cb.ResumePoint(run.folder, best, elapsed, state)
    averaged = cb.AveragedWeights() if getattr(run.trainer.optimizer, "use_ema", False) else None
    callbacks = [
        elapsed,
        *([averaged] if averaged else []),
        cb.CleanNormStatistics(find_backbone(run.trainer), clean_sample(run, data, cfg.seed)),
        *([averaged.lend] if averaged else []),
        cb.ValidationMetrics(run.reader, data.val, cfg.batch_size),
        non_finite,
        best,
        *([averaged.take_back] if averaged else []),
        resume_point,
        cb.EarlyStop(best, cfg.patience, min_epochs=math.ceil(cfg.epochs * early_stop_after)),
        cb.HistoryCSV(run.folder.file(RunFolder.HISTORY), elapsed, append=state.epoch > 0),
        *extra_callbacks,
    ]
    steps = distribute.fixed_steps(cfg, len(data.train), len(data.val), replicas)
    if steps:  # workers must take the same number of steps: repeat, and count them
        train_ds, val_ds = train_ds.repeat(), val_ds.repeat()
    quiet.spend_onednn_bool_note()
    with stop_on_sigint(run.trainer) as interrupted:
        run.trainer.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs, initial_epoch=state.epoch,
                        callbacks=callbacks, shuffle=False,  # the dataset shuffles itself
                        verbose=1 if sys.stdout.isatty() else 2, **steps)
    run.state = resume_point.state  # as state.json holds it
    if non_finite.epoch is not None:
        kept = (f"the best model so far (epoch {best.best_epoch}) is kept in {run.folder.file(RunFolder.MODEL)}"
                if best.best_epoch else "no epoch finished, so no model was saved")
        return TrainingStopped(f"stopped: the loss became NaN or infinite in epoch {non_finite.epoch}; {kept} — "
                               "try a lower --learning-rate", 3)
    if interrupted:
        return TrainingStopped(f"interrupted: {run.state.epoch} epoch(s) saved in {run.folder.path}; continue with: "
                               f"python -m crnn_keras train --resume {run.folder.path}", 130)
    return None


def clean_sample(run: Run, data: TrainingData, seed: int) -> np.ndarray:
    """The clean training images batch norm measures its statistics on: the calibration sample
    the run saved when it started (drawn again only for a folder that has none). Fresh synthetic
    captchas keep no training images, so theirs are held-out images from the same generator."""
    saved = run.folder.load_calibration(tuple(find_backbone(run.trainer).input.shape[1:]))
    return np.array(saved) if saved is not None else data.calibration_sample(CALIBRATION_SAMPLES, seed)


def finish(run: Run, data: TrainingData, cfg: TrainConfig, builder: BackboneBuilder) -> dict:
    """Saves the reader for inference, scores it on validation, draws the run's pictures."""
    folder = run.folder
    best = keras.saving.load_model(folder.file(RunFolder.MODEL))
    reader = build_reader(builder.for_inference(find_backbone(best), run.info.model), run.info.vocabulary,
                          find_decoder(best).label_lengths)
    folder.save_model(reader)
    texts, confidences = cb.predict_texts(reader, data.val.images, cfg.batch_size)
    truths = data.val.labels
    result = score(texts, truths)
    shown = plots.grid_order(texts, truths)
    plots.predictions(data.val.images_at(shown), [texts[i] for i in shown], [truths[i] for i in shown],
                      [confidences[i] for i in shown], folder.file(RunFolder.PREDICTIONS))
    folder.drop_resume_point()
    return {
        "model": folder.file(RunFolder.MODEL),
        "best_epoch": run.state.best_epoch,
        "epochs_run": run.state.epoch,
        "val_sequence_accuracy": result["sequence_accuracy"],
        "val_character_error_rate": result["character_error_rate"],
        "val_count": result["count"],
    }


def train(cfg: TrainConfig, model: ModelConfig = ModelConfig(), *, resume: bool = False, overwrite: bool = False,
          builder: BackboneBuilder | None = None, make_optimizer: OptimizerFactory = cosine_adam,
          monitor: str = "val_accuracy", data_source: FolderSource | None = None,
          extra_callbacks: Sequence[keras.callbacks.Callback] = (), early_stop_after: float = EARLY_STOP_AFTER) -> dict:
    """Trains into the run folder `cfg.out` and returns a summary (model path, epochs, scores).

    A folder that holds a run is refused unless `resume` (continue it) or `overwrite` (replace
    it); the folder is locked while training. `extra_callbacks` run after ours each epoch, so
    their logs hold val_accuracy and val_cer. Early stopping waits for `early_stop_after` of
    the epochs.
    A model of `channels=None` reads colour when the training images are coloured
    (`data.images.channels_for`), grey otherwise.

    Raises:
        FileNotFoundError, ValueError: bad data or options (one-line messages).
        TrainingStopped: Ctrl-C or a non-finite loss; the best model so far is kept.
    """
    builder = builder or CRNNBuilder()
    if monitor not in cb.MONITORS:
        raise ValueError(f"monitor: expected one of {', '.join(cb.MONITORS)}, received {monitor!r}")
    strategy = distribute.start(cfg.distribute, cfg.cpu_devices)
    folder, scratch = distribute.run_folder_for(cfg.out, resume)
    source = None
    if not resume:
        if cfg.init_from:
            source, model = init_source(cfg, builder)
        builder.check(model)
        _refuse_a_run(folder, overwrite)
    started = time.time()
    data_source = data_source or data_source_of(cfg)
    if not resume and model.channels is None:
        model = with_channels_of(model, data_source)
    data, cfg = prepare(cfg, model, data_source)  # the slow part, before anything is written
    distribute.check_batch(cfg.batch_size, strategy)
    existed = os.path.isdir(folder.path)
    folder.create()
    try:
        with folder.lock():
            if overwrite and not resume:
                folder.clear()
            with precision(cfg.mixed_precision):
                run = (resumed_run(folder, cfg, data, data_source.index(), strategy) if resume else
                       new_run(folder, cfg, model, data, data_source.index(), builder, make_optimizer, source,
                               strategy))
                stopped = fit(run, data, cfg, monitor, extra_callbacks, early_stop_after,
                              strategy.num_replicas_in_sync)
            if os.path.exists(folder.file(RunFolder.HISTORY)):
                plots.curves(folder.file(RunFolder.HISTORY), folder.file(RunFolder.CURVES), run.state.best_epoch or None)
            if stopped is not None:
                raise stopped
            return {**finish(run, data, cfg, builder), "seconds": round(time.time() - started, 1)}
    finally:
        if not existed:
            folder.remove_if_empty()
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def precision(mixed: bool):
    """Keras' global dtype policy "mixed_float16" inside, when `mixed`; the saved reader is
    rebuilt after it, in float32, so predict and export never see float16."""
    before = keras.config.dtype_policy()
    if mixed:
        keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def with_channels_of(model: ModelConfig, source) -> ModelConfig:
    """`model` reading colour when the source's training images are coloured, else grey."""
    model = dataclasses.replace(model, channels=source.channels())
    log.info("input: %s, chosen from the training images (--rgb / --grey choose)",
             "colour (RGB)" if model.channels == 3 else "grey")
    return model


def data_source_of(cfg: TrainConfig) -> FolderSource | TfdsSource | GeneratedSource:
    """Where the run's images come from: fresh synthetic captchas, a TFDS dataset (streamed), a
    labels file or a folder."""
    if cfg.fresh_per_epoch:
        from crnn_keras.data.generated import GeneratedSource

        val_count = max(1, round(cfg.fresh_per_epoch * cfg.val_split))
        return GeneratedSource(cfg.fresh_per_epoch, val_count, cfg.fresh_alphabet, *cfg.fresh_lengths, seed=cfg.seed)
    if cfg.tfds:
        from crnn_keras.data.streamed import TfdsSource

        return TfdsSource(cfg.tfds, cfg.val_split, cfg.seed)
    return FolderSource(cfg.data, cfg.val_data, cfg.val_split, cfg.seed, cfg.label_regex, cfg.ignore_case, cfg.labels)


def _refuse_a_run(folder: RunFolder, overwrite: bool) -> None:
    folder.check_not_a_file()
    if folder.holds_run() and not overwrite:
        hint = (f"continue with: python -m crnn_keras train --resume {folder.path}, or pass --overwrite"
                if folder.can_resume() else "choose another --out, or pass --overwrite to replace it")
        raise ValueError(f"{folder.path} holds a run ({hint})")
