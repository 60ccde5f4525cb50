"""Export a reader to TFLite with greedy CTC decoding inside the graph.

The graph takes one image, uint8 (1, H, W, C), and returns (signature "serve"):
    ids         (1, T) int32   character ids, front-packed, padded with -1;
                               id i ≥ 1 is vocabulary[i - 1]
    confidence  (1,)   float32 probability of the best path
    vocabulary  (V,)   int32   the vocabulary as Unicode code points

The vocabulary is an output of the model itself, so an app cannot pair a model
with the wrong character list. Only built-in TFLite ops are used (no Flex, no
custom ops): the collapse is argmax, compare, cumsum and a one-hot scatter, all
with static shapes, because a fixed batch of 1 is what converts a GRU cleanly.

The GRU is exported unrolled over its T steps. As a WHILE loop it crashes the
int8 calibrator (TensorFlow issues #62281, #87468: segfault since TF 2.14), and
XNNPACK cannot delegate a WHILE loop, so the unrolled graph is also the faster one.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from crnn_keras import atomic, integrity
from crnn_keras.contract import SIGNATURE, Vocabulary
from crnn_keras.data.files import list_image_files
from crnn_keras.data.images import load_images
from crnn_keras.export.modes import QUANTIZE_MODES
from crnn_keras.export.portable import without_cudnn
from crnn_keras.model.heads import find_backbone, find_decoder
from crnn_keras.model.length_bound import decode_graph
from crnn_keras.run_folder import RunFolder
from crnn_keras.runtime.keras_reader import load_keras_reader
from crnn_keras.runtime.lite import LiteModel



def unrolled(backbone):
    """A copy of the backbone whose recurrent layers are unrolled (same weights, same outputs)."""
    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, keras.layers.Bidirectional):
            for key in ("layer", "backward_layer"):
                if key in config:
                    config[key]["config"]["unroll"] = True
        elif isinstance(layer, keras.layers.RNN):
            config["unroll"] = True
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(backbone, clone_function=clone)
    copy.set_weights(backbone.get_weights())
    return without_cudnn(copy)


def finish_flatbuffer(flatbuffer: bytes) -> bytes:
    """Drops tensor names (kilobytes per unrolled step; signatures keep theirs) and seals the
    file (`crnn_keras.integrity`: a metadata entry holding the SHA-256 of the whole file)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            tensor.name = None
    digest = schema.BufferT()
    digest.data = list(integrity.placeholder())
    model.buffers.append(digest)
    entry = schema.MetadataT()
    entry.name, entry.buffer = integrity.METADATA_NAME, len(model.buffers) - 1
    model.metadata = (model.metadata or []) + [entry]
    return integrity.seal(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))


def _calibration_batches(images: np.ndarray) -> Iterator[list[np.ndarray]]:
    for image in images:
        yield [image[None].astype(np.uint8)]


def convert(reader, quantize: str = "float32", calibration: np.ndarray | None = None) -> bytes:
    """A Keras reader → TFLite flatbuffer bytes.

    Args:
        reader: a reader model (as saved in model.keras).
        quantize: float32 | float16 | dynamic | int8.
        calibration: (N, H, W, C) uint8 images; required for int8.
    """
    if quantize not in QUANTIZE_MODES:
        raise ValueError(f"--quantize {quantize!r}: choose one of {', '.join(QUANTIZE_MODES)}")
    if quantize == "int8" and (calibration is None or len(calibration) == 0):
        raise ValueError("int8 needs calibration images: pass --calibration-data DIR")
    backbone = unrolled(find_backbone(reader))
    decoder = find_decoder(reader)
    vocabulary = Vocabulary(tuple(decoder.vocabulary))
    codepoints = tf.constant(vocabulary.codepoints(), tf.int32)
    _, height, width, channels = backbone.input_shape

    def serve(image):
        logits = backbone(image, training=False)
        ids, confidence = decode_graph(logits, decoder.label_lengths)
        # Tie the constant to the graph so the converter keeps it as a real output.
        vocab = codepoints + tf.zeros([], tf.int32) * tf.cast(tf.size(ids), tf.int32)
        return {"ids": ids, "confidence": confidence, "vocabulary": vocab}

    archive = keras.export.ExportArchive()
    archive.track(backbone)
    archive.add_endpoint(
        name=SIGNATURE,
        fn=serve,
        input_signature=[tf.TensorSpec([1, height, width, channels], tf.uint8, name="image")],
    )
    with tempfile.TemporaryDirectory() as tmp:
        archive.write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=[SIGNATURE])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantize != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if quantize == "int8":
            converter.representative_dataset = lambda: _calibration_batches(calibration)
        if quantize in ("int8", "dynamic"):
            # Each unrolled GRU step holds its own weight tensor (one shared buffer); per-channel
            # scales would repeat 3·units floats and int64 zero points on every one of them.
            converter._experimental_disable_per_channel_quantization_for_dense_layers = True
        return finish_flatbuffer(converter.convert())


def op_names(tflite_model: bytes | str) -> list[str]:
    """The distinct operator names in a TFLite model (flatbuffer bytes or a path)."""
    if isinstance(tflite_model, (bytes, bytearray)):
        interpreter = Interpreter(model_content=bytes(tflite_model))
    else:
        interpreter = Interpreter(model_path=tflite_model)
    return sorted({op["op_name"] for op in interpreter._get_ops_details()})


def export(model_path: str, out_path: str, quantize: str = "float32", calibration_dir: str | None = None) -> dict:
    """Loads model.keras, converts, writes `out_path`; returns a description.

    int8 calibrates on `calibration_dir`, else on the sample the training run
    kept beside the model (calibration.npy).
    """
    reader = load_keras_reader(model_path)
    calibration = None
    if quantize == "int8":
        calibration = load_calibration(model_path, calibration_dir, reader.input_shape[1:])
    flatbuffer = convert(reader, quantize, calibration)
    atomic.write_bytes(out_path, flatbuffer)
    lite = LiteModel(out_path)
    return {
        "path": out_path,
        "bytes": len(flatbuffer),
        "quantize": quantize,
        "input": lite.input_description(),
        "outputs": lite.output_description(),
        "ops": op_names(flatbuffer),
    }


def load_calibration(model_path: str, calibration_dir: str | None, shape: tuple[int, int, int]) -> np.ndarray:
    """Calibration images of `shape` (H, W, C): from a folder if given, else the sample of the
    run folder the model lies in (calibration.npy)."""
    shape = tuple(shape)
    if calibration_dir:
        files, _ = list_image_files([calibration_dir])
        images, kept, _ = load_images(files[:500], *shape)
        if not kept:
            raise ValueError(f"{calibration_dir}: no readable calibration images")
        return images
    images = RunFolder.of_model(model_path).load_calibration(shape)
    if images is None:
        raise ValueError(f"{model_path}: int8 needs calibration images and no {RunFolder.CALIBRATION} lies beside "
                         "the model: pass --calibration-data DIR")
    return images
