"""A run folder: every file one training run writes, their formats, and how they are written.

    model.keras       the reader at its best validation epoch (batch norm folded in at the end)
    run.json          RunInfo: what was trained, on what, with which options, by which version
    history.csv       loss, val_loss, val_accuracy, val_cer, elapsed_s per epoch
    curves.png        the history, drawn
    predictions.png   validation images with their readings
    checkpoint.keras  the trainer and its optimizer after the last epoch (for --resume)
    state.json        ResumeState: epoch counter and best epoch so far (for --resume)
    calibration.npy   a sample of training images (int8 TFLite calibration)
    data.json         the training data's file names and sizes (a resume refuses changed data)
    train.lock        while a process trains here: its pid (two trainings never share a folder)

Every write goes to a temporary file first and is renamed into place, so a kill leaves the
previous version of a file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence

import numpy as np

from crnn_keras import atomic, serialization
from crnn_keras.contract import Vocabulary
from crnn_keras.model.config import ModelConfig
from crnn_keras.train.config import TrainConfig
from crnn_keras.version import __version__

# 1: version 0.1 (no "format" key). 2: "version" and "format" recorded; state.json has no "wait".
RUN_FORMAT = 2


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """The contents of run.json."""

    model: ModelConfig
    train: TrainConfig
    vocabulary: Vocabulary
    max_label_length: int
    train_images: int
    val_images: int
    keras: str
    version: str = __version__
    format: int = RUN_FORMAT

    def to_dict(self) -> dict:
        return {"format": self.format, "version": self.version, "model": self.model.to_dict(),
                "train": self.train.to_dict(), "vocabulary": list(self.vocabulary.characters),
                "max_label_length": self.max_label_length, "train_images": self.train_images,
                "val_images": self.val_images, "keras": self.keras}

    @classmethod
    def from_dict(cls, data: Mapping, where: str = "run.json") -> RunInfo:
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: expected a JSON object, received {type(data).__name__}")
        data = dict(data)
        data.setdefault("format", 1)
        data.setdefault("version", "0.1.0")
        if not isinstance(data["format"], int) or data["format"] > RUN_FORMAT:
            raise ValueError(f"{where}: run-folder format {data['format']!r} is newer than this version "
                             f"reads ({RUN_FORMAT}): upgrade crnn_keras")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown, missing = sorted(set(data) - known), sorted(known - set(data))
        if unknown or missing:
            raise ValueError(f"{where}: " + (f"unknown key {unknown[0]!r}" if unknown else f"missing key {missing[0]!r}"))
        if not isinstance(data["vocabulary"], list):
            raise ValueError(f"{where}: vocabulary expected a list of characters, received {data['vocabulary']!r}")
        plain = serialization.from_dict(_Plain, {k: v for k, v in data.items() if k in _PLAIN_KEYS}, where)
        return cls(model=ModelConfig.from_dict(data["model"]), train=TrainConfig.from_dict(data["train"]),
                   vocabulary=Vocabulary(tuple(data["vocabulary"])), **dataclasses.asdict(plain))


@dataclasses.dataclass(frozen=True)
class _Plain:
    """The scalar part of run.json, checked field by field."""

    max_label_length: int
    train_images: int
    val_images: int
    keras: str
    version: str
    format: int


_PLAIN_KEYS = {f.name for f in dataclasses.fields(_Plain)}


@dataclasses.dataclass(frozen=True)
class ResumeState:
    """The contents of state.json: where an interrupted run stands.

    `epoch` epochs are done; `best_epoch` (1-based, 0 = none yet) is the kept one (model.keras,
    `BestReader`), with validation loss `best_loss`; `best_accuracy` is the best validation
    accuracy so far; `elapsed_s` seconds of training so far.
    """

    epoch: int = 0
    best_accuracy: float = -1.0
    best_loss: float = math.inf
    best_epoch: int = 0
    elapsed_s: float = 0.0

    @classmethod
    def from_dict(cls, data: Mapping, where: str = "state.json") -> ResumeState:
        if isinstance(data, Mapping):
            data = {k: v for k, v in data.items() if k != "wait"}  # format 1: now derived from best_epoch
        state = serialization.from_dict(cls, data, where)
        if not 0 <= state.best_epoch <= state.epoch:
            raise ValueError(f"{where}: best_epoch expected 0..{state.epoch}, received {state.best_epoch}")
        return state


class RunFolder:
    """Owns the files of one run folder (see the module docstring)."""

    MODEL, INFO, HISTORY = "model.keras", "run.json", "history.csv"
    CURVES, PREDICTIONS = "curves.png", "predictions.png"
    CHECKPOINT, STATE, CALIBRATION = "checkpoint.keras", "state.json", "calibration.npy"
    DATA_INDEX, LOCK = "data.json", "train.lock"
    FILES = (MODEL, INFO, HISTORY, CURVES, PREDICTIONS, CHECKPOINT, STATE, CALIBRATION, DATA_INDEX)

    def __init__(self, path: str):
        self.path = os.fspath(path)

    @classmethod
    def of_model(cls, model_path: str) -> RunFolder:
        """The folder a model file lies in (its calibration sample may lie beside it)."""
        return cls(os.path.dirname(os.path.abspath(model_path)))

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def check_not_a_file(self) -> None:
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise ValueError(f"{self.path}: is a file; the run folder must be a folder")

    def create(self) -> None:
        self.check_not_a_file()
        os.makedirs(self.path, exist_ok=True)

    def can_resume(self) -> bool:
        return all(os.path.exists(self.file(n)) for n in (self.INFO, self.CHECKPOINT, self.STATE))

    def holds_run(self) -> bool:
        return any(os.path.exists(self.file(n)) for n in (self.INFO, self.MODEL, self.CHECKPOINT))

    def clear(self) -> None:
        """Removes the files a run writes (`--overwrite`); anything else in the folder stays."""
        for name in self.FILES:
            if os.path.lexists(self.file(name)):
                os.remove(self.file(name))

    def remove_if_empty(self) -> None:
        """A start that failed before writing anything leaves no empty folder behind."""
        with contextlib.suppress(OSError):
            os.rmdir(self.path)

    @contextlib.contextmanager
    def lock(self):
        """Holds train.lock (this process's pid) for the block.

        Raises:
            ValueError: another living process holds it. A lock whose process is gone is
            reported and taken over.
        """
        path = self.file(self.LOCK)
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                break
            except FileExistsError:
                owner = _lock_owner(path)
                if owner is not None and _alive(owner):
                    raise ValueError(f"{self.path}: process {owner} is training in this folder "
                                     f"(lock file {self.LOCK}); wait for it or choose another --out") from None
                print(f"warning: {path}: removing a stale lock (process {owner} is not running)", file=sys.stderr)
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
        else:
            raise ValueError(f"{path}: cannot take the lock")
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        try:
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)

    # ------------------------------------------------------------ data index

    def write_data_index(self, index: dict) -> None:
        atomic.write_text(self.file(self.DATA_INDEX), json.dumps(index, ensure_ascii=False))

    def check_data_index(self, index: dict) -> None:
        """Refuses a resume whose data changed since the run started, saying what changed;
        a run folder from before data.json existed resumes with a warning."""
        if not os.path.exists(self.file(self.DATA_INDEX)):
            print(f"warning: {self.path}: written before data fingerprints; cannot check that the data is "
                  "unchanged (added files or labels would train on wrong targets)", file=sys.stderr)
            return
        recorded = self._read_json(self.DATA_INDEX)
        for part, files in index.items():
            change = describe_change(recorded.get(part) or [], files)
            if change:
                raise ValueError(f"{self.path}: the {part.replace('_', ' ')} changed since this run started "
                                 f"({change}); a resume needs the same files: put them back, or start a new run")

    # ------------------------------------------------------------ run.json, state.json

    def write_info(self, info: RunInfo) -> None:
        atomic.write_text(self.file(self.INFO), json.dumps(info.to_dict(), indent=2, ensure_ascii=False))

    def read_info(self) -> RunInfo:
        return RunInfo.from_dict(self._read_json(self.INFO), self.file(self.INFO))

    def write_state(self, state: ResumeState) -> None:
        atomic.write_text(self.file(self.STATE), json.dumps(dataclasses.asdict(state), indent=2))

    def read_state(self) -> ResumeState:
        return ResumeState.from_dict(self._read_json(self.STATE), self.file(self.STATE))

    def _read_json(self, name: str):
        path = self.file(name)
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: no such file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from None

    # ------------------------------------------------------------ models, samples, history

    def save_model(self, model, name: str = MODEL) -> None:
        """Saves a Keras model under `name` (model.keras or checkpoint.keras), atomically."""
        atomic.atomic_write(self.file(name), model.save, suffix=".keras")

    def save_calibration(self, images: np.ndarray) -> None:
        atomic.atomic_write(self.file(self.CALIBRATION), lambda tmp: np.save(tmp, images), suffix=".npy")

    def load_calibration(self, shape: tuple[int, int, int]) -> np.ndarray | None:
        """The calibration sample, or None when the folder has none.

        Raises:
            ValueError: the sample does not fit a model of input `shape` (H, W, C).
        """
        path = self.file(self.CALIBRATION)
        if not os.path.exists(path):
            return None
        try:
            # Mapped, not read: a header may declare any shape, and only a fitting one is loaded.
            images = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise ValueError(f"{path}: not a calibration sample ({str(error).splitlines()[0][:200]})") from None
        if images.ndim != 4 or images.shape[1:] != tuple(shape) or images.dtype != np.uint8 or not len(images):
            raise ValueError(f"{path}: holds {images.dtype} images of shape {images.shape[1:]}, "
                             f"the model takes uint8 {tuple(shape)}")
        return np.array(images[:1000])

    def truncate_history(self, epochs_done: int) -> None:
        """Drops history rows past the checkpoint (a kill can land between the two writes)."""
        path = self.file(self.HISTORY)
        if not os.path.exists(path):
            return
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        if rows:
            kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) < epochs_done]

            def write(tmp: str) -> None:
                with open(tmp, "w", newline="", encoding="utf-8") as f:
                    csv.writer(f).writerows(kept)

            atomic.atomic_write(path, write)

    def drop_resume_point(self) -> None:
        """A finished run needs no resume point; keeping it would invite resuming a done run."""
        for name in (self.CHECKPOINT, self.STATE):
            if os.path.exists(self.file(name)):
                os.remove(self.file(name))


def _lock_owner(path: str) -> int | None:
    try:
        with open(path, encoding="utf-8") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by someone else
    return True


def describe_change(before: Sequence, after: Sequence) -> str:
    """'2 added (e.g. x.png), 1 removed (…), 1 changed size (…)', or '' when the same."""
    old, new = {name: size for name, size in before}, {name: size for name, size in after}
    parts = []
    for what, names in (("added", sorted(set(new) - set(old))), ("removed", sorted(set(old) - set(new))),
                        ("changed size", sorted(n for n in set(old) & set(new) if old[n] != new[n]))):
        if names:
            parts.append(f"{len(names)} {what} (e.g. {names[0]})")
    return ", ".join(parts)
