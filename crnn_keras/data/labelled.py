"""Labelled images in memory: decoding a folder, splitting it, and what is passed over."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence

import numpy as np

from crnn_keras.contract import Vocabulary
from crnn_keras.data.files import Problem, Sample, list_samples
from crnn_keras.data.images import load_images


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

    @property
    def max_label_length(self) -> int:
        return max(len(label) for label in self.labels)

    @property
    def min_label_length(self) -> int:
        return min(len(label) for label in self.labels)

    def images_at(self, index: Sequence[int]) -> np.ndarray:
        return self.images[list(index)]

    @property
    def mean_label_length(self) -> float:
        return sum(map(len, self.labels)) / len(self.labels)


def load_folder(folder: str, height: int, width: int, channels: int, label_regex: str | None = None,
                ignore_case: bool = False) -> tuple[LabelledImages, list[Problem]]:
    """Lists, labels and decodes a folder; bad files come back as problems.

    Raises:
        FileNotFoundError, ValueError: missing folder, no images, none readable.
    """
    samples, problems = list_samples(folder, label_regex, ignore_case)
    return load_samples(folder, samples, problems, height, width, channels)


def load_samples(what: str, samples: list[Sample], problems: list[Problem], height: int, width: int,
                 channels: int) -> tuple[LabelledImages, list[Problem]]:
    """Decodes listed samples; files that cannot be read join `problems`."""
    images, kept, errors = load_images([s.path for s in samples], height, width, channels)
    problems = problems + [Problem(samples[i].path, reason) for i, reason in errors]
    if not kept:
        raise ValueError(f"{what}: none of its {len(samples)} labelled images could be read")
    good = [samples[i] for i in kept]
    return LabelledImages(images, [s.label for s in good], [s.path for s in good]), problems


def split(data: LabelledImages, fraction: float, seed: int) -> tuple[LabelledImages, LabelledImages]:
    """A seeded random split into (train, validation); validation gets `fraction`."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"--val-split: expected a fraction between 0 and 1, received {fraction}")
    if len(data) < 2:
        raise ValueError(f"{len(data)} image(s): too few to split into training and validation")
    order = np.random.default_rng(seed).permutation(len(data))
    n_val = min(max(1, round(len(data) * fraction)), len(data) - 1)
    return data.subset(sorted(order[n_val:])), data.subset(sorted(order[:n_val]))


def report_problems(problems: list[Problem], what: str, shown: int = 20) -> None:
    """One `skipped:` line per problem (the first `shown`), then a count."""
    for problem in problems[:shown]:
        print(f"skipped: {problem}", file=sys.stderr)
    if len(problems) > shown:
        print(f"skipped: … and {len(problems) - shown} more", file=sys.stderr)
    if problems:
        print(f"{what}: skipped {len(problems)} file(s)", file=sys.stderr)


def drop_unspellable(val: LabelledImages, vocabulary: Vocabulary) -> LabelledImages:
    """Validation images whose labels the vocabulary can spell; a warning names the others."""
    keep = [i for i, label in enumerate(val.labels) if vocabulary.can_spell(label)]
    if len(keep) < len(val):
        bad = [p for p, label in zip(val.paths, val.labels) if not vocabulary.can_spell(label)]
        print(f"warning: {len(bad)} validation image(s) have characters missing from the training "
              f"vocabulary and are left out of validation, e.g. {bad[0]}", file=sys.stderr)
    if not keep:
        raise ValueError("no validation image has a label the training vocabulary can spell")
    return val.subset(keep)
