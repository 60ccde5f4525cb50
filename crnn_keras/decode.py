"""CTC decoding in Keras: the decoder layer inside saved models, and beam search."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="crnn_keras")
class CTCDecoder(keras.layers.Layer):
    """Greedy CTC decoding to strings; carries the vocabulary inside the model.

    Args:
        vocabulary: the characters; class i ≥ 1 of the logits is vocabulary[i - 1].
        blank_index: the CTC blank class (0).

    Input shape:
        logits: (B, T, len(vocabulary) + 1).

    Output shape:
        {"text": (B,) UTF-8 strings, "confidence": (B,) float32 probability of the
        best path, "logits": the input, for beam search}.
    """

    def __init__(self, vocabulary: Sequence[str], blank_index: int = 0, **kwargs):
        super().__init__(**kwargs)
        if blank_index != 0:
            raise ValueError(f"blank_index {blank_index}: only 0 is supported")
        self.vocabulary = [str(ch) for ch in vocabulary]
        self.blank_index = blank_index

    def call(self, logits):
        logits = ops.cast(logits, "float32")
        batch, steps = ops.shape(logits)[0], ops.shape(logits)[1]
        lengths = ops.full((batch,), steps, dtype="int32")
        decoded, _ = ops.ctc_decode(logits, lengths, strategy="greedy", mask_index=self.blank_index)
        ids = decoded[0]  # (B, T), padded with -1
        # Strings have no keras.ops: gather characters from a table where row 0 is "".
        table = tf.constant(["", *self.vocabulary])
        text = tf.strings.reduce_join(tf.gather(table, ops.maximum(ids, 0)), axis=-1)
        log_probs = ops.log_softmax(logits, axis=-1)
        confidence = ops.exp(ops.sum(ops.max(log_probs, axis=-1), axis=-1))
        return {"text": text, "confidence": confidence, "logits": logits}

    def compute_output_spec(self, logits):
        batch = logits.shape[0]
        return {
            "text": keras.KerasTensor((batch,), dtype="string"),
            "confidence": keras.KerasTensor((batch,), dtype="float32"),
            "logits": keras.KerasTensor(logits.shape, dtype="float32"),
        }

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.vocabulary, "blank_index": self.blank_index}


def beam_decode(
    logits: np.ndarray, vocabulary: Sequence[str], beam_width: int = 10
) -> tuple[list[str], np.ndarray]:
    """(B, T, K) logits → (texts, confidences) by CTC beam search.

    The confidence is the probability the beam search gives the whole labelling
    (summed over its alignments), so it can exceed the greedy path's.
    """
    from crnn_keras.text import ids_to_text

    if beam_width < 1:
        raise ValueError(f"beam width {beam_width}: must be ≥ 1")
    logits = np.asarray(logits, np.float32)
    lengths = np.full((logits.shape[0],), logits.shape[1], np.int32)
    decoded, log_probs = ops.ctc_decode(
        logits, lengths, strategy="beam_search", beam_width=beam_width, top_paths=1, mask_index=0
    )
    ids = ops.convert_to_numpy(decoded)[0]
    confidence = np.exp(ops.convert_to_numpy(log_probs)[:, 0]).astype(np.float32)
    return [ids_to_text(row, vocabulary) for row in ids], np.minimum(confidence, 1.0)
