"""Reading with an exported `.tflite` model through the LiteRT interpreter.

Needs NumPy and `ai-edge-litert` only: this is the path a phone mirrors.
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from crnn_keras import integrity
from crnn_keras.contract import OUTPUTS, SIGNATURE, ModelError, Vocabulary
from crnn_keras.data.files import read_model_file
from crnn_keras.quiet import native_stderr_silenced


class LiteModel:
    """A crnn_keras TFLite model: image (1, H, W, C) uint8 → ids, confidence, vocabulary."""

    def __init__(self, path: str, num_threads: int | None = None):
        content = read_model_file(path)
        self.path = path
        self.sealed = integrity.check(content, path)
        self.runner = self._signature_runner(content, num_threads)
        self.height, self.width, self.channels = self._input_size()
        self.vocabulary = self._vocabulary()

    def _signature_runner(self, content: bytes, num_threads: int | None):
        path = self.path
        try:
            with native_stderr_silenced():  # "INFO: Created TensorFlow Lite XNNPACK delegate"
                self.interpreter = Interpreter(model_content=content, num_threads=num_threads)
            signatures = self.interpreter.get_signature_list()
        except Exception as error:  # noqa: BLE001  the interpreter raises many kinds for a damaged file
            detail = str(error).strip().splitlines()[0][:200] if str(error).strip() else "unreadable"
            raise ModelError(f"{path}: not a TFLite model ({detail})") from None
        signature = signatures.get(SIGNATURE, {})
        if not set(OUTPUTS) <= set(signature.get("outputs", [])) or signature.get("inputs") != ["image"]:
            raise ModelError(f"{path}: a TFLite model, but not one exported by crnn_keras (needs signature "
                             f"{SIGNATURE!r} with input image and outputs {', '.join(OUTPUTS)})")
        return self.interpreter.get_signature_runner(SIGNATURE)

    def _input_size(self) -> tuple[int, int, int]:
        spec = self.runner.get_input_details()["image"]
        shape = [int(d) for d in spec["shape"]]
        if len(shape) != 4 or shape[0] != 1 or min(shape) < 1 or shape[3] not in (1, 3) or spec["dtype"] != np.uint8:
            raise ModelError(f"{self.path}: input image expected uint8 [1, H, W, 1 or 3], received "
                             f"{np.dtype(spec['dtype']).name} {shape}")
        return shape[1], shape[2], shape[3]

    def _vocabulary(self) -> Vocabulary:
        try:
            with native_stderr_silenced():  # the first run creates the XNNPACK delegate
                out = self.run(np.zeros((self.height, self.width, self.channels), np.uint8))
            return Vocabulary.from_codepoints(np.asarray(out["vocabulary"]).ravel())
        except Exception as error:  # noqa: BLE001  a foreign graph can fail at its first run
            raise ModelError(f"{self.path}: not a crnn_keras reader ({str(error).strip()[:200]})") from None

    def input_description(self) -> str:
        return f"image uint8 [1, {self.height}, {self.width}, {self.channels}]"

    def output_description(self) -> list[str]:
        details = self.runner.get_output_details()
        return [
            f"{name} {np.dtype(d['dtype']).name} {[int(n) for n in d['shape']]}" for name, d in sorted(details.items())
        ]

    def run(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """One (H, W, C) uint8 image → the raw outputs."""
        return self.runner(image=np.asarray(image, np.uint8)[None])

    def read_batch(self, images: np.ndarray, beam_width: int | None) -> tuple[list[str], np.ndarray]:
        if beam_width:
            raise ValueError("beam search (--beam-width) needs a .keras model: a TFLite model decodes greedily in its graph")
        texts, confidences = [], []
        for image in images:
            out = self.run(image)
            try:
                texts.append(self.vocabulary.decode(np.asarray(out["ids"]).ravel()))
            except ValueError as error:
                raise ModelError(f"{self.path}: {error}") from None
            confidences.append(float(out["confidence"][0]))
        return texts, np.asarray(confidences, np.float32)
