"""Reading with a saved `.keras` reader (needs TensorFlow and Keras)."""

from __future__ import annotations

import zipfile

import keras
import numpy as np

from crnn_keras.contract import ModelError, Vocabulary
from crnn_keras.data.files import check_model_file
from crnn_keras.data.pipeline import image_batches
from crnn_keras.model.decoder import beam_decode
from crnn_keras.model.heads import find_decoder


def load_keras_reader(path: str) -> keras.Model:
    """Loads a `.keras` reader saved by crnn_keras, in Keras' safe mode, and checks it against
    the contract: a fixed uint8 input, the decoder's outputs, a vocabulary that fits the logits.

    Raises:
        ModelError: the file is missing, damaged, or not a crnn_keras reader (one line).
    """
    check_model_file(path)
    if not _is_keras_archive(path):
        raise ModelError(f"{path}: not a .keras file (a zip archive holding config.json): damaged or truncated?")
    try:
        model = keras.saving.load_model(path)  # safe_mode: refuses Lambda / pickled code
    except Exception as error:  # noqa: BLE001  Keras raises many kinds; all mean "cannot use this file"
        detail = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        raise ModelError(f"{path}: cannot load as a Keras model ({detail})") from None
    _check_contract(path, model)
    return model


def _is_keras_archive(path: str) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "config.json" in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def _check_contract(path: str, model: keras.Model) -> None:
    try:
        decoder = find_decoder(model)
    except ValueError:
        raise ModelError(f"{path}: a Keras model, but not a crnn_keras reader (no CTCDecoder)") from None
    shape = tuple(model.input_shape) if not isinstance(model.input_shape, list) else None
    if shape is None or len(shape) != 4 or None in shape[1:] or shape[3] not in (1, 3):
        raise ModelError(f"{path}: input expected a fixed (batch, height, width, 1 or 3), received {model.input_shape}")
    outputs = model.output if isinstance(model.output, dict) else {}
    if set(outputs) != {"text", "confidence", "logits"}:
        raise ModelError(f"{path}: outputs expected text, confidence and logits (the decoder's), "
                         f"received {sorted(outputs) or model.output}")
    classes = outputs["logits"].shape[-1]
    if classes != len(decoder.vocabulary) + 1:
        raise ModelError(f"{path}: the vocabulary holds {len(decoder.vocabulary)} characters but the logits "
                         f"have {classes} classes (expected {len(decoder.vocabulary) + 1})")


class KerasModel:
    """A loaded Keras reader: greedy decoding in the model, beam search on its logits."""

    def __init__(self, model: keras.Model):
        self.model = model
        decoder = find_decoder(model)
        self.vocabulary = Vocabulary(tuple(decoder.vocabulary))
        self.label_lengths = decoder.label_lengths
        _, self.height, self.width, self.channels = model.input_shape

    @classmethod
    def load(cls, path: str) -> KerasModel:
        return cls(load_keras_reader(path))

    def read_batch(self, images: np.ndarray, beam_width: int | None) -> tuple[list[str], np.ndarray]:
        # predict() sets up a data pipeline per call (tens of ms); one batch needs none of it.
        out = (self.model.predict_on_batch(images) if len(images) <= 64 else
               self.model.predict(image_batches(images, 64), verbose=0))
        texts, confidences = [t.decode("utf-8") for t in out["text"]], out["confidence"]
        if beam_width:
            return self._beam_within_lengths(beam_decode(out["logits"], self.vocabulary, beam_width),
                                             texts, confidences)
        return texts, confidences

    def _beam_within_lengths(self, beam, texts, confidences):
        """Beam reads, except where one is not empty and has a length no training label had:
        there the model's own length-bounded read (the beam cannot be told the bound)."""
        if not self.label_lengths:
            return beam
        shortest, longest = self.label_lengths
        inside = [not text or shortest <= len(text) <= longest for text in beam[0]]
        return ([b if ok else t for b, t, ok in zip(beam[0], texts, inside)],
                np.where(inside, beam[1], confidences).astype(np.float32))
