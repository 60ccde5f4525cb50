"""Decoding bounded to the training labels' lengths: the right path, the same reads everywhere."""

import itertools
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from crnn_keras.contract import ModelError, Vocabulary, greedy_collapse
from crnn_keras.model.decoder import CTCDecoder
from crnn_keras.model.heads import build_reader, find_backbone, find_decoder
from crnn_keras.model.length_bound import bounded_path_graph, decode_graph
from crnn_keras.runtime.keras_reader import load_keras_reader
from crnn_keras.runtime.reader import Reader


def exhaustive_best(log_probs, shortest, longest):
    """The most likely frame path whose collapse has shortest..longest characters, by trying all."""
    steps, classes = log_probs.shape
    best, best_score = None, -np.inf
    for path in itertools.product(range(classes), repeat=steps):
        ids = greedy_collapse(np.array([path]))[0]
        score = sum(log_probs[t, c] for t, c in enumerate(path))
        if shortest <= len(ids) <= longest and score > best_score:
            best, best_score = ids, score
    return best, best_score


def test_the_bounded_path_is_the_most_likely_one_of_an_allowed_length():
    rng = np.random.default_rng(0)
    for _ in range(12):
        steps, classes = int(rng.integers(3, 7)), int(rng.integers(2, 4))
        logits = rng.normal(size=(2, steps, classes)).astype(np.float32) * 3
        shortest = int(rng.integers(1, 3))
        longest = shortest + int(rng.integers(0, 2))
        paths = bounded_path_graph(tf.constant(logits), shortest, longest).numpy()
        log_probs = tf.nn.log_softmax(logits).numpy()
        for row, path in enumerate(paths):
            want, want_score = exhaustive_best(log_probs[row], shortest, longest)
            got = greedy_collapse(path[None])[0]
            score = sum(log_probs[row, t, c] for t, c in enumerate(path))
            # Equal reads, or (a tie within the fixed-point scores) an equally likely path.
            assert got == want or abs(score - want_score) < 1e-2
            assert shortest <= len(got) <= longest


def test_a_doubled_letter_merged_by_greedy_comes_back():
    logits = tf.constant([[[0.0, 5.0, 0.0], [4.0, 5.0, 0.0], [0.0, 5.0, 0.0]]])  # blank, a, b
    ids, _ = decode_graph(logits)
    assert ids.numpy().tolist() == [[1, -1, -1]]  # greedy: a·a·a → "a"
    ids, confidence = decode_graph(logits, [2, 2])
    assert ids.numpy().tolist() == [[1, 1, -1]]  # a·blank·a → "aa"
    assert 0 < confidence.numpy()[0] < 0.5  # the path it took is less likely than greedy's


def test_reads_in_range_and_empty_reads_are_greedy_ones():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(64, 12, 5)).astype(np.float32) * 3
    logits[0, :, 0] = 50.0  # an empty read
    greedy = [len(ids) for ids in greedy_collapse(np.argmax(logits, -1))]
    bounded, _ = decode_graph(tf.constant(logits), [3, 4])
    plain, _ = decode_graph(tf.constant(logits))
    for row, length in enumerate(greedy):
        if length == 0 or 3 <= length <= 4:
            assert bounded.numpy()[row].tolist() == plain.numpy()[row].tolist()
        else:
            assert 3 <= (bounded.numpy()[row] >= 0).sum() <= 4
    assert greedy[0] == 0 and any(not 3 <= n <= 4 for n in greedy[1:])


@pytest.mark.parametrize("lengths", ["ab", 5, [3], [3, 2], [0, 2], [True, 2], [1.0, 2], [1, 2, 3]])
def test_a_decoder_refuses_lengths_that_are_not_a_range(lengths):
    with pytest.raises(ValueError, match="label_lengths"):
        CTCDecoder(["a"], lengths)


@pytest.fixture(scope="module")
def bounded_reader(trained_run, tmp_path_factory):
    """The tiny trained reader bounded to 5–6 characters, which its 3–4 letter reads never are."""
    reader = load_keras_reader(trained_run["model"])
    assert find_decoder(reader).label_lengths == [3, 4]  # the tiny set's label lengths
    vocabulary = Vocabulary(tuple(find_decoder(reader).vocabulary))
    bounded = build_reader(find_backbone(reader), vocabulary, (5, 6))
    path = str(tmp_path_factory.mktemp("bounded") / "model.keras")
    bounded.save(path)
    return path


def test_a_bounded_reader_loads_in_safe_mode_and_reads_in_range(bounded_reader, tiny_images):
    images, labels = tiny_images
    model = keras.saving.load_model(bounded_reader)  # safe mode, no custom_objects
    assert find_decoder(model).get_config()["label_lengths"] == [5, 6]
    texts = [r.text for r in Reader(bounded_reader).read_arrays(images)]
    assert all(5 <= len(t) <= 6 for t in texts) and texts != labels
    beams = [r.text for r in Reader(bounded_reader).read_arrays(images, beam_width=4)]
    assert all(5 <= len(t) <= 6 for t in beams)


def test_tflite_and_onnx_read_what_the_bounded_keras_reader_reads(bounded_reader, tiny_images, tmp_path):
    from crnn_keras.export.onnx import export as export_onnx
    from crnn_keras.export.tflite import export as export_tflite

    images, _ = tiny_images
    keras_texts = [r.text for r in Reader(bounded_reader).read_arrays(images)]
    for path in (export_tflite(bounded_reader, str(tmp_path / "r.tflite"))["path"],
                 export_onnx(bounded_reader, str(tmp_path / "r.onnx"))["path"]):
        assert [r.text for r in Reader(path).read_arrays(images)] == keras_texts, path


def test_a_model_file_with_a_bad_length_bound_is_one_error(bounded_reader, tmp_path):
    import json
    import zipfile

    bad = tmp_path / "bad.keras"
    with zipfile.ZipFile(bounded_reader) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.namelist():
            data = src.read(item)
            if item == "config.json":
                data = json.dumps(json.loads(data)).replace('"label_lengths": [5, 6]', '"label_lengths": [6, 5]').encode()
            dst.writestr(item, data)
    with pytest.raises(ModelError, match="label_lengths"):
        load_keras_reader(str(bad))


def test_explain_shows_the_path_a_bounded_reader_took(bounded_reader, tiny_images):
    from crnn_keras.explain.alignment import explain

    images, _ = tiny_images
    reader = Reader(bounded_reader)
    for image in images[:3]:
        explanation = explain(reader.keras_model, image)
        reading = reader.read_arrays(image[None])[0]
        assert explanation.text == reading.text and 5 <= len(reading.text) <= 6
        assert explanation.confidence == pytest.approx(reading.confidence, rel=1e-3)
        merged = [c for c in explanation.merged if c != 0]
        assert "".join(explanation.symbol(c) for c in merged) == reading.text


def test_evaluate_json_reports_the_length_bound(bounded_reader, trained_run, capsys):
    from crnn_keras.cli import main

    assert main(["evaluate", "--model", bounded_reader, "--data", trained_run["data"], "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["decoder"] == "greedy" and result["length_bound"] == [5, 6]
    assert result["sequence_accuracy"] == 0.0  # every 3–4 letter label, read at 5–6 letters
    assert Reader(bounded_reader).label_lengths == (5, 6)
