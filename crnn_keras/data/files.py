"""Finding labelled images on disk: folders → (path, label) pairs.

The label of an image is its file name without the extension, or the first
capture group of a user's `--label-regex` applied to that name. Nothing here
imports TensorFlow, so the TFLite reading path stays light.
"""

from __future__ import annotations

import dataclasses
import os
import re
import unicodedata
from collections.abc import Iterable

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


@dataclasses.dataclass(frozen=True)
class Sample:
    """One labelled image: where it is and the text it shows."""

    path: str
    label: str


@dataclasses.dataclass(frozen=True)
class Problem:
    """A file that was passed over, and why (one line for the user)."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def compile_label_regex(pattern: str | None) -> re.Pattern | None:
    """Checks a `--label-regex` early: it must compile and capture a group."""
    if pattern is None:
        return None
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise ValueError(f"--label-regex {pattern!r} is not a valid regular expression: {error}") from None
    if regex.groups < 1:
        raise ValueError(f"--label-regex {pattern!r} has no capture group: wrap the label part in (...)")
    return regex


def label_from_name(
    path: str, regex: re.Pattern | None = None, ignore_case: bool = False
) -> str:
    """The label a file name stands for.

    Args:
        path: the image's path; only its base name counts.
        regex: searched in the name without its extension; group 1 is the label.
        ignore_case: fold the label to lower case.

    Raises:
        ValueError: the name does not match, or leaves no usable character.
    """
    name = os.path.basename(path)
    # ".png" is an image with no name, not a hidden file named ".png".
    stem = "" if name.lower() in IMAGE_EXTENSIONS else os.path.splitext(name)[0]
    # macOS stores names decomposed (NFD): Hangul would split into jamo.
    stem = unicodedata.normalize("NFC", stem)
    if regex is not None:
        match = regex.search(stem)
        if match is None:
            raise ValueError(f"name {stem!r} does not match --label-regex {regex.pattern!r}")
        label = match.group(1) or ""
    else:
        label = stem
    if ignore_case:
        label = label.lower()
    if not label.strip() or not any(ch.isprintable() for ch in label):
        raise ValueError(f"name {stem!r} gives an empty label (no usable characters)")
    return label


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def list_image_files(paths: Iterable[str]) -> tuple[list[str], list[Problem]]:
    """Expands files and folders (one level, sorted) into image paths.

    Raises:
        FileNotFoundError: a path does not exist.
        ValueError: no image file is found at all.
    """
    files: list[str] = []
    problems: list[Problem] = []
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such file or folder")
        if os.path.isdir(path):
            for entry in sorted(os.scandir(path), key=lambda e: e.name):
                if not is_image_name(entry.name):
                    continue
                if entry.is_dir():
                    problems.append(Problem(entry.path, "is a folder, not an image"))
                else:
                    files.append(entry.path)
        else:
            files.append(path)
    if not files:
        raise ValueError(
            f"{', '.join(paths)}: no image files found "
            f"(looked for {', '.join(IMAGE_EXTENSIONS)})"
        )
    return files, problems


def list_samples(
    folder: str, label_regex: str | None = None, ignore_case: bool = False
) -> tuple[list[Sample], list[Problem]]:
    """Labelled images in a folder, with the files that could not be labelled."""
    if not os.path.isdir(folder):
        if os.path.exists(folder):
            raise ValueError(f"{folder}: is a file; give the folder that holds the images")
        raise FileNotFoundError(f"{folder}: no such folder")
    regex = compile_label_regex(label_regex)
    files, problems = list_image_files([folder])
    samples = []
    for path in files:
        try:
            samples.append(Sample(path, label_from_name(path, regex, ignore_case)))
        except ValueError as error:
            problems.append(Problem(path, str(error)))
    if not samples:
        raise ValueError(f"{folder}: none of its {len(files)} image files has a usable label")
    return samples, problems
