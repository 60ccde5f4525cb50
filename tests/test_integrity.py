"""The SHA-256 seal of exported models: any changed byte refuses the file in one line, and
files exported before the seal load as before."""

import pytest

from crnn_keras import integrity
from crnn_keras.contract import ModelError
from crnn_keras.runtime.reader import Reader

BODY = b"\x00model bytes\x01" * 40


def sealed_bytes() -> bytes:
    return integrity.seal(BODY + integrity.METADATA_NAME.encode() + integrity.placeholder() + BODY)


def test_a_sealed_file_checks_and_every_changed_byte_is_refused():
    data = sealed_bytes()
    assert integrity.check(data, "m.tflite") is True
    for at in range(0, len(data), 7):  # the seal's own bytes included
        damaged = bytearray(data)
        damaged[at] ^= 0x20
        with pytest.raises(ModelError, match=r"^m.tflite: damaged"):
            integrity.check(bytes(damaged), "m.tflite")


def test_an_unsealed_file_is_older_and_a_seal_needs_exactly_one_placeholder():
    assert integrity.check(BODY, "old.tflite") is False
    with pytest.raises(ValueError, match="found 0"):
        integrity.seal(BODY)
    with pytest.raises(ValueError, match="found 2"):
        integrity.seal(integrity.placeholder() * 2)
    twice = sealed_bytes() + integrity.TAG + b"f" * 64
    with pytest.raises(ModelError, match="seal is unreadable"):
        integrity.check(twice, "m.onnx")


def test_exports_are_sealed_and_a_flipped_weight_byte_is_refused(trained_run, tmp_path):
    from crnn_keras.export.onnx import export as export_onnx
    from crnn_keras.export.tflite import export as export_tflite

    for path in (export_tflite(trained_run["model"], str(tmp_path / "r.tflite"))["path"],
                 export_onnx(trained_run["model"], str(tmp_path / "r.onnx"))["path"]):
        assert Reader(path)._backend.sealed
        data = bytearray(open(path, "rb").read())
        data[len(data) // 2] ^= 1  # inside the weights: still a valid model, with one weight changed
        open(path, "wb").write(data)
        with pytest.raises(ModelError, match="damaged .its content does not match the SHA-256"):
            Reader(path)


def test_a_model_file_over_2_gib_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.tflite"
    with open(path, "wb") as file:
        file.truncate(2**31 + 1)  # sparse: no disk used
    with pytest.raises(ModelError, match="over 2 GiB"):
        Reader(str(path))
