"""ONNX export: the same contract as TFLite (uint8 pixels in; ids, confidence, vocabulary out), read with ONNX Runtime."""

import os

import numpy as np
import pytest

from crnn_keras.cli import main
from crnn_keras.contract import ModelError
from crnn_keras.runtime.reader import Reader


def cli(capsys, *args):
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.fixture(scope="module")
def onnx_model(trained_run, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "reader.onnx"
    assert main(["export", "--model", trained_run["model"], "--out", str(path)]) == 0
    return str(path)


def test_onnx_reads_the_same_strings_as_keras_including_blank_and_doubled(onnx_model, trained_run, tiny_images):
    images, labels = tiny_images
    blank = np.full((1, 16, 64, 1), 255, np.uint8)  # nothing to read: every step votes blank
    batch = np.concatenate([images, blank])
    keras_texts = [r.text for r in Reader(trained_run["model"]).read_arrays(batch)]
    onnx_texts = [r.text for r in Reader(onnx_model).read_arrays(batch)]
    assert onnx_texts == keras_texts and keras_texts[:-1] == labels and keras_texts[-1] == ""
    assert any(a == b for label in labels for a, b in zip(label, label[1:]))  # doubled letters among them


def test_onnx_model_has_a_dynamic_batch_and_carries_its_vocabulary(onnx_model, trained_run):
    from crnn_keras.runtime.onnx_model import OnnxModel

    model = OnnxModel(onnx_model)
    assert model.batch_is_dynamic() and model.input_description() == "image uint8 [B, 16, 64, 1]"
    assert list(model.vocabulary.characters) == Reader(trained_run["model"]).vocabulary
    out = model.run(np.zeros((3, 16, 64, 1), np.uint8))
    assert out["ids"].shape == (3, 32) and out["ids"].dtype == np.int32 and out["confidence"].shape == (3,)


def test_cli_evaluates_with_onnx_and_refuses_what_onnx_cannot_do(onnx_model, trained_run, tmp_path, capsys):
    status, out, err = cli(capsys, "evaluate", "--model", onnx_model, "--data", trained_run["data"], "--json")
    assert status == 0 and '"sequence_accuracy": 1.0' in out, err
    status, _, err = cli(capsys, "export", "--model", trained_run["model"], "--out", tmp_path / "q.onnx",
                         "--quantize", "int8")
    assert status == 1 and "the ONNX export is float32" in err
    status, _, err = cli(capsys, "predict", "--model", onnx_model, "--beam-width", "3", trained_run["data"])
    assert status == 1 and "beam search (--beam-width) needs a .keras model" in err
    (tmp_path / "junk.onnx").write_bytes(os.urandom(300))
    with pytest.raises(ModelError, match="not an ONNX model"):
        Reader(str(tmp_path / "junk.onnx"))
