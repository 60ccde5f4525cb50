"""The shape of a CRNN (`ModelConfig`), saved in each run folder; no Keras needed to read it."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping

from crnn_keras import serialization

log = logging.getLogger(__name__)

# Time steps per character of the longest label that `fit_labels` aims for.
FRAMES_PER_CHARACTER = 6

# Below this many training images a set is "small" (one user's labelling budget): the default
# batch is 16 (crnn_keras.train.config) and the blocks are wider, as their epochs are short at
# this size. On check sets training never saw, 24-48-72-96 read 0.937 (receita_br) and 0.894
# (captcha_mixedcase) against 0.913 and 0.869 for 0.3.3-0.3.8's 16-32-48-64, and within one
# run's spread of 32-64-96-128 (0.950, 0.887), which predicts at about half the speed; the
# blocks carry the gain, not the GRU's width (bench/NOTES.md, sessions 14 and 15).
# Larger sets keep the 430 k model, so that an epoch of 6,000 or more images stays affordable
# on a CPU (the quick start); the small-set model was not measured there.
SMALL_SET = 2000
SMALL_SET_BLOCK_WIDTHS = (24, 48, 72, 96)
SMALL_SET_RNN_UNITS = 96
LARGE_SET_BLOCK_WIDTHS = (16, 32, 64, 96)
LARGE_SET_RNN_UNITS = 96
# `train --compact`: every set's model under 2,000 images in 0.3.3-0.3.8, for phones and fast
# predict (262 k parameters, a 475 KiB int8 TFLite file)
COMPACT = {"block_widths": (16, 32, 48, 64), "rnn_units": 96}


def default_widths(train_images: int) -> tuple[tuple[int, ...], int]:
    """(block widths, GRU units) for a training set of this size.

    >>> default_widths(1500), default_widths(6000)
    (((24, 48, 72, 96), 96), ((16, 32, 64, 96), 96))
    """
    if train_images < SMALL_SET:
        return SMALL_SET_BLOCK_WIDTHS, SMALL_SET_RNN_UNITS
    return LARGE_SET_BLOCK_WIDTHS, LARGE_SET_RNN_UNITS


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The shape of a CRNN; saved as JSON in each run folder.

    Attributes:
        height: input height; a power of two ≥ 8 so the blocks reach height 2.
        width: input width; a multiple of 2**width_halvings.
        channels: 1 (grayscale) or 3 (RGB). None: chosen from the training images (`train`
            reads colour when they are coloured, `images.channels_for`); built before that, 1.
        stem_stride: 2 halves height and width in the stem, so no layer runs at
            the full input size (the costliest part of predict); 1 keeps them.
        block_widths: filters of the last four BasicBlocks; for a taller input
            the first width repeats, for a shorter one the first blocks go. None:
            chosen from the training set's size (`fit_data`); built before that,
            the small-set widths.
        width_halvings: the most times the width is halved, the stem's included;
            time steps = width / 2**width_halvings. Training lowers it until the
            longest label has 6 steps a character (`fit_labels`).
        rnn_units: GRU units per direction. None: chosen with the block widths
            (`fit_data`); built before that, the small-set units.
        dropout: before the GRU, during training only.

    Example:
    >>> ModelConfig().fit_labels(5).time_steps  # 64x160, 5 characters: 6 steps each at least
    40
    """

    height: int = 64
    width: int = 160
    channels: int | None = None
    stem_stride: int = 2
    block_widths: tuple[int, ...] | None = None
    width_halvings: int = 3
    rnn_units: int | None = None
    dropout: float = 0.2

    @property
    def gru_units(self) -> int:
        """The GRU units per direction the model is built with."""
        return SMALL_SET_RNN_UNITS if self.rnn_units is None else self.rnn_units

    @property
    def input_channels(self) -> int:
        """The channels the model is built with."""
        return 1 if self.channels is None else self.channels

    @property
    def time_steps(self) -> int:
        return self.width // 2**self.width_halvings

    @property
    def stem_halvings(self) -> int:
        return 1 if self.stem_stride == 2 else 0

    @property
    def num_blocks(self) -> int:
        return int(math.log2(self.height)) - 1 - self.stem_halvings

    @property
    def block_width_halvings(self) -> int:
        return self.width_halvings - self.stem_halvings

    def validate(self) -> None:
        """Raises ValueError ("expected …, received …") for a shape the blocks cannot build."""
        if self.height < 8 or 2 ** int(math.log2(self.height)) != self.height:
            raise ValueError(
                f"height: expected a power of two ≥ 8 (8, 16, 32, 64, …) so that halving blocks reach "
                f"height 2 for the final 2x5 convolution, received {self.height}"
            )
        if self.channels not in (None, 1, 3):
            raise ValueError(f"channels: expected 1 (grayscale), 3 (RGB) or None (from the data), "
                             f"received {self.channels}")
        if self.stem_stride not in (1, 2):
            raise ValueError(f"stem_stride: expected 1 or 2, received {self.stem_stride}")
        widths = SMALL_SET_BLOCK_WIDTHS if self.block_widths is None else self.block_widths
        if not widths or min(widths) < 1 or self.gru_units < 1:
            raise ValueError(f"block_widths and rnn_units: expected positive sizes, received "
                             f"{self.block_widths} and {self.rnn_units}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: expected 0 ≤ dropout < 1, received {self.dropout}")
        low, high = self.stem_halvings, self.num_blocks + self.stem_halvings
        if not low <= self.width_halvings <= high:
            raise ValueError(f"width_halvings: expected {low}..{high} (the stem and {self.num_blocks} blocks), "
                             f"received {self.width_halvings}")
        step = 2**self.width_halvings
        if self.width < 8 or self.width % step:
            raise ValueError(f"width: expected a multiple of {step} and ≥ 8, received {self.width}")

    def check_input(self) -> None:
        """Raises ValueError for an input no time-step count can build, before the labels are
        known (`fit_labels` chooses the width halvings later; the stem's alone must work)."""
        dataclasses.replace(self, width_halvings=self.stem_halvings).validate()

    def fit_labels(self, max_label_length: int) -> ModelConfig:
        """This config with the most width halvings (≤ width_halvings) that give each character
        of the longest label FRAMES_PER_CHARACTER time steps; when none does, the most time
        steps the input allows (CTC's minimum, 2·len+1, is checked on the data later).

        Doubled letters need frames to spare: on real captchas with 4 characters, 20 steps
        (5 a character) read `33hh` as `3hh`, and 40 steps read them all. Many frames used to
        make CTC's all-blank start last long (11 epochs at 40 steps on captcha_images_v2); the
        blank logit's prior at initialization (`build_backbone(blank_share=…)`) removed that
        (3 epochs to 0.95 validation accuracy; bench/NOTES.md).
        """
        needed = FRAMES_PER_CHARACTER * max_label_length
        fewest = self.stem_halvings
        for halvings in range(min(self.width_halvings, self.num_blocks + fewest), fewest - 1, -1):
            if self.width % 2**halvings == 0 and self.width // 2**halvings >= needed:
                return dataclasses.replace(self, width_halvings=halvings)
        return dataclasses.replace(self, width_halvings=fewest)

    def fit_data(self, train_images: int) -> ModelConfig:
        """This config with block widths and GRU units chosen from the training set's size,
        where not given."""
        widths, units = default_widths(train_images)
        return dataclasses.replace(self, block_widths=self.block_widths or widths, rnn_units=self.rnn_units or units)

    def block_filters(self) -> list[int]:
        widths = list(SMALL_SET_BLOCK_WIDTHS if self.block_widths is None else self.block_widths)
        n = self.num_blocks
        return widths[-n:] if n <= len(widths) else [widths[0]] * (n - len(widths)) + widths

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> ModelConfig:
        """Reads `run.json`'s "model"; a run of version 0.1 without `stem_stride` used stride 1.

        Raises:
            ValueError: an unknown key or a value of the wrong type.
        """
        data = dict(data) if isinstance(data, Mapping) else data
        if isinstance(data, dict) and "stem_stride" not in data:
            log.info("note: run.json model: no stem_stride (written before the strided stem): using 1")
            data["stem_stride"] = 1
        return serialization.from_dict(cls, data, "run.json model")
