"""The two models around one backbone: the reader users keep, and the trainer with its CTC cost.

Both are built from the same backbone object (no layer surgery), so training the trainer
trains the reader.
"""

from __future__ import annotations

import keras

from crnn_keras.contract import BLANK_INDEX, Vocabulary
from crnn_keras.model.backbone import BACKBONE_NAME
from crnn_keras.model.ctc import CTCLoss
from crnn_keras.model.decoder import CTCDecoder


def build_reader(backbone: keras.Model, vocabulary: Vocabulary,
                 label_lengths: tuple[int, int] | None = None) -> keras.Model:
    """Wraps the backbone with greedy decoding: the model users save and load.

    `label_lengths` (shortest, longest training label) bounds the length of what it reads.
    Output: {"text": (B,) string, "confidence": (B,) float32, "logits": (B, T, V + 1)}.
    """
    image = keras.Input(backbone.input_shape[1:], dtype="uint8", name="image")
    decoder = CTCDecoder(list(vocabulary.characters), label_lengths, dtype="float32", name="decoder")
    outputs = decoder(backbone(image))
    return keras.Model(image, outputs, name="crnn_reader")


def build_trainer(backbone: keras.Model, max_label_length: int) -> keras.Model:
    """The backbone with the CTC cost attached; inputs {"image", "labels"}.

    `labels` is (B, max_label_length) int32, padded with the blank.
    """
    image = keras.Input(backbone.input_shape[1:], dtype="uint8", name="image")
    labels = keras.Input((max_label_length,), dtype="int32", name="labels")
    logits = CTCLoss(blank_index=BLANK_INDEX, dtype="float32", name="ctc_loss")(labels, backbone(image))
    return keras.Model({"image": image, "labels": labels}, logits, name="crnn_trainer")


def find_backbone(model: keras.Model) -> keras.Model:
    """The shared backbone inside a reader or trainer model."""
    for layer in model.layers:
        if isinstance(layer, keras.Model) and layer.name == BACKBONE_NAME:
            return layer
    raise ValueError(f"model {model.name!r}: expected a {BACKBONE_NAME!r} backbone inside, found none "
                     "(not a crnn_keras model)")


def find_decoder(model: keras.Model) -> CTCDecoder:
    """The decoder layer of a reader model, which carries the vocabulary."""
    for layer in model.layers:
        if isinstance(layer, CTCDecoder):
            return layer
    raise ValueError(f"model {model.name!r}: expected a CTCDecoder, found none (not a crnn_keras reader)")
