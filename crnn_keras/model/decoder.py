"""CTC decoding in Keras: the decoder layer inside saved readers, and beam search."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from crnn_keras.contract import BLANK_INDEX, Vocabulary
from crnn_keras.model.length_bound import decode_graph


@keras.saving.register_keras_serializable(package="crnn_keras")
class CTCDecoder(keras.layers.Layer):
    """Greedy CTC decoding to strings; carries the vocabulary inside the model.

    The blank is class 0 (`crnn_keras.contract`); class i ≥ 1 is vocabulary[i - 1].

    Args:
        vocabulary: the characters, one code point each.
        label_lengths: (shortest, longest) label length seen in training, or None. Given, a
            read of another length (but not an empty one) is replaced by the most likely path
            whose text has an allowed length (`crnn_keras.model.length_bound`); reads in
            range are unchanged.

    Input shape:
        logits: (B, T, len(vocabulary) + 1).

    Output shape:
        {"text": (B,) UTF-8 strings, "confidence": (B,) float32 probability of the
        best path, "logits": the input, for beam search}.

    Example:
    >>> logits = keras.ops.one_hot([[1, 0, 1, 2]], 3) * 10.0
    >>> CTCDecoder(["a", "b"])(logits)["text"].numpy()
    array([b'aab'], dtype=object)
    """

    def __init__(self, vocabulary: Sequence[str], label_lengths: Sequence[int] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary = list(Vocabulary(tuple(str(ch) for ch in vocabulary)).characters)
        self.label_lengths = _checked_lengths(label_lengths)

    @classmethod
    def from_config(cls, config):
        # Readers saved by version 0.1 carry "blank_index": 0, which is now the contract.
        config = dict(config)
        blank = config.pop("blank_index", BLANK_INDEX)
        if blank != BLANK_INDEX:
            raise ValueError(f"CTCDecoder blank_index: expected {BLANK_INDEX}, received {blank!r}")
        return cls(**config)

    def call(self, logits):
        logits = ops.cast(logits, "float32")
        if self.label_lengths:
            ids, confidence = decode_graph(logits, self.label_lengths)
        else:
            batch, steps = ops.shape(logits)[0], ops.shape(logits)[1]
            lengths = ops.full((batch,), steps, dtype="int32")
            decoded, _ = ops.ctc_decode(logits, lengths, strategy="greedy", mask_index=BLANK_INDEX)
            ids = decoded[0]  # (B, T), padded with -1
            log_probs = ops.log_softmax(logits, axis=-1)
            confidence = ops.exp(ops.sum(ops.max(log_probs, axis=-1), axis=-1))
        # Strings have no keras.ops: gather characters from a table where row 0 (blank/padding) is "".
        table = tf.constant(["", *self.vocabulary])
        text = tf.strings.reduce_join(tf.gather(table, ops.maximum(ids, BLANK_INDEX)), axis=-1)
        return {"text": text, "confidence": confidence, "logits": logits}

    def compute_output_spec(self, logits):
        batch = logits.shape[0]
        return {
            "text": keras.KerasTensor((batch,), dtype="string"),
            "confidence": keras.KerasTensor((batch,), dtype="float32"),
            "logits": keras.KerasTensor(logits.shape, dtype="float32"),
        }

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.vocabulary, "label_lengths": self.label_lengths}


def _checked_lengths(label_lengths) -> list[int] | None:
    if label_lengths is None:
        return None
    lengths = list(label_lengths) if isinstance(label_lengths, (list, tuple)) else []
    if len(lengths) != 2 or not all(isinstance(n, int) and not isinstance(n, bool) for n in lengths) \
            or not 1 <= lengths[0] <= lengths[1]:
        raise ValueError(f"CTCDecoder label_lengths: expected [shortest, longest] with 1 ≤ shortest ≤ longest, "
                         f"received {label_lengths!r}")
    return lengths


def beam_decode(logits: np.ndarray, vocabulary: Vocabulary, beam_width: int = 10) -> tuple[list[str], np.ndarray]:
    """(B, T, K) logits → (texts, confidences) by CTC beam search.

    The confidence is the probability the beam search gives the whole labelling
    (summed over its alignments), so it can exceed the greedy path's.
    """
    if beam_width < 1:
        raise ValueError(f"beam width: expected ≥ 1, received {beam_width}")
    logits = np.asarray(logits, np.float32)
    lengths = np.full((logits.shape[0],), logits.shape[1], np.int32)
    decoded, log_probs = ops.ctc_decode(
        logits, lengths, strategy="beam_search", beam_width=beam_width, top_paths=1, mask_index=BLANK_INDEX
    )
    ids = ops.convert_to_numpy(decoded)[0]
    confidence = np.exp(ops.convert_to_numpy(log_probs)[:, 0]).astype(np.float32)
    texts = [vocabulary.decode(row) for row in ids]
    return texts, np.minimum(confidence, 1.0)
