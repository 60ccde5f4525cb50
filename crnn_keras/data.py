"""Labelled images → `tf.data` batches for the trainer.

Labels become ids through a `StringLookup` built on the training vocabulary:
with `mask_token=None` and one OOV index, the OOV slot is index 0, which is
also the CTC blank, and characters are 1..V — the same layout as the logits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from crnn_keras.files import Problem, Sample, list_samples
from crnn_keras.images import load_images


@dataclasses.dataclass
class LabelledImages:
    """Decoded images with their labels and where each came from.

    images: (N, H, W, C) uint8; labels and paths: N each.
    """

    images: np.ndarray
    labels: list[str]
    paths: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: Sequence[int]) -> LabelledImages:
        index = list(index)
        return LabelledImages(self.images[index], [self.labels[i] for i in index], [self.paths[i] for i in index])


def load_folder(
    folder: str,
    height: int,
    width: int,
    channels: int,
    label_regex: str | None = None,
    ignore_case: bool = False,
) -> tuple[LabelledImages, list[Problem]]:
    """Lists, labels and decodes a folder; bad files come back as problems.

    Raises:
        FileNotFoundError, ValueError: missing folder, no images, none readable.
    """
    samples, problems = list_samples(folder, label_regex, ignore_case)
    images, kept, errors = load_images([s.path for s in samples], height, width, channels)
    problems += [Problem(samples[i].path, reason) for i, reason in errors]
    if not kept:
        raise ValueError(f"{folder}: none of its {len(samples)} labelled images could be read")
    good: list[Sample] = [samples[i] for i in kept]
    return LabelledImages(images, [s.label for s in good], [s.path for s in good]), problems


def split(data: LabelledImages, fraction: float, seed: int) -> tuple[LabelledImages, LabelledImages]:
    """A seeded random split into (train, validation); validation gets `fraction`."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"--val-split {fraction}: must be between 0 and 1")
    if len(data) < 2:
        raise ValueError(f"{len(data)} image(s): too few to split into training and validation")
    order = np.random.default_rng(seed).permutation(len(data))
    n_val = min(max(1, round(len(data) * fraction)), len(data) - 1)
    return data.subset(sorted(order[n_val:])), data.subset(sorted(order[:n_val]))


def make_lookup(vocabulary: Sequence[str]) -> keras.layers.StringLookup:
    """Character → id: characters are 1..V, anything unknown is 0 (the blank)."""
    return keras.layers.StringLookup(vocabulary=list(vocabulary), mask_token=None, num_oov_indices=1)


def check_labels_fit(labels: Sequence[str], paths: Sequence[str], time_steps: int) -> None:
    """CTC needs at least 2·len+1 frames for a label (room for blanks between repeats).

    Raises:
        ValueError: naming the longest label that does not fit.
    """
    limit = (time_steps - 1) // 2
    too_long = [(len(l), p, l) for l, p in zip(labels, paths) if len(l) > limit]
    if too_long:
        length, path, label = max(too_long)
        raise ValueError(
            f"{path}: label {label!r} has {length} characters but the model has {time_steps} time steps, "
            f"enough for {limit} (needs 2·len+1); {len(too_long)} label(s) too long — raise --width"
        )


def augment(images: tf.Tensor, seed: int) -> tf.Tensor:
    """Small random geometry and noise on a (B, H, W, C) uint8 batch → same shape, uint8."""
    x = tf.cast(images, tf.float32)
    x = _geometry(seed)(x, training=True)
    noise_scale = tf.random.uniform((tf.shape(x)[0], 1, 1, 1), 0.0, 8.0)
    x = x + tf.random.normal(tf.shape(x)) * noise_scale
    return tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)


_GEOMETRY: dict[int, keras.Sequential] = {}


def _geometry(seed: int) -> keras.Sequential:
    # Built once per seed: preprocessing layers hold their own seed generators.
    if seed not in _GEOMETRY:
        _GEOMETRY[seed] = keras.Sequential(
            [
                keras.layers.RandomRotation(0.01, fill_mode="nearest", seed=seed),  # about ±3.6°
                keras.layers.RandomTranslation(0.06, 0.03, fill_mode="nearest", seed=seed + 1),
                keras.layers.RandomZoom(0.08, fill_mode="nearest", seed=seed + 2),
            ],
            name="augment",
        )
    return _GEOMETRY[seed]


def make_dataset(
    data: LabelledImages,
    vocabulary: Sequence[str],
    max_label_length: int,
    batch_size: int,
    shuffle: bool = False,
    augment_images: bool = False,
    seed: int = 0,
) -> tf.data.Dataset:
    """Batches of {"image": (B, H, W, C) uint8, "labels": (B, L) int32 padded with 0}."""
    lookup = make_lookup(vocabulary)
    # Shuffle indices, then gather each batch from the one image tensor: a shuffle buffer
    # of images would hold a second copy of the whole set.
    images = tf.convert_to_tensor(data.images)
    labels = tf.constant(data.labels, tf.string)
    ds = tf.data.Dataset.range(len(data))
    if shuffle:
        ds = ds.shuffle(len(data), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(lambda index: (tf.gather(images, index), tf.gather(labels, index)))

    def encode(images, labels):
        chars = tf.strings.unicode_split(labels, "UTF-8")  # ragged (B, None)
        ids = chars.with_flat_values(lookup(chars.flat_values))
        ids = ids.to_tensor(default_value=0, shape=[None, max_label_length])
        if augment_images:
            images = augment(images, seed)
        return {"image": images, "labels": tf.cast(ids, tf.int32)}

    return ds.map(encode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
