"""Training on freshly drawn synthetic captchas (`train` with no data): no image is seen twice.

A fixed set of a few thousand synthetic captchas is learnt by heart long before the model
reads the style (bench/NOTES.md: 20,000 fixed images of captcha_break's setup stop near 0.95);
captcha_break trains on images generated for every batch. Here every epoch draws `per_epoch`
new captchas at the model's input size on a background thread of the tf.data pipeline, and
validation is one fixed set drawn from another seed, held in memory.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import tensorflow as tf

from crnn_keras.contract import Vocabulary
from crnn_keras.data import synthetic
from crnn_keras.data.images import to_model_input
from crnn_keras.data.labelled import LabelledImages
from crnn_keras.data.pipeline import check_longest_fits, encode_batches, make_dataset, replica_batches
from crnn_keras.data.source import LabelSummary

# Validation is drawn from seed + this, so it shares no drawing with any epoch's images.
VAL_SEED_OFFSET = 1_000_003
# Epoch n's images come from seed + n * this: every epoch (and a resumed run) draws new ones.
EPOCH_SEED_STRIDE = 7_919


@dataclasses.dataclass(frozen=True)
class GeneratedSource:
    """Fresh synthetic captchas: `per_epoch` new ones each epoch, `val_count` fixed ones to validate.

    Example:
    >>> source = GeneratedSource(per_epoch=20_000, val_count=1_000, alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    ...                          min_length=4, max_length=4)
    >>> source.index()["synthetic captchas"][0]
    ['per epoch', 20000]
    """

    per_epoch: int
    val_count: int
    alphabet: str = synthetic.DEFAULT_ALPHABET
    min_length: int = 4
    max_length: int = 6
    seed: int = 0

    def __post_init__(self):
        synthetic.check_style(self.min_length, self.max_length, self.alphabet)
        if self.per_epoch < 1 or self.val_count < 1:
            raise ValueError(f"fresh synthetic captchas: expected ≥ 1 per epoch and ≥ 1 to validate, received "
                             f"{self.per_epoch} and {self.val_count}")

    def index(self) -> dict[str, list[list]]:
        """What the run was trained on, for --resume (there are no files to list)."""
        return {"synthetic captchas": [["per epoch", self.per_epoch], ["validation", self.val_count],
                                       ["alphabet", self.alphabet], ["lengths", f"{self.min_length}-{self.max_length}"]]}

    def channels(self) -> int:
        """1: the synthetic captchas are drawn in grey."""
        return 1

    def load(self, height: int, width: int, channels: int) -> GeneratedData:
        """Draws the validation set now; training images are drawn while training."""
        pairs = itertools.islice(self.draw(self.seed + VAL_SEED_OFFSET, height, width), self.val_count)
        images, labels = [], []
        for image, text in pairs:
            images.append(to_model_input(image, height, width, channels))
            labels.append(text)
        val = LabelledImages(np.stack(images), labels, [f"validation#{i}" for i in range(len(labels))])
        mean = (self.min_length + self.max_length) / 2
        train = LabelSummary(self.per_epoch, self.alphabet, self.max_length, mean, self.min_length)
        return GeneratedData(self, (height, width, channels), train, val)

    def draw(self, seed: int, height: int, width: int):
        """Endless (PIL image, text) pairs of this style at (width, height), seeded."""
        return synthetic.stream(seed, self.min_length, self.max_length, self.alphabet, width, height)


@dataclasses.dataclass
class GeneratedData:
    """The trainer's `TrainingData` questions, answered for fresh synthetic captchas."""

    source: GeneratedSource
    shape: tuple[int, int, int]
    train: LabelSummary
    val: LabelledImages

    def vocabulary(self) -> Vocabulary:
        return Vocabulary(tuple(self.source.alphabet))

    @property
    def max_label_length(self) -> int:
        return self.source.max_length

    @property
    def label_lengths(self) -> tuple[int, int]:
        return self.source.min_length, self.source.max_length

    def check_fit(self, time_steps: int) -> None:
        check_longest_fits(self.max_label_length, time_steps, "the synthetic captchas")

    def unfit(self, vocabulary: Vocabulary, max_label_length: int) -> list[str]:
        fits = vocabulary.can_spell(self.source.alphabet) and self.max_label_length <= max_label_length
        return [] if fits else ["the synthetic captchas"]

    def calibration_sample(self, count: int, seed: int) -> np.ndarray:
        return self.val.images[:count]

    def datasets(self, vocabulary: Vocabulary, max_label_length: int, batch_size: int, augment: bool, seed: int,
                 replicas: int = 1):
        """(training, validation) tf.data pipelines of {"image", "labels"} batches; each pass over
        the training pipeline (an epoch) draws `per_epoch` captchas never drawn before."""
        height, width, channels = self.shape
        epochs = itertools.count()

        def one_epoch():
            epoch_seed = self.source.seed + next(epochs) * EPOCH_SEED_STRIDE
            for image, text in itertools.islice(self.source.draw(epoch_seed, height, width), self.source.per_epoch):
                yield to_model_input(image, height, width, channels), text

        train = tf.data.Dataset.from_generator(one_epoch, output_signature=(
            tf.TensorSpec((height, width, channels), tf.uint8), tf.TensorSpec((), tf.string)))
        batch, drop = replica_batches(batch_size, self.source.per_epoch, replicas)
        batches = self.source.per_epoch // batch if drop else -(-self.source.per_epoch // batch)
        # A generator's length is unknown to tf.data; told, Keras shows progress and does not
        # warn at the end of the first epoch that the data "ran out".
        train = train.batch(batch, drop).apply(tf.data.experimental.assert_cardinality(batches))
        batch, drop = replica_batches(batch_size, len(self.val), replicas)
        return (encode_batches(train, vocabulary, max_label_length, augment, seed),
                make_dataset(self.val, vocabulary, max_label_length, batch, drop_remainder=drop))
