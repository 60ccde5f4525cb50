"""Reading with an exported `.onnx` model through ONNX Runtime (the `[onnx]` extra)."""

from __future__ import annotations

import numpy as np
import onnxruntime

from crnn_keras import integrity
from crnn_keras.contract import OUTPUTS, ModelError, Vocabulary
from crnn_keras.data.files import read_model_file


class OnnxModel:
    """A crnn_keras ONNX model: image (B, H, W, C) uint8 → ids, confidence, vocabulary."""

    def __init__(self, path: str, num_threads: int | None = None):
        content = read_model_file(path)
        self.path = path
        self.sealed = integrity.check(content, path)
        options = onnxruntime.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        options.log_severity_level = 3
        try:
            self.session = onnxruntime.InferenceSession(content, options, providers=["CPUExecutionProvider"])
        except Exception as error:  # noqa: BLE001  ONNX Runtime raises its own kinds for damaged files
            raise ModelError(f"{path}: not an ONNX model ({str(error).strip().splitlines()[0][:200]})") from None
        self.height, self.width, self.channels = self._input_size()
        self.vocabulary = self._vocabulary()

    def _input_size(self) -> tuple[int, int, int]:
        inputs, outputs = self.session.get_inputs(), [o.name for o in self.session.get_outputs()]
        if [i.name for i in inputs] != ["image"] or not set(OUTPUTS) <= set(outputs):
            raise ModelError(f"{self.path}: an ONNX model, but not one exported by crnn_keras (needs input image "
                             f"and outputs {', '.join(OUTPUTS)})")
        shape = inputs[0].shape
        if len(shape) != 4 or inputs[0].type != "tensor(uint8)" or not all(isinstance(d, int) for d in shape[1:]):
            raise ModelError(f"{self.path}: input image expected uint8 [B, H, W, C], received {inputs[0].type} {shape}")
        return shape[1], shape[2], shape[3]

    def _vocabulary(self) -> Vocabulary:
        try:
            out = self.run(np.zeros((1, self.height, self.width, self.channels), np.uint8))
            return Vocabulary.from_codepoints(np.asarray(out["vocabulary"]).ravel())
        except Exception as error:  # noqa: BLE001  a foreign graph can fail at its first run
            raise ModelError(f"{self.path}: not a crnn_keras reader ({str(error).strip()[:200]})") from None

    def batch_is_dynamic(self) -> bool:
        return not isinstance(self.session.get_inputs()[0].shape[0], int)

    def input_description(self) -> str:
        batch = "B" if self.batch_is_dynamic() else self.session.get_inputs()[0].shape[0]
        return f"image uint8 [{batch}, {self.height}, {self.width}, {self.channels}]"

    def output_description(self) -> list[str]:
        return [f"{o.name} {o.type} {o.shape}" for o in sorted(self.session.get_outputs(), key=lambda o: o.name)]

    def op_types(self) -> list[str]:
        import onnx

        return sorted({node.op_type for node in onnx.load(self.path).graph.node})

    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """(B, H, W, C) uint8 → the raw outputs."""
        values = self.session.run(list(OUTPUTS), {"image": np.asarray(images, np.uint8)})
        return dict(zip(OUTPUTS, values))

    def read_batch(self, images: np.ndarray, beam_width: int | None) -> tuple[list[str], np.ndarray]:
        if beam_width:
            raise ValueError("beam search (--beam-width) needs a .keras model: an ONNX model decodes greedily in its graph")
        texts, confidences = [], []
        for start in range(0, len(images), 64):
            out = self.run(images[start : start + 64])
            try:
                texts += [self.vocabulary.decode(row) for row in np.asarray(out["ids"])]
            except ValueError as error:
                raise ModelError(f"{self.path}: {error}") from None
            confidences += [float(c) for c in np.asarray(out["confidence"]).ravel()]
        return texts, np.asarray(confidences, np.float32)
