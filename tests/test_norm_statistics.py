"""Batch norm keeps the statistics of clean training images, not of the augmented batches."""

import os

import keras
import numpy as np
import pytest

from crnn_keras.model.backbone import NormStatistics, build_backbone
from crnn_keras.model.config import ModelConfig
from tests.conftest import TINY_MODEL


def _images(count=24, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, 16, 64, 1), dtype=np.uint8)


def _norms(backbone):
    return [layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization)]


def test_measure_sets_each_norm_to_its_inputs_mean_and_variance_and_changes_nothing_else():
    keras.utils.set_random_seed(0)
    backbone = build_backbone(5, ModelConfig(**TINY_MODEL))
    trainable = [w.numpy().copy() for w in backbone.trainable_weights]
    images = _images()
    NormStatistics(backbone).measure(images)
    # The stem's norm sees the stem convolution's output directly: its statistics are checkable by hand.
    stem = keras.Model(backbone.input, backbone.get_layer("stem_conv").output)(images).numpy()
    norm = backbone.get_layer("stem_conv_bn")
    np.testing.assert_allclose(norm.moving_mean.numpy(), stem.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(norm.moving_variance.numpy(), stem.var(axis=(0, 1, 2)), rtol=1e-3, atol=1e-6)
    # Every norm moved off its initial (0, 1), and keeps its training momentum.
    for layer in _norms(backbone):
        assert not np.allclose(layer.moving_variance.numpy(), 1.0)
        assert layer.momentum == 0.9
    for before, after in zip(trainable, backbone.trainable_weights):
        np.testing.assert_array_equal(before, after.numpy())


def test_in_batches_each_norm_keeps_the_mean_of_the_batches_statistics():
    keras.utils.set_random_seed(0)
    backbone = build_backbone(5, ModelConfig(**TINY_MODEL))
    images = _images(24)
    stats = NormStatistics(backbone, pixels=8 * 16 * 64)  # batches of 8 images
    assert stats.batch_size == 8
    stats.measure(images)
    stem = keras.Model(backbone.input, backbone.get_layer("stem_conv").output)(images).numpy()
    batches = [stem[i:i + 8] for i in range(0, 24, 8)]
    norm = backbone.get_layer("stem_conv_bn")
    np.testing.assert_allclose(norm.moving_mean.numpy(), stem.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(norm.moving_variance.numpy(), np.mean([b.var(axis=(0, 1, 2)) for b in batches], axis=0),
                               rtol=1e-3, atol=1e-6)
    assert norm.momentum == 0.9


def test_measuring_twice_gives_the_same_statistics_whatever_came_before():
    keras.utils.set_random_seed(0)
    backbone = build_backbone(5, ModelConfig(**TINY_MODEL))
    stats = NormStatistics(backbone)
    stats.measure(_images(seed=1))
    first = [layer.moving_mean.numpy().copy() for layer in _norms(backbone)]
    backbone(_images(seed=2), training=True)  # a training step's batch moves them
    stats.measure(_images(seed=1))
    for before, layer in zip(first, _norms(backbone)):
        np.testing.assert_allclose(before, layer.moving_mean.numpy(), rtol=1e-5, atol=1e-6)


def test_a_backbone_without_batch_norm_is_left_alone():
    backbone = build_backbone(5, ModelConfig(**TINY_MODEL), folded=True)
    NormStatistics(backbone).measure(_images())  # nothing to measure, no error


def test_training_leaves_the_statistics_of_its_clean_sample(tiny_folder, tmp_path):
    from crnn_keras.model.heads import find_backbone
    from crnn_keras.train.config import TrainConfig
    from crnn_keras.train.trainer import train

    seen = {}

    class Keep(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            backbone = find_backbone(self.model)
            seen["after"] = [layer.moving_mean.numpy().copy() for layer in _norms(backbone)]
            sample = np.load(os.path.join(str(tmp_path / "run"), "calibration.npy"))
            NormStatistics(backbone).measure(sample)
            seen["clean"] = [layer.moving_mean.numpy().copy() for layer in _norms(backbone)]

    cfg = TrainConfig(data=tiny_folder, val_data=tiny_folder, out=str(tmp_path / "run"), epochs=2, batch_size=8,
                      augment=True)
    train(cfg, ModelConfig(**TINY_MODEL), extra_callbacks=[Keep()])
    assert len(seen["after"]) > 5
    for after, clean in zip(seen["after"], seen["clean"]):
        np.testing.assert_allclose(after, clean, rtol=1e-4, atol=1e-5)
