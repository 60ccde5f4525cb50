"""The contract between training, export and every runtime: ids, the blank, the model's outputs.

A model reads an image into class ids over T time steps. Id 0 is the CTC blank ("no
character here"); id i ≥ 1 is `vocabulary[i - 1]`. Decoded ids are packed to the front and
padded with -1. An exported model answers on signature `SIGNATURE` with `OUTPUTS`:

    ids         (1, T) int32    the decoded ids, padded with -1
    confidence  (1,)   float32  probability of the best path
    vocabulary  (V,)   int32    the characters as Unicode code points

This module imports neither TensorFlow nor Keras at import time: the light TFLite runtime
depends on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

BLANK_INDEX = 0
PADDING_ID = -1
SIGNATURE = "serve"
OUTPUTS = ("ids", "confidence", "vocabulary")


class ModelError(ValueError):
    """A model file that is missing, damaged, or not made by crnn_keras."""


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """The characters a model reads, and the rules that turn them into ids and back.

    Args:
        characters: distinct single characters (Unicode code points); character
            `characters[i]` is id i + 1, id 0 is the blank.

    Example:
    >>> vocabulary = Vocabulary.from_labels(["ba", "ab3"])
    >>> vocabulary.characters, vocabulary.encode("ab")
    (('3', 'a', 'b'), [2, 3])
    >>> vocabulary.decode([3, 2, -1, -1])
    'ba'
    """

    characters: tuple[str, ...]

    def __post_init__(self):
        characters = tuple(self.characters)
        bad = [c for c in characters if not isinstance(c, str) or len(c) != 1]
        if bad:
            raise ValueError(f"vocabulary: expected single characters, received {bad[0]!r}")
        if len(set(characters)) != len(characters):
            raise ValueError("vocabulary: expected distinct characters, received repeats")
        if not characters:
            raise ValueError("vocabulary: expected at least one character, received none")
        object.__setattr__(self, "characters", characters)

    @classmethod
    def from_labels(cls, labels: Iterable[str]) -> Vocabulary:
        """The sorted set of characters in `labels`."""
        return cls(tuple(sorted({ch for label in labels for ch in label})))

    @classmethod
    def from_codepoints(cls, codepoints: Iterable[int]) -> Vocabulary:
        """The vocabulary of an exported model (its `vocabulary` output)."""
        values = [int(c) for c in codepoints]
        bad = [c for c in values if not 0 <= c <= 0x10FFFF or 0xD800 <= c <= 0xDFFF]
        if bad:
            raise ValueError(f"vocabulary: expected Unicode code points, received {bad[0]}")
        return cls(tuple(chr(c) for c in values))

    def __len__(self) -> int:
        return len(self.characters)

    def extended_by(self, other: Vocabulary) -> Vocabulary:
        """This vocabulary with `other`'s new characters appended: every known id stays as it is."""
        return Vocabulary(self.characters + tuple(c for c in other.characters if c not in self.characters))

    @property
    def num_classes(self) -> int:
        """Logit classes: the characters and the blank."""
        return len(self.characters) + 1

    def codepoints(self) -> list[int]:
        return [ord(c) for c in self.characters]

    def can_spell(self, text: str) -> bool:
        return set(text) <= set(self.characters)

    def encode(self, text: str) -> list[int]:
        """Text → ids (1..V). Raises ValueError naming a character it does not hold."""
        index = {c: i + 1 for i, c in enumerate(self.characters)}
        missing = [c for c in text if c not in index]
        if missing:
            raise ValueError(f"{text!r}: character {missing[0]!r} is not in the vocabulary")
        return [index[c] for c in text]

    def decode(self, ids: Iterable[int]) -> str:
        """Ids → text; the blank and the -1 padding are skipped.

        Raises:
            ValueError: an id beyond the vocabulary (a model that does not match it).
        """
        chars = []
        for i in ids:
            i = int(i)
            if i in (BLANK_INDEX, PADDING_ID):
                continue
            if not 1 <= i <= len(self.characters):
                raise ValueError(f"id {i} is outside the vocabulary of {len(self.characters)} characters")
            chars.append(self.characters[i - 1])
        return "".join(chars)


def greedy_collapse(best_path: np.ndarray) -> list[list[int]]:
    """Best-path ids (B, T) → per sample: repeats merged, then blanks dropped.

    A doubled letter survives only with a blank between its two runs: [a, a, ·, a] → [a, a].
    """
    out = []
    for row in np.asarray(best_path):
        keep = np.ones(len(row), bool)
        keep[1:] = row[1:] != row[:-1]
        out.append([int(i) for i in row[keep & (row != BLANK_INDEX)]])
    return out


def best_path_confidence(logits: np.ndarray) -> np.ndarray:
    """(B, T, K) logits → (B,) probability of the best path (product of frame maxima)."""
    x = np.asarray(logits, np.float64)
    shifted = x - x.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return np.exp(log_probs.max(axis=-1).sum(axis=-1)).astype(np.float32)


def greedy_decode(logits: np.ndarray, vocabulary: Vocabulary) -> tuple[list[str], np.ndarray]:
    """(B, T, K) logits → (texts, confidences) by best-path decoding, in NumPy."""
    paths = greedy_collapse(np.argmax(logits, axis=-1))
    return [vocabulary.decode(ids) for ids in paths], best_path_confidence(logits)


def greedy_collapse_graph(logits):
    """The same collapse as a TensorFlow graph of built-in TFLite ops, for exported models.

    Input: logits (B, T, K) with a static T. Output: (ids (B, T) int32 front-packed and
    padded with -1, confidence (B,) float32). No Flex or custom op: argmax, compare,
    cumsum and a one-hot scatter, in integer arithmetic so int8 quantization cannot round ids.
    """
    import tensorflow as tf  # only the exporter calls this; the runtimes must not need TF

    ids = tf.argmax(logits, axis=-1, output_type=tf.int32)
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    confidence = tf.exp(tf.reduce_sum(tf.reduce_max(log_probs, axis=-1), axis=-1))
    return collapse_path_graph(ids), confidence


def collapse_path_graph(path):
    """A path of class ids (B, T) int32, static T → the collapsed ids (B, T), front-packed,
    padded with -1: repeats merged, blanks dropped, in built-in TFLite ops."""
    import tensorflow as tf

    steps = path.shape[1]
    previous = tf.pad(path[:, :-1], [[0, 0], [1, 0]], constant_values=PADDING_ID)
    keep = tf.logical_and(tf.not_equal(path, previous), tf.not_equal(path, BLANK_INDEX))
    # Kept frame t goes to slot cumsum-1; dropped frames go to an extra slot T, cut off after the
    # one-hot. (A -1 slot would do in TF, but ONNX wraps -1 round to slot T-1, and tf2onnx turns
    # OneHot into a Gather that refuses an index past the end. It also takes rank-1 indices only.)
    slot = tf.where(keep, tf.cumsum(tf.cast(keep, tf.int32), axis=1) - 1, tf.zeros_like(path) + steps)
    flat = tf.one_hot(tf.reshape(slot, [-1]), steps + 1, dtype=tf.int32)[:, :steps]
    placed = tf.reshape(flat, [-1, steps, steps])  # (B, T_frame, T_slot)
    return tf.reduce_sum(placed * (path + 1)[:, :, None], axis=1) - 1
