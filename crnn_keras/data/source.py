"""Where training data comes from: the seam between the trainer and its data.

A data source turns options into a `TrainingData`: training and validation images with their
labels, and the tf.data pipelines over them. The labelled folder decoded into memory is
`FolderSource`; a TFDS dataset (`streamed.TfdsSource`) and fresh synthetic captchas
(`generated.GeneratedSource`) answer the same questions without holding the training images.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os

import numpy as np

from crnn_keras.contract import Vocabulary
from crnn_keras.data.files import list_image_files, printable_path
from crnn_keras.data.images import channels_for
from crnn_keras.data.labelled import LabelledImages, load_folder, load_samples, report_problems, split
from crnn_keras.data.manifest import list_labelled, read_manifest
from crnn_keras.data.pipeline import check_labels_fit, make_dataset, replica_batches


@dataclasses.dataclass
class TrainingData:
    """Training and validation sets, ready for a model of a given input shape."""

    train: LabelledImages
    val: LabelledImages

    def vocabulary(self) -> Vocabulary:
        return Vocabulary.from_labels(self.train.labels)

    @property
    def max_label_length(self) -> int:
        return max(self.train.max_label_length, self.val.max_label_length)

    @property
    def label_lengths(self) -> tuple[int, int]:
        """(shortest, longest) label of training and validation: the lengths the reader's decoder allows."""
        return min(self.train.min_label_length, self.val.min_label_length), self.max_label_length

    def check_fit(self, time_steps: int) -> None:
        """Raises ValueError naming a label too long for `time_steps` (CTC needs 2·len+1)."""
        check_labels_fit(self.train.labels, self.train.paths, time_steps)
        check_labels_fit(self.val.labels, self.val.paths, time_steps)

    def unfit(self, vocabulary: Vocabulary, max_label_length: int) -> list[str]:
        """Training images whose labels a model of this vocabulary and label length cannot learn."""
        return [p for p, t in zip(self.train.paths, self.train.labels)
                if not vocabulary.can_spell(t) or len(t) > max_label_length]

    def calibration_sample(self, count: int, seed: int) -> np.ndarray:
        """Up to `count` training images, a seeded sample in file order (int8 calibration)."""
        rng = np.random.default_rng(seed)
        sample = rng.choice(len(self.train), min(count, len(self.train)), replace=False)
        return self.train.images[np.sort(sample)]

    def datasets(self, vocabulary: Vocabulary, max_label_length: int, batch_size: int, augment: bool, seed: int,
                 replicas: int = 1):
        """(training, validation) tf.data pipelines of {"image", "labels"} batches; with several
        replicas every batch divides evenly over them."""
        batch, drop = replica_batches(batch_size, len(self.train), replicas)
        train = make_dataset(self.train, vocabulary, max_label_length, batch, shuffle=True,
                             augment_images=augment, seed=seed, drop_remainder=drop)
        batch, drop = replica_batches(batch_size, len(self.val), replicas)
        return train, make_dataset(self.val, vocabulary, max_label_length, batch, drop_remainder=drop)


@dataclasses.dataclass(frozen=True)
class LabelSummary:
    """What the trainer needs to know of a training set it never holds in memory (streamed or drawn)."""

    count: int
    characters: str
    max_label_length: int
    mean_label_length: float
    min_label_length: int = 1

    def __len__(self) -> int:
        return self.count


@dataclasses.dataclass(frozen=True)
class FolderSource:
    """A folder of images named by their labels, or the images a labels file lists (`labels`,
    `crnn_keras.data.manifest`), decoded into memory.

    Validation comes from `val_data` when given, else a seeded `val_split` of the training data.
    """

    data: str
    val_data: str | None = None
    val_split: float = 0.1
    seed: int = 0
    label_regex: str | None = None
    ignore_case: bool = False
    labels: str | None = None

    def index(self) -> dict[str, list[list]]:
        """The image files this source reads, by part: [name relative to its folder, size in bytes].

        Names and sizes, not contents: cheap for any folder size, and enough to tell that files
        were added, removed or replaced since a run started.
        """
        index = {"training data": _manifest_index(self.labels) if self.labels else _file_index(self.data)}
        if self.val_data:
            index["validation data"] = _file_index(self.val_data)
        return index

    def channels(self) -> int:
        """3 when the training images are coloured, else 1 (`images.channels_for`)."""
        samples, _ = list_labelled(self.data, self.labels, self.label_regex, self.ignore_case)
        return channels_for([s.path for s in samples])

    def load(self, height: int, width: int, channels: int) -> TrainingData:
        """Decodes the images at the model's input size; one `skipped:` line per bad file."""
        options = dict(height=height, width=width, channels=channels, label_regex=self.label_regex,
                       ignore_case=self.ignore_case)
        source = self.labels or self.data
        samples, problems = list_labelled(self.data, self.labels, self.label_regex, self.ignore_case)
        data, problems = load_samples(source, samples, problems, height, width, channels)
        report_problems(problems, source)
        if not self.val_data:
            return TrainingData(*split(data, self.val_split, self.seed))
        val, val_problems = load_folder(self.val_data, **options)
        report_problems(val_problems, self.val_data)
        return TrainingData(data, val)


def _manifest_index(manifest: str) -> list[list]:
    """The labels file itself (its labels may change) and the files it lists."""
    samples, _ = read_manifest(manifest)
    root = os.path.dirname(os.path.abspath(manifest))
    index = [[os.path.basename(manifest), os.stat(manifest).st_size]]
    for sample in samples:
        with contextlib.suppress(OSError):
            index.append([printable_path(os.path.relpath(sample.path, root)), os.stat(sample.path).st_size])
    return index


def _file_index(folder: str) -> list[list]:
    files, _ = list_image_files([folder])
    index = []
    for path in files:
        with contextlib.suppress(OSError):
            index.append([printable_path(os.path.relpath(path, folder)), os.stat(path).st_size])
    return index
