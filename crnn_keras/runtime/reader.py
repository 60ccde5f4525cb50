"""One call from images to text: `Reader("model.keras").read(images)`.

Works with a saved `.keras` reader (needs TensorFlow) or an exported `.tflite`
model (needs only NumPy, Pillow and `ai-edge-litert`); Keras is imported only
for the former.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence

import numpy as np
from PIL import Image

from crnn_keras.contract import ModelError
from crnn_keras.data.files import check_model_file
from crnn_keras.data.images import ImageError, load_image
from crnn_keras.runtime.lite import LiteModel


@dataclasses.dataclass(frozen=True)
class Reading:
    """What a model read in one image."""

    text: str
    confidence: float


class Reader:
    """Reads text from images with a `.keras`, `.tflite` or `.onnx` model made by crnn_keras.

    Args:
        model: a path to `model.keras` / `reader.tflite` / `reader.onnx`, or a loaded Keras reader.

    Example:
        reader = Reader("runs/captchas/model.keras")
        reader.read(["x9g3a.png"])  # [Reading(text='x9g3a', confidence=0.98)]
    """

    def __init__(self, model):
        if isinstance(model, (str, os.PathLike)):
            path = os.fspath(model)
            check_model_file(path)
            if path.lower().endswith(".tflite"):
                self._backend = LiteModel(path)
            elif path.lower().endswith(".keras"):
                self._backend = _keras_backend().load(path)
            elif path.lower().endswith(".onnx"):
                self._backend = _onnx_backend()(path)
            else:
                raise ModelError(f"{path}: unknown model type (expected .keras, .tflite or .onnx)")
        else:
            self._backend = _keras_backend()(model)
        self.vocabulary: list[str] = list(self._backend.vocabulary.characters)
        self.height, self.width, self.channels = self._backend.height, self._backend.width, self._backend.channels

    @property
    def keras_model(self):
        """The Keras reader model behind this Reader; None when it reads with a `.tflite` model."""
        return getattr(self._backend, "model", None)

    @property
    def label_lengths(self) -> tuple[int, int] | None:
        """(shortest, longest): the lengths a `.keras` reader keeps its reads to. None for a reader
        saved before 0.3.12 and for `.tflite` / `.onnx` models, whose graph holds any bound."""
        lengths = getattr(self._backend, "label_lengths", None)
        return tuple(lengths) if lengths else None

    def prepare(self, image) -> np.ndarray:
        """One image (path, PIL image or array) → model input (H, W, C) uint8."""
        return load_image(image, self.height, self.width, self.channels)

    def read_arrays(self, images: np.ndarray, beam_width: int | None = None) -> list[Reading]:
        """(N, H, W, C) uint8 at the model's size → one Reading each."""
        if len(images) == 0:
            return []
        texts, confidences = self._backend.read_batch(np.asarray(images, np.uint8), beam_width)
        return [Reading(t, float(c)) for t, c in zip(texts, confidences)]

    def read(self, images, beam_width: int | None = None) -> list[Reading]:
        """Reads images of any size: a path, PIL image or array, a list of them,
        or an (N, H, W, C) batch. `beam_width` switches to beam search.

        Raises:
            crnn_keras.data.images.ImageError: an image cannot be read (names it).
        """
        if isinstance(images, np.ndarray) and images.ndim == 4:
            items: Iterable = list(images)
        elif isinstance(images, (str, os.PathLike, Image.Image, np.ndarray)):
            items = [images]
        else:
            items = images
        batch = np.stack([self.prepare(item) for item in items]) if items else np.zeros((0,))
        return self.read_arrays(batch, beam_width)


def read_text(images, model, beam_width: int | None = None) -> list[tuple[str, float]]:
    """Images (paths, PIL images or arrays) → [(text, confidence), …] with `model`."""
    reader = model if isinstance(model, Reader) else Reader(model)
    return [(r.text, r.confidence) for r in reader.read(images, beam_width)]


def read_paths(reader: Reader, paths: Sequence[str], beam_width: int | None = None, chunk: int = 256):
    """Yields (path, Reading or None, error or None) per file, decoding in chunks."""
    for start in range(0, len(paths), chunk):
        part = paths[start : start + chunk]
        arrays, good, errors = [], [], {}
        for path in part:
            try:
                arrays.append(reader.prepare(path))
                good.append(path)
            except ImageError as error:
                errors[path] = str(error)
        readings = dict(zip(good, reader.read_arrays(np.stack(arrays), beam_width))) if arrays else {}
        for path in part:
            yield path, readings.get(path), errors.get(path)


def _keras_backend():
    # Imported on demand: a TFLite-only install (NumPy, Pillow, LiteRT) has no Keras.
    try:
        from crnn_keras.runtime.keras_reader import KerasModel
    except ModuleNotFoundError as error:
        raise ModelError(f"a .keras model needs {error.name}, which is not installed: "
                         'pip install "crnn_keras[train]", or read an exported .tflite model') from None
    return KerasModel


def _onnx_backend():
    # Imported on demand: ONNX Runtime is the optional [onnx] extra.
    try:
        from crnn_keras.runtime.onnx_model import OnnxModel
    except ModuleNotFoundError as error:
        raise ModelError(f"a .onnx model needs {error.name}, which is not installed: "
                         'pip install "crnn_keras[onnx]"') from None
    return OnnxModel
