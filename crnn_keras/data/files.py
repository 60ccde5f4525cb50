"""Finding labelled images on disk: folders → (path, label) pairs.

The label of an image is its file name without the extension, or the first
capture group of a user's `--label-regex` applied to that name. Only regular
files are read: a FIFO or device named like an image is passed over, and a
symlink loop is a skipped file, not a crash. Nothing here imports TensorFlow,
so the TFLite reading path stays light.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import unicodedata
from collections.abc import Iterable

import regex

from crnn_keras.contract import ModelError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
# A label regex runs on every file name; a pattern that backtracks without end must not hang a run.
REGEX_SECONDS = 1.0


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
        return f"{printable_path(self.path)}: {self.reason}"


class LabelRegexError(ValueError):
    """The --label-regex itself is unusable: stops the run rather than skipping a file."""


def printable_path(path: str) -> str:
    """A path as one line of text: undecodable bytes as \\xNN, control characters escaped."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in text)


def compile_label_regex(pattern: str | None) -> regex.Pattern | None:
    """Checks a `--label-regex` early: it must compile and capture a group."""
    if pattern is None:
        return None
    try:
        compiled = regex.compile(pattern)
    except (regex.error, ValueError, OverflowError) as error:
        raise LabelRegexError(f"--label-regex {pattern!r} is not a valid regular expression: {error}") from None
    if compiled.groups < 1:
        raise LabelRegexError(f"--label-regex {pattern!r} has no capture group: wrap the label part in (...)")
    return compiled


def _search(compiled: regex.Pattern, stem: str):
    try:
        return compiled.search(stem, timeout=REGEX_SECONDS)
    except TimeoutError:
        raise LabelRegexError(
            f"--label-regex {compiled.pattern!r} took over {REGEX_SECONDS:g} s on the name {stem!r}: "
            "simplify the pattern (nested repeats such as (a+)+ backtrack without end)") from None


def label_from_name(path: str, compiled: regex.Pattern | None = None, ignore_case: bool = False) -> str:
    """The label a file name stands for.

    Args:
        path: the image's path; only its base name counts.
        compiled: searched in the name without its extension; group 1 is the label.
        ignore_case: fold the label to lower case.

    Raises:
        ValueError: the name does not match, is not UTF-8, or leaves no usable label.
        LabelRegexError: the regex took too long.
    """
    name = os.path.basename(path)
    # ".png" is an image with no name, not a hidden file named ".png".
    stem = "" if name.lower() in IMAGE_EXTENSIONS else os.path.splitext(name)[0]
    if any("\udc80" <= ch <= "\udcff" for ch in stem):
        raise ValueError("name is not valid UTF-8, so it cannot be a label (rename the file)")
    # macOS stores names decomposed (NFD): Hangul would split into jamo.
    stem = unicodedata.normalize("NFC", stem)
    if compiled is not None:
        match = _search(compiled, stem)
        if match is None:
            raise ValueError(f"name {stem!r} does not match --label-regex {compiled.pattern!r}")
        label = match.group(1) or ""
    else:
        label = stem
    if ignore_case:
        label = label.lower()
    if any(unicodedata.category(ch) == "Cc" for ch in label):
        raise ValueError(f"name {stem!r} has a control character in its label (a tab or line break cannot be read)")
    if not label.strip() or not any(ch.isprintable() for ch in label):
        raise ValueError(f"name {stem!r} gives an empty label (no usable characters)")
    return label


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def regular_file_problem(path: str) -> str | None:
    """None for a readable regular file (symlinks followed), else why it is passed over."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file or folder" if not os.path.islink(path) else "a symlink to nothing"
    except OSError as error:  # a symlink loop (ELOOP), a name too long, …
        return f"cannot be read ({error.strerror or error})"
    if stat.S_ISDIR(mode):
        return "is a folder, not an image"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a FIFO, socket or device), so it is not read"
    return None


def check_model_file(path: str) -> None:
    """Refuses a model path that is missing or not a regular file, before anything opens it.

    Raises:
        ModelError: one line naming the path.
    """
    problem = regular_file_problem(path)
    if problem:
        reason = "no such model file" if "no such" in problem else problem.replace("an image", "a model file")
        raise ModelError(f"{path}: {reason}")


MAX_MODEL_BYTES = 2**31  # the most a FlatBuffer (TFLite) or a protobuf (ONNX) can address


def read_model_file(path: str) -> bytes:
    """The bytes of an exported model file, after `check_model_file`.

    Raises:
        ModelError: one line naming the path (missing, not a regular file, over 2 GiB, unreadable).
    """
    check_model_file(path)
    try:
        with open(path, "rb") as file:
            if os.fstat(file.fileno()).st_size > MAX_MODEL_BYTES:
                raise ModelError(f"{path}: over 2 GiB, larger than any TFLite or ONNX model can be")
            return file.read()
    except OSError as error:
        raise ModelError(f"{path}: cannot read this model file ({error.strerror or error})") from None


def _folder_images(folder: str, files: list[str], problems: list[Problem]) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as error:
        problems.append(Problem(folder, f"cannot list this folder ({error.strerror or error})"))
        return
    for entry in entries:
        if not is_image_name(entry.name):
            continue
        problem = regular_file_problem(entry.path)
        if problem:
            problems.append(Problem(entry.path, problem))
        else:
            files.append(entry.path)


def list_image_files(paths: Iterable[str]) -> tuple[list[str], list[Problem]]:
    """Expands files and folders (one level, sorted) into image paths; a path that is
    missing or not a regular file is a problem, and the rest are still listed.

    Raises:
        ValueError: no image file is found at all.
    """
    paths = list(paths)
    files: list[str] = []
    problems: list[Problem] = []
    for path in paths:
        if os.path.isdir(path):
            _folder_images(path, files, problems)
            continue
        problem = regular_file_problem(path)
        if problem:
            problems.append(Problem(path, problem))
        else:
            files.append(path)
    if not files:
        found = "; ".join(str(p) for p in problems[:3])
        raise ValueError(f"{', '.join(printable_path(p) for p in paths)}: no image files found "
                         f"(looked for {', '.join(IMAGE_EXTENSIONS)})" + (f" — {found}" if found else ""))
    return files, problems


def list_samples(
    folder: str, label_regex: str | None = None, ignore_case: bool = False
) -> tuple[list[Sample], list[Problem]]:
    """Labelled images in a folder, with the files that could not be labelled."""
    if not os.path.isdir(folder):
        if os.path.exists(folder):
            raise ValueError(f"{folder}: is a file; give the folder that holds the images")
        raise FileNotFoundError(f"{folder}: no such folder")
    compiled = compile_label_regex(label_regex)
    files, problems = list_image_files([folder])
    samples = []
    for path in files:
        try:
            samples.append(Sample(path, label_from_name(path, compiled, ignore_case)))
        except LabelRegexError:
            raise
        except ValueError as error:
            problems.append(Problem(path, str(error)))
    if not samples:
        raise ValueError(f"{folder}: none of its {len(files)} image files has a usable label")
    return samples, problems
