"""Reading with an exported `.tflite` model through the LiteRT interpreter.

Needs NumPy and `ai-edge-litert` only: this is the path a phone mirrors.
"""

from __future__ import annotations

import os

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from crnn_keras.contract import OUTPUTS, SIGNATURE, ModelError, Vocabulary
from crnn_keras.quiet import native_stderr_silenced


class LiteModel:
    """A crnn_keras TFLite model: image (1, H, W, C) uint8 → ids, confidence, vocabulary."""

    def __init__(self, path: str, num_threads: int | None = None):
        if not os.path.isfile(path):
            raise ModelError(f"{path}: no such model file")
        try:
            with native_stderr_silenced():  # "INFO: Created TensorFlow Lite XNNPACK delegate"
                self.interpreter = Interpreter(model_path=path, num_threads=num_threads)
            signatures = self.interpreter.get_signature_list()
        except (ValueError, RuntimeError) as error:
            detail = str(error).strip().splitlines()[0][:200] if str(error).strip() else "unreadable"
            raise ModelError(f"{path}: not a TFLite model ({detail})") from None
        outputs = set(signatures.get(SIGNATURE, {}).get("outputs", []))
        if not set(OUTPUTS) <= outputs:
            raise ModelError(
                f"{path}: a TFLite model, but not one exported by crnn_keras "
                f"(needs signature {SIGNATURE!r} with outputs {', '.join(OUTPUTS)})"
            )
        self.runner = self.interpreter.get_signature_runner(SIGNATURE)
        spec = self.runner.get_input_details()["image"]
        _, self.height, self.width, self.channels = (int(d) for d in spec["shape"])
        with native_stderr_silenced():  # the first run creates the XNNPACK delegate
            blank = np.zeros((1, self.height, self.width, self.channels), np.uint8)
            codepoints = self.runner(image=blank)["vocabulary"]
        try:
            self.vocabulary = Vocabulary.from_codepoints(codepoints)
        except ValueError as error:
            raise ModelError(f"{path}: {error}") from None

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
            texts.append(self.vocabulary.decode(out["ids"][0]))
            confidences.append(float(out["confidence"][0]))
        return texts, np.asarray(confidences, np.float32)
