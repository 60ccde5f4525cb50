"""The CTC batch cost as a Keras layer, so training needs no custom loss wiring."""

from __future__ import annotations

import keras
from keras import ops

from crnn_keras.contract import BLANK_INDEX


@keras.saving.register_keras_serializable(package="crnn_keras")
class CTCLoss(keras.layers.Layer):
    """Adds the mean CTC cost of a batch to the model's losses; passes logits on.

    Labels are padded with the blank index, so each sample's label length is
    the count of its non-blank entries. Every sample uses all T time steps.

    Args:
        blank_index: the class that means "no character" (also the padding).

    Input shape:
        labels: (B, L) int32, padded with `blank_index`.
        logits: (B, T, K) unnormalised scores (K = vocabulary + 1).

    Output shape:
        logits, unchanged: (B, T, K).
    """

    def __init__(self, blank_index: int = BLANK_INDEX, **kwargs):
        super().__init__(**kwargs)
        self.blank_index = blank_index

    def call(self, labels, logits):
        labels = ops.cast(labels, "int32")
        label_length = ops.sum(ops.cast(ops.not_equal(labels, self.blank_index), "int32"), axis=-1)
        batch, steps = ops.shape(logits)[0], ops.shape(logits)[1]
        logit_length = ops.full((batch,), steps, dtype="int32")
        loss = ops.ctc_loss(labels, logits, label_length, logit_length, mask_index=self.blank_index)
        self.add_loss(ops.mean(loss))
        return logits

    def compute_output_shape(self, labels_shape, logits_shape):
        return logits_shape

    def get_config(self):
        return {**super().get_config(), "blank_index": self.blank_index}
