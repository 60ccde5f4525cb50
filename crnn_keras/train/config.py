"""The options of one training run (`TrainConfig`), checked when made and when read back."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from crnn_keras import serialization
from crnn_keras.data.synthetic import DEFAULT_ALPHABET, check_style
from crnn_keras.model.config import SMALL_SET

# Keys that version 0.1 wrote for its benchmark, with the value every user's run had.
LEGACY_KEYS = {"architecture": "crnn", "schedule": "cosine", "monitor": "val_accuracy"}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Options of one training run (the command line of `python -m crnn_keras train`).

    Raises ValueError ("expected …, received …") for a value no run can use.

    Example:
    >>> TrainConfig(data="captchas/", epochs=30).batch_size is None  # chosen from the data size
    True
    """

    data: str
    out: str = "runs/latest"
    val_data: str | None = None
    val_split: float = 0.1
    epochs: int = 60
    batch_size: int | None = None  # None: default_batch_size(training images)
    learning_rate: float = 2e-3
    patience: int = 15
    augment: bool = True
    seed: int = 0
    label_regex: str | None = None
    ignore_case: bool = False
    deterministic: bool = False
    init_from: str | None = None  # a .keras reader to start from (--init-from)
    labels: str | None = None  # a CSV/TSV of path,label read instead of the folder `data` (--labels)
    tfds: str | None = None  # a TFDS dataset (dataset build) streamed instead of `data` (--tfds)
    distribute: str | None = None  # "mirrored" or "multi-worker" (--distribute)
    cpu_devices: int | None = None  # split the CPU into this many logical devices (--cpu-devices)
    mixed_precision: bool = False  # float16 compute, float32 logits, CTC and saved reader (--mixed-precision)
    # Fresh synthetic captchas instead of `data` (no data, --synthetic fresh): this many new ones an epoch,
    # drawn from these characters at these label lengths (crnn_keras.data.generated).
    fresh_per_epoch: int | None = None
    fresh_alphabet: str = DEFAULT_ALPHABET
    fresh_lengths: tuple[int, ...] = (4, 6)
    # Validate and keep an exponential moving average of the weights with this momentum, not
    # the last step's weights (--weight-average); None trains and keeps the raw weights.
    weight_average: float | None = None
    # Decoupled weight decay (AdamW; each step shrinks the weights by this times the learning
    # rate); 0 trains with plain Adam. 0.05 steadied the schedule's end on two styles but read
    # no better over the dev suite, so it is off by default (bench/NOTES.md, session 11).
    weight_decay: float = 0.0

    def __post_init__(self):
        for name in ("epochs", "patience") + (("batch_size",) if self.batch_size is not None else ()):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"--{name.replace('_', '-')}: expected an integer ≥ 1, received {value!r}")
        if not 0.0 < self.val_split < 1.0:
            raise ValueError(f"--val-split: expected a fraction between 0 and 1, received {self.val_split}")
        if self.distribute not in (None, "mirrored", "multi-worker"):
            raise ValueError(f"--distribute: expected mirrored or multi-worker, received {self.distribute!r}")
        if self.cpu_devices is not None and (isinstance(self.cpu_devices, bool) or not isinstance(self.cpu_devices, int)
                                             or self.cpu_devices < 1):
            raise ValueError(f"--cpu-devices: expected an integer ≥ 1, received {self.cpu_devices!r}")
        if self.fresh_per_epoch is not None and (isinstance(self.fresh_per_epoch, bool) or
                                                 not isinstance(self.fresh_per_epoch, int) or self.fresh_per_epoch < 1):
            raise ValueError(f"--synthetic-count: expected an integer ≥ 1, received {self.fresh_per_epoch!r}")
        if len(self.fresh_lengths) != 2:
            raise ValueError(f"--synthetic-lengths: expected MIN-MAX, received {self.fresh_lengths!r}")
        check_style(*self.fresh_lengths, self.fresh_alphabet)
        if self.weight_average is not None and not (_is_number(self.weight_average) and
                                                    0.0 < self.weight_average < 1.0):
            raise ValueError(f"--weight-average: expected a momentum between 0 and 1, received {self.weight_average!r}")
        if not (_is_number(self.weight_decay) and 0.0 <= self.weight_decay < 1.0):
            raise ValueError(f"--weight-decay: expected a number from 0 to below 1, received {self.weight_decay!r}")
        if not self.learning_rate > 0.0 or self.learning_rate != self.learning_rate:
            raise ValueError(f"--learning-rate: expected a number > 0, received {self.learning_rate}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> TrainConfig:
        """Reads `run.json`'s "train"; the benchmark keys of version 0.1 are dropped with a note."""
        if isinstance(data, Mapping):
            data = serialization.migrate(data, "run.json train", LEGACY_KEYS)
            data.setdefault("init_from", None)  # before version 0.2 every run started from scratch
            data.setdefault("labels", None)  # labels files and TFDS datasets came in version 0.3
            data.setdefault("tfds", None)
            data.setdefault("distribute", None)  # tf.distribute came in version 0.3 too
            data.setdefault("cpu_devices", None)
            data.setdefault("mixed_precision", False)
            data.setdefault("fresh_per_epoch", None)  # fresh synthetic captchas came in version 0.3.2
            data.setdefault("fresh_alphabet", DEFAULT_ALPHABET)
            data.setdefault("fresh_lengths", (4, 6))
            data.setdefault("weight_average", None)  # weight averaging came in version 0.3.5
            data.setdefault("weight_decay", 0.0)  # and weight decay in 0.3.6
        return serialization.from_dict(cls, data, "run.json train")


def _is_number(value) -> bool:
    """An int or float from the command line or run.json; True and "0.5" are not numbers."""
    return not isinstance(value, bool) and isinstance(value, (int, float))


# Below SMALL_SET training images the default batch is 16, else 32: with 27 updates an epoch
# (936 captchas, batch 32) CTC's all-blank start lasted too long in one seed of three; batch 16
# made that rarer (bench/NOTES.md). Fewer time steps (ModelConfig.fit_labels) later removed it.
def default_batch_size(train_images: int) -> int:
    return 16 if train_images < SMALL_SET else 32
