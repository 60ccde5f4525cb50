"""TFLite export: every mode converts with built-in ops, reads like Keras, carries its vocabulary."""

import os

import numpy as np
import pytest

from conftest import run_cli
from crnn_keras.export.tflite import QUANTIZE_MODES, export, op_names
from crnn_keras.runtime.lite import LiteModel
from crnn_keras.contract import ModelError
from crnn_keras.runtime.reader import Reader


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tflite")
    return {mode: export(trained_run["model"], str(folder / f"{mode}.tflite"), mode) for mode in QUANTIZE_MODES}


def test_every_mode_uses_builtin_ops_only(exported):
    for mode, info in exported.items():
        ops = op_names(info["path"])
        assert ops == info["ops"]
        assert not [op for op in ops if op.startswith("Flex") or op in ("CUSTOM", "DELEGATE")], (mode, ops)
        assert "WHILE" not in ops  # the GRU is unrolled


def test_signature_and_vocabulary_round_trip(exported, trained_run):
    keras_reader = Reader(trained_run["model"])
    for info in exported.values():
        lite = LiteModel(info["path"])
        assert list(lite.vocabulary.characters) == keras_reader.vocabulary
        assert (lite.height, lite.width, lite.channels) == (16, 64, 1)
        out = lite.run(np.full((16, 64, 1), 255, np.uint8))
        assert out["ids"].shape == (1, 32) and out["ids"].dtype == np.int32
        assert out["confidence"].shape == (1,)


def lite_texts(path, images):
    return [r.text for r in Reader(path).read_arrays(images)]


def test_float_modes_read_exactly_like_keras(exported, trained_run, tiny_images):
    images, labels = tiny_images
    keras_texts = [r.text for r in Reader(trained_run["model"]).read_arrays(images)]
    assert keras_texts == labels
    for mode in ("float32", "float16"):
        assert lite_texts(exported[mode]["path"], images) == keras_texts, mode


def test_quantized_modes_agree_with_keras_on_most_images(exported, trained_run, tiny_images):
    images, _ = tiny_images
    keras_texts = [r.text for r in Reader(trained_run["model"]).read_arrays(images)]
    for mode in ("dynamic", "int8"):
        agreement = np.mean([a == b for a, b in zip(lite_texts(exported[mode]["path"], images), keras_texts)])
        assert agreement >= 0.9, (mode, agreement)


def test_quantized_files_are_smaller(exported):
    size = {mode: info["bytes"] for mode, info in exported.items()}
    assert size["float16"] < size["float32"] and size["int8"] < size["float16"] and size["dynamic"] < size["float16"]


def test_cli_export_and_predict_with_tflite(trained_run, tmp_path):
    out = str(tmp_path / "r.tflite")
    done = run_cli("export_tflite.py", "--model", trained_run["model"], "--out", out, "--quantize", "float16")
    assert done.returncode == 0, done.stderr
    assert "input: image uint8 [1, 16, 64, 1]" in done.stdout and "ops: " in done.stdout
    done = run_cli("-m", "crnn_keras", "evaluate", "--model", out, "--data", trained_run["data"], "--json")
    assert done.returncode == 0, done.stderr
    assert '"sequence_accuracy": 1.0' in done.stdout


def test_foreign_and_broken_models_are_refused(tmp_path, trained_run):
    import keras
    import tensorflow as tf

    inputs = keras.Input((4,), batch_size=1)
    foreign = tf.lite.TFLiteConverter.from_keras_model(keras.Model(inputs, keras.layers.Dense(2)(inputs))).convert()
    (tmp_path / "foreign.tflite").write_bytes(foreign)
    (tmp_path / "junk.tflite").write_bytes(os.urandom(500))
    (tmp_path / "junk.keras").write_bytes(os.urandom(500))
    truncated = open(trained_run["model"], "rb").read()
    (tmp_path / "truncated.keras").write_bytes(truncated[: len(truncated) // 2])
    (tmp_path / "model.onnx").write_bytes(b"x")
    (tmp_path / "model.pt").write_bytes(b"x")
    cases = {
        "foreign.tflite": "not one exported by crnn_keras",
        "junk.tflite": "not a TFLite model",
        "junk.keras": "not a .keras file",
        "truncated.keras": "not a .keras file",
        "model.onnx": "not an ONNX model",
        "model.pt": "unknown model type",
        "missing.keras": "no such model file",
    }
    for name, message in cases.items():
        with pytest.raises(ModelError, match=message):
            Reader(str(tmp_path / name))
        done = run_cli("-m", "crnn_keras", "predict", "--model", str(tmp_path / name), trained_run["data"])
        assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr


def test_int8_without_calibration_images_is_refused(trained_run, tmp_path):
    import shutil

    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(trained_run["model"], lone / "model.keras")  # no calibration.npy beside it
    done = run_cli("export_tflite.py", "--model", str(lone / "model.keras"), "--out", str(tmp_path / "q.tflite"),
                   "--quantize", "int8")
    assert done.returncode == 1
    assert "int8 needs calibration images" in done.stderr and "--calibration-data" in done.stderr
    done = run_cli("export_tflite.py", "--model", str(lone / "model.keras"), "--out", str(tmp_path / "q.tflite"),
                   "--quantize", "int8", "--calibration-data", str(tmp_path / "nothing"))
    assert done.returncode == 1 and "no such file or folder" in done.stderr


def test_keras_model_accessor_and_export_refuse_foreign_keras_models(trained_run, exported, tmp_path):
    import keras

    reader = Reader(trained_run["model"])
    assert isinstance(reader.keras_model, keras.Model) and reader.keras_model.input_shape == (None, 16, 64, 1)
    assert Reader(exported["float32"]["path"]).keras_model is None
    inputs = keras.Input((4,))
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).save(tmp_path / "dense.keras")
    for name, message in {"dense.keras": "not a crnn_keras reader", "missing.keras": "no such model file"}.items():
        done = run_cli("export_tflite.py", "--model", str(tmp_path / name), "--out", str(tmp_path / "x.tflite"))
        assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "x.tflite").exists()


def test_export_turns_the_cudnn_gru_off(trained_run):
    """A GPU-trained model must not trace CudnnRNNV3 into a .tflite or .onnx (keras#21799)."""
    import keras

    from crnn_keras.export.portable import _all_layers, without_cudnn
    from crnn_keras.export.tflite import unrolled
    from crnn_keras.model.heads import find_backbone

    backbone = find_backbone(keras.saving.load_model(trained_run["model"]))
    grus = [layer for layer in _all_layers(unrolled(backbone)) if isinstance(layer, keras.layers.GRU)]
    assert len(grus) == 2 and all(layer.use_cudnn is False for layer in grus)
    assert all(layer.use_cudnn is False for layer in _all_layers(without_cudnn(backbone))
               if isinstance(layer, keras.layers.GRU))
