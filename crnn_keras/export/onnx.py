"""Export a reader to ONNX with the same contract as the TFLite model.

The graph takes raw pixels, uint8 (B, H, W, C) with a dynamic batch, and returns ids (B, T)
int32 padded with -1, confidence (B,) float32 and the vocabulary (V,) int32 as code points:
`crnn_keras.contract`'s greedy collapse, in plain ops (argmax, not-equal, cumsum, one-hot).
Keras' own `ctc_decode` converts but tf2onnx then treats the last class as the blank, where ours
is class 0; a collapse written with plain ops reads like Keras in ONNX Runtime.

Export on a CPU: a model traced on a GPU can capture cuDNN-only GRU ops (keras-team/keras#21799).
"""

from __future__ import annotations

import tensorflow as tf
import tf2onnx

from crnn_keras import atomic, integrity
from crnn_keras.contract import Vocabulary
from crnn_keras.export.portable import without_cudnn
from crnn_keras.model.heads import find_backbone, find_decoder
from crnn_keras.model.length_bound import decode_graph

OPSET = 17


def convert(reader) -> bytes:
    """A Keras reader → ONNX model bytes (dynamic batch)."""
    backbone = without_cudnn(find_backbone(reader))
    decoder = find_decoder(reader)
    vocabulary = Vocabulary(tuple(decoder.vocabulary))
    _, height, width, channels = backbone.input_shape
    spec = tf.TensorSpec([None, height, width, channels], tf.uint8, name="image")

    @tf.function(input_signature=[spec])
    def serve(image):
        logits = backbone(image, training=False)
        ids, confidence = decode_graph(logits, decoder.label_lengths)
        # Made inside the function: a constant captured from outside would become a graph input.
        vocab = tf.constant(vocabulary.codepoints(), tf.int32) + tf.zeros([], tf.int32) * tf.size(ids)
        return {"ids": tf.identity(ids, name="ids"), "confidence": tf.identity(confidence, name="confidence"),
                "vocabulary": tf.identity(vocab, name="vocabulary")}

    with tf.device("/cpu:0"):
        model, _ = tf2onnx.convert.from_function(serve, input_signature=[spec], opset=OPSET)
    entry = model.metadata_props.add()
    entry.key, entry.value = integrity.METADATA_NAME, integrity.placeholder().decode()
    return integrity.seal(model.SerializeToString())


def export(model_path: str, out_path: str) -> dict:
    """Loads model.keras, converts, writes `out_path` atomically; returns a description."""
    from crnn_keras.runtime.keras_reader import load_keras_reader
    from crnn_keras.runtime.onnx_model import OnnxModel

    data = convert(load_keras_reader(model_path))
    atomic.write_bytes(out_path, data)
    model = OnnxModel(out_path)
    return {"path": out_path, "bytes": len(data), "quantize": "float32 (ONNX)", "input": model.input_description(),
            "outputs": model.output_description(), "ops": model.op_types()}
