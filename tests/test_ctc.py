import keras
import numpy as np
import pytest

from crnn_keras.contract import Vocabulary, greedy_decode
from crnn_keras.data.pipeline import make_lookup
from crnn_keras.model.ctc import CTCLoss
from crnn_keras.model.decoder import CTCDecoder, beam_decode


def one_hot_logits(frames, classes, scale=10.0):
    logits = np.full((1, len(frames), classes), -scale, np.float32)
    logits[0, np.arange(len(frames)), frames] = scale
    return logits


def test_vocabulary_round_trip_text_ids_logits_text():
    vocabulary = Vocabulary(("a", "b", "n", "p", "w", "3"))
    lookup = make_lookup(vocabulary)
    ids = [int(i) for i in lookup(list("3nnpw")).numpy()]
    assert ids == vocabulary.encode("3nnpw") and 0 not in ids
    assert int(lookup(["?"]).numpy()[0]) == 0  # unknown → 0, the blank
    # An alignment with the doubled 'n' split by a blank, repeats and blanks around.
    frames = [0, ids[0], ids[0], 0, ids[1], 0, ids[2], ids[2], ids[3], 0, ids[4], 0]
    logits = one_hot_logits(frames, len(vocabulary) + 1)
    texts, confidence = greedy_decode(logits, vocabulary)
    assert texts == ["3nnpw"] and 0.99 < confidence[0] <= 1.0
    layer_out = CTCDecoder(vocabulary.characters)(logits)
    assert layer_out["text"].numpy()[0].decode() == "3nnpw"
    assert beam_decode(logits, vocabulary, beam_width=5)[0] == ["3nnpw"]


def test_ctc_loss_falls_on_a_fixed_batch():
    keras.utils.set_random_seed(0)
    labels = np.array([[1, 2, 2, 0], [3, 1, 0, 0]], np.int32)
    label_in = keras.Input((4,), dtype="int32")
    feature_in = keras.Input((12, 8))
    logits = keras.layers.Dense(4)(feature_in)
    model = keras.Model([label_in, feature_in], CTCLoss()(label_in, logits))
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    features = np.random.default_rng(0).normal(size=(2, 12, 8)).astype(np.float32)
    history = model.fit([labels, features], epochs=150, verbose=0).history["loss"]
    assert history[-1] < history[0] * 0.2
    texts, _ = greedy_decode(model.predict([labels, features], verbose=0), Vocabulary(("a", "b", "c")))
    assert texts == ["abb", "ca"]


def test_layers_round_trip_through_config():
    for layer in (CTCLoss(blank_index=0, name="l"), CTCDecoder(["x", "가"], name="d")):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
        restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
        assert type(restored) is type(layer)


def test_decoder_reads_the_blank_index_that_version_0_1_saved():
    config = {**CTCDecoder(["a"]).get_config(), "blank_index": 0}
    assert CTCDecoder.from_config(config).vocabulary == ["a"]
    with pytest.raises(ValueError, match="blank_index: expected 0, received 2"):
        CTCDecoder.from_config({**config, "blank_index": 2})
