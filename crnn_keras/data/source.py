"""Where training data comes from: the seam between the trainer and its data.

A data source turns options into a `TrainingData`: training and validation images with their
labels, and the tf.data pipelines over them. Today's one source is a labelled folder decoded
into memory (`FolderSource`); a streamed source only has to answer the same questions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os

import numpy as np

from crnn_keras.contract import Vocabulary
from crnn_keras.data.files import list_image_files, printable_path
from crnn_keras.data.labelled import LabelledImages, load_folder, report_problems, split
from crnn_keras.data.pipeline import make_dataset


@dataclasses.dataclass
class TrainingData:
    """Training and validation sets, ready for a model of a given input shape."""

    train: LabelledImages
    val: LabelledImages

    def vocabulary(self) -> Vocabulary:
        return Vocabulary.from_labels(self.train.labels)

    def calibration_sample(self, count: int, seed: int) -> np.ndarray:
        """Up to `count` training images, a seeded sample in file order (int8 calibration)."""
        rng = np.random.default_rng(seed)
        sample = rng.choice(len(self.train), min(count, len(self.train)), replace=False)
        return self.train.images[np.sort(sample)]

    def datasets(self, vocabulary: Vocabulary, max_label_length: int, batch_size: int, augment: bool, seed: int):
        """(training, validation) tf.data pipelines of {"image", "labels"} batches."""
        train = make_dataset(self.train, vocabulary, max_label_length, batch_size, shuffle=True,
                             augment_images=augment, seed=seed)
        return train, make_dataset(self.val, vocabulary, max_label_length, batch_size)


@dataclasses.dataclass(frozen=True)
class FolderSource:
    """A folder of images named by their labels, decoded into memory.

    Validation comes from `val_data` when given, else a seeded `val_split` of `data`.
    """

    data: str
    val_data: str | None = None
    val_split: float = 0.1
    seed: int = 0
    label_regex: str | None = None
    ignore_case: bool = False

    def index(self) -> dict[str, list[list]]:
        """The image files this source reads, by part: [name relative to its folder, size in bytes].

        Names and sizes, not contents: cheap for any folder size, and enough to tell that files
        were added, removed or replaced since a run started.
        """
        parts = {"training data": self.data, **({"validation data": self.val_data} if self.val_data else {})}
        return {part: _file_index(folder) for part, folder in parts.items()}

    def load(self, height: int, width: int, channels: int) -> TrainingData:
        """Decodes the images at the model's input size; one `skipped:` line per bad file."""
        options = dict(height=height, width=width, channels=channels, label_regex=self.label_regex,
                       ignore_case=self.ignore_case)
        data, problems = load_folder(self.data, **options)
        report_problems(problems, self.data)
        if not self.val_data:
            return TrainingData(*split(data, self.val_split, self.seed))
        val, val_problems = load_folder(self.val_data, **options)
        report_problems(val_problems, self.val_data)
        return TrainingData(data, val)


def _file_index(folder: str) -> list[list]:
    files, _ = list_image_files([folder])
    index = []
    for path in files:
        with contextlib.suppress(OSError):
            index.append([printable_path(os.path.relpath(path, folder)), os.stat(path).st_size])
    return index
