"""Training data streamed from a TFDS dataset (`train --tfds DATA_DIR`), never all in memory.

The dataset is one `dataset build` wrote (`crnn_keras.data.tfds_dataset`): images already at
the model's input size, labels as text, and metadata with the vocabulary, the longest label and
the counts, so the model is built before a single image is read. Training reads the shards in
parallel (interleaved), decodes, shuffles through a buffer and prefetches; validation is the
dataset's `validation` split, or a seeded slice of `train` when it has none, and streams too:
only its labels are held in memory.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from crnn_keras.contract import Vocabulary
from crnn_keras.data.pipeline import check_longest_fits, encode_batches, replica_batches
from crnn_keras.data.source import LabelSummary

SHUFFLE_BUFFER = 8192  # decoded 64x160 images: about 80 MB
METADATA = "metadata.json"


def find_dataset_dir(path: str) -> str:
    """The folder holding dataset_info.json: `path` itself, or the one version folder under it
    (`dataset build --out DATA_DIR` writes DATA_DIR/crnn_captchas/default/1.0.0).

    Raises:
        FileNotFoundError: none found. ValueError: several (name the one to use).
    """
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such dataset folder")
    found = sorted(root for root, _, files in os.walk(path) if "dataset_info.json" in files)
    if not found:
        raise FileNotFoundError(f"{path}: no TFDS dataset in it (no dataset_info.json); make one with "
                                "python -m crnn_keras dataset build")
    if len(found) > 1:
        raise ValueError(f"{path}: holds {len(found)} datasets ({', '.join(found[:3])}): give --tfds one of them")
    return found[0]


def read_summary(dataset_dir: str) -> dict:
    """The metadata `dataset build` saved: vocabulary, max_label_length, mean_label_length, counts."""
    try:
        with open(os.path.join(dataset_dir, METADATA), encoding="utf-8") as f:
            summary = json.load(f)
    except (OSError, ValueError):
        summary = None
    if not isinstance(summary, dict) or not {"vocabulary", "max_label_length", "counts"} <= set(summary):
        raise ValueError(f"{dataset_dir}: no crnn_keras metadata (vocabulary, label lengths); build the dataset "
                         "with python -m crnn_keras dataset build") from None
    return summary


def check_stored_size(builder, shape: tuple[int, int, int]) -> None:
    """Raises ValueError unless the dataset's images are stored at the model's (H, W, C)."""
    stored = tuple(builder.info.features["image"].shape)
    if stored != tuple(shape):
        raise ValueError(f"{builder.data_dir}: images are stored at {'x'.join(map(str, stored))}, the model takes "
                         f"{'x'.join(map(str, shape))}: use that --height/--width/--rgb, or rebuild the dataset at "
                         "this size")


class StreamedImages:
    """A streamed split that quacks like `LabelledImages` for validation: labels in memory,
    images read on demand. Examples are named `<split>#<n>` (a dataset has no file paths).
    """

    def __init__(self, builder, split: str, labels: Sequence[str], keep: Sequence[int] | None = None):
        self.builder, self.split = builder, split
        self.keep = list(range(len(labels))) if keep is None else list(keep)
        self._all_labels = list(labels)
        self.labels = [self._all_labels[i] for i in self.keep]
        self.paths = [f"{split}#{i}" for i in self.keep]

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def max_label_length(self) -> int:
        return max(map(len, self.labels))

    @property
    def min_label_length(self) -> int:
        return min(map(len, self.labels))

    @property
    def mean_label_length(self) -> float:
        return sum(map(len, self.labels)) / len(self.labels)

    def subset(self, index: Sequence[int]) -> StreamedImages:
        return StreamedImages(self.builder, self.split, self._all_labels, [self.keep[i] for i in index])

    def pairs(self) -> tf.data.Dataset:
        """(image, label) in a fixed order, only the kept examples."""
        mask = np.zeros(len(self._all_labels), bool)
        mask[self.keep] = True
        mask = tf.constant(mask)
        ds = self.builder.as_dataset(split=self.split, shuffle_files=False)
        return (ds.enumerate().filter(lambda i, example: tf.gather(mask, i))
                .map(lambda i, example: (example["image"], example["label"])))

    @property
    def images(self) -> tf.data.Dataset:
        return self.pairs().map(lambda image, label: image)

    def images_at(self, index: Sequence[int]) -> np.ndarray:
        wanted = {n: k for k, n in enumerate(index)}
        shown: list = [None] * len(index)
        for n, image in enumerate(self.images.as_numpy_iterator()):
            if n in wanted:
                shown[wanted[n]] = image
            if n >= max(wanted, default=-1):
                break
        return np.stack(shown) if shown else np.zeros((0,), np.uint8)


@dataclasses.dataclass
class StreamedData:
    """Training data for the trainer (the `TrainingData` questions), streamed from TFDS."""

    builder: object
    train_split: str
    train: LabelSummary
    val: StreamedImages

    def vocabulary(self) -> Vocabulary:
        return Vocabulary(tuple(self.train.characters))

    @property
    def max_label_length(self) -> int:
        return max(self.train.max_label_length, self.val.max_label_length)

    @property
    def label_lengths(self) -> tuple[int, int]:
        """(shortest, longest) label of training and validation: the lengths the reader's decoder allows."""
        return min(self.train.min_label_length, self.val.min_label_length), self.max_label_length

    def check_fit(self, time_steps: int) -> None:
        check_longest_fits(self.max_label_length, time_steps, str(self.builder.data_dir),
                           "raise --width (and rebuild the dataset at that width)")

    def unfit(self, vocabulary: Vocabulary, max_label_length: int) -> list[str]:
        fits = vocabulary.can_spell(self.train.characters) and self.train.max_label_length <= max_label_length
        return [] if fits else [str(self.builder.data_dir)]

    def calibration_sample(self, count: int, seed: int) -> np.ndarray:
        ds = self.builder.as_dataset(split=self.train_split, shuffle_files=True,
                                     read_config=tfds.ReadConfig(shuffle_seed=seed))
        return np.stack([example["image"] for example in tfds.as_numpy(ds.take(count))])

    def datasets(self, vocabulary: Vocabulary, max_label_length: int, batch_size: int, augment: bool, seed: int,
                 replicas: int = 1):
        """(training, validation) tf.data pipelines of {"image", "labels"} batches; with several
        replicas every batch divides evenly over them."""
        read = tfds.ReadConfig(shuffle_seed=seed, interleave_cycle_length=tf.data.AUTOTUNE,
                               num_parallel_calls_for_interleave_files=tf.data.AUTOTUNE)
        train = self.builder.as_dataset(split=self.train_split, shuffle_files=True, read_config=read)
        train = (train.map(lambda example: (example["image"], example["label"]), num_parallel_calls=tf.data.AUTOTUNE)
                 .shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True))
        train = train.batch(*replica_batches(batch_size, len(self.train), replicas))
        val = self.val.pairs().batch(*replica_batches(batch_size, len(self.val), replicas))
        return (encode_batches(train, vocabulary, max_label_length, augment, seed),
                encode_batches(val, vocabulary, max_label_length))


@dataclasses.dataclass(frozen=True)
class TfdsSource:
    """A dataset `dataset build` wrote; validation is its `validation` split, else a seeded
    `val_split` slice of `train`."""

    path: str
    val_split: float = 0.1
    seed: int = 0

    def builder(self):
        return tfds.builder_from_directory(find_dataset_dir(self.path))

    def index(self) -> dict[str, list[list]]:
        """The dataset's fingerprint for --resume: its version and split sizes."""
        builder = self.builder()
        return {"TFDS dataset": [["version", str(builder.version)]] +
                [[f"{name} examples", split.num_examples] for name, split in sorted(builder.info.splits.items())]}

    def channels(self) -> int:
        """The channels the dataset's images were stored with."""
        return int(self.builder().info.features["image"].shape[-1])

    def load(self, height: int, width: int, channels: int) -> StreamedData:
        builder = self.builder()
        summary = read_summary(builder.data_dir)
        check_stored_size(builder, (height, width, channels))
        train_split, val_split = self.splits(builder.info.splits["train"].num_examples, builder.info.splits)
        labels = [label.decode("utf-8") for label in tfds.as_numpy(builder.as_dataset(
            split=val_split, shuffle_files=False, decoders={"image": tfds.decode.SkipDecoding()}).map(
            lambda example: example["label"]))]
        count = builder.info.splits[train_split].num_examples
        train = LabelSummary(count, summary["vocabulary"], summary["max_label_length"],
                             float(summary.get("mean_label_length") or summary["max_label_length"]),
                             _min_length(summary))
        return StreamedData(builder, train_split, train, StreamedImages(builder, val_split, labels))

    def splits(self, train_count: int, splits) -> tuple[str, str]:
        """(training split, validation split) names in TFDS' slicing syntax."""
        if "validation" in splits:
            return "train", "validation"
        if train_count < 2:
            raise ValueError(f"{self.path}: {train_count} training example(s): too few to split off validation")
        held = min(max(1, round(train_count * self.val_split)), train_count - 1)
        start = (self.seed * held) % (train_count - held + 1)
        end = start + held
        rest = "+".join(([f"train[:{start}]"] if start else []) + ([f"train[{end}:]"] if end < train_count else []))
        return rest, f"train[{start}:{end}]"


def _min_length(summary: dict) -> int:
    """The shortest label `dataset build` saw; 1 (no bound) for datasets built before it was kept."""
    value = summary.get("min_label_length")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else 1
