"""Labelled images → `tf.data` batches for the trainer.

Labels become ids through a `StringLookup` built on the vocabulary: with `mask_token=None`
and one OOV index, the OOV slot is index 0, which is also the CTC blank, and characters are
1..V — the id layout of `crnn_keras.contract.Vocabulary`.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from crnn_keras.contract import BLANK_INDEX, Vocabulary
from crnn_keras.data.labelled import LabelledImages


def make_lookup(vocabulary: Vocabulary) -> keras.layers.StringLookup:
    """Character → id as `Vocabulary.encode` numbers them: 1..V, anything unknown 0 (the blank)."""
    return keras.layers.StringLookup(vocabulary=list(vocabulary.characters), mask_token=None, num_oov_indices=1)


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


def check_longest_fits(longest: int, time_steps: int, what: str, hint: str = "raise --width") -> None:
    """`check_labels_fit` for data known only by its longest label (streamed or drawn).

    Raises:
        ValueError: "<what>: labels of up to N characters, but the model has T time steps …".
    """
    limit = (time_steps - 1) // 2
    if longest > limit:
        raise ValueError(f"{what}: labels of up to {longest} characters, but the model has {time_steps} time steps, "
                         f"enough for {limit} (needs 2·len+1) — {hint}")


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
    vocabulary: Vocabulary,
    max_label_length: int,
    batch_size: int,
    shuffle: bool = False,
    augment_images: bool = False,
    seed: int = 0,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Batches of {"image": (B, H, W, C) uint8, "labels": (B, L) int32 padded with the blank};
    `drop_remainder` drops a last, smaller batch (replicas then get equal batches)."""
    # Shuffle indices, then gather each batch from the one image tensor: a shuffle buffer
    # of images would hold a second copy of the whole set.
    images = tf.convert_to_tensor(data.images)
    labels = tf.constant(data.labels, tf.string)
    ds = tf.data.Dataset.range(len(data))
    if shuffle:
        ds = ds.shuffle(len(data), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder).map(
        lambda index: (tf.gather(images, index), tf.gather(labels, index)))
    return encode_batches(ds, vocabulary, max_label_length, augment_images, seed)


def replica_batches(batch_size: int, count: int, replicas: int) -> tuple[int, bool]:
    """(batch size, drop_remainder) for a set of `count` images over `replicas` devices: every
    batch divides evenly, and a set smaller than one batch still gives one (for validation).

    >>> replica_batches(32, 1000, 2), replica_batches(32, 21, 2), replica_batches(32, 21, 1)
    ((32, True), (20, True), (32, False))
    """
    if replicas == 1:
        return batch_size, False
    return min(batch_size, max(replicas, count // replicas * replicas)), True


def encode_batches(batches: tf.data.Dataset, vocabulary: Vocabulary, max_label_length: int,
                   augment_images: bool = False, seed: int = 0) -> tf.data.Dataset:
    """(images (B, H, W, C) uint8, labels (B,) string) batches → the trainer's
    {"image", "labels": (B, max_label_length) int32 padded with the blank}, prefetched."""
    lookup = make_lookup(vocabulary)

    def encode(images, labels):
        chars = tf.strings.unicode_split(labels, "UTF-8")  # ragged (B, None)
        ids = chars.with_flat_values(lookup(chars.flat_values))
        ids = ids.to_tensor(default_value=BLANK_INDEX, shape=[None, max_label_length])
        if augment_images:
            images = augment(images, seed)
        return {"image": images, "labels": tf.cast(ids, tf.int32)}

    batches = batches.map(encode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    return batches.with_options(without_autotune_model())


def image_batches(images, batch_size: int) -> tf.data.Dataset:
    """(N, H, W, C) images (an array, or a tf.data.Dataset of single images) → batches for
    `model.predict`, without the stall a NumPy array brings (Keras builds an autotuned pipeline).

    >>> model.predict(image_batches(images, 64), verbose=0)["text"]  # doctest: +SKIP
    """
    ds = images if isinstance(images, tf.data.Dataset) else tf.data.Dataset.from_tensor_slices(images)
    return ds.batch(batch_size).prefetch(1).with_options(without_autotune_model())


def without_autotune_model() -> tf.data.Options:
    """Options turning off tf.data's autotuning model, which stalls every epoch's end.

    Destroying an iterator (Keras makes one per epoch and per validation) waits for the model's
    optimizer thread to finish sleeping, up to its whole period: up to 18 s per epoch of idle
    cores were measured, and a third of a 1,024-image `predict` (bench/NOTES.md, session 9).
    AUTOTUNE values then fall back to
    tf.data's defaults: parallel calls = the cores, a prefetch buffer that grows when it runs dry.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return options
