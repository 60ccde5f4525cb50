"""Reading with a saved `.keras` reader (needs TensorFlow and Keras)."""

from __future__ import annotations

import os

import keras
import numpy as np

from crnn_keras.contract import ModelError, Vocabulary
from crnn_keras.model.decoder import beam_decode
from crnn_keras.model.heads import find_decoder


def load_keras_reader(path: str) -> keras.Model:
    """Loads a `.keras` reader saved by crnn_keras, in Keras' safe mode.

    Raises:
        ModelError: the file is missing, damaged, or not a crnn_keras reader (one line).
    """
    if os.path.isdir(path):
        raise ModelError(f"{path}: is a folder; give the model file (model.keras)")
    if not os.path.exists(path):
        raise ModelError(f"{path}: no such model file")
    try:
        model = keras.saving.load_model(path)  # safe_mode: refuses Lambda / pickled code
    except Exception as error:  # Keras raises many kinds; all mean "cannot use this file"
        detail = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        raise ModelError(f"{path}: cannot load as a Keras model ({detail})") from None
    try:
        find_decoder(model)
    except ValueError:
        raise ModelError(f"{path}: a Keras model, but not a crnn_keras reader (no CTCDecoder)") from None
    return model


class KerasModel:
    """A loaded Keras reader: greedy decoding in the model, beam search on its logits."""

    def __init__(self, model: keras.Model):
        self.model = model
        self.vocabulary = Vocabulary(tuple(find_decoder(model).vocabulary))
        _, self.height, self.width, self.channels = model.input_shape

    @classmethod
    def load(cls, path: str) -> KerasModel:
        return cls(load_keras_reader(path))

    def read_batch(self, images: np.ndarray, beam_width: int | None) -> tuple[list[str], np.ndarray]:
        out = self.model.predict(images, batch_size=64, verbose=0)
        if beam_width:
            return beam_decode(out["logits"], self.vocabulary, beam_width)
        return [t.decode("utf-8") for t in out["text"]], out["confidence"]
