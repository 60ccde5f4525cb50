"""How training builds a model family: the CRNN by default; the benchmark passes its own.

A builder answers three questions the trainer asks: which shape suits labels of a given
length, how to build the backbone (uint8 image → logits), and what to keep for inference.
"""

from __future__ import annotations

import logging
from typing import Protocol

import keras

from crnn_keras.model.backbone import build_backbone, fold_batch_norm
from crnn_keras.model.config import ModelConfig

log = logging.getLogger(__name__)


class BackboneBuilder(Protocol):
    def check(self, config: ModelConfig) -> None:
        """Raises ValueError for a config it can never build, before the data is loaded."""

    def configure(self, config: ModelConfig, max_label_length: int, train_images: int) -> ModelConfig:
        """The config to build for labels of up to `max_label_length` and a training set of
        `train_images` (an epoch's, for drawn captchas); raises ValueError."""

    def build(self, num_classes: int, config: ModelConfig, mean_label_length: float | None = None) -> keras.Model:
        """A backbone named "crnn": uint8 image (B, H, W, C) → logits (B, T, num_classes).

        `mean_label_length` (training from scratch) lets it start from the data's blank prior."""

    def for_inference(self, backbone: keras.Model, config: ModelConfig) -> keras.Model:
        """The trained backbone as it is saved for reading."""


class CRNNBuilder:
    """The CRNN of `crnn_keras.model.backbone`, with time steps fitted to the labels, block
    widths to the data size, and batch normalization folded into the convolutions of the saved
    reader."""

    def check(self, config: ModelConfig) -> None:
        config.check_input()

    def configure(self, config: ModelConfig, max_label_length: int, train_images: int) -> ModelConfig:
        fitted = config.fit_labels(max_label_length).fit_data(train_images)
        if fitted.time_steps != config.time_steps:
            log.info("labels of up to %d characters: %d time steps instead of %d",
                     max_label_length, fitted.time_steps, config.time_steps)
        if config.block_widths is None or config.rnn_units is None:
            log.info("%d training images: blocks %s, GRU %d", train_images,
                     "-".join(map(str, fitted.block_widths)), fitted.gru_units)
        fitted.validate()
        return fitted

    def build(self, num_classes: int, config: ModelConfig, mean_label_length: float | None = None) -> keras.Model:
        share = None
        if mean_label_length:
            # One frame per character at most is non-blank in a CTC alignment.
            share = 1.0 - min(0.5, mean_label_length / config.time_steps)
        return build_backbone(num_classes, config, blank_share=share)

    def for_inference(self, backbone: keras.Model, config: ModelConfig) -> keras.Model:
        # Batch normalization only matters while training: folded, predict runs one op where
        # it ran three (bench/NOTES.md).
        return fold_batch_norm(backbone, config)
