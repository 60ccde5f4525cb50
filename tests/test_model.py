import keras
import numpy as np
import pytest

from crnn_keras.contract import Vocabulary
from crnn_keras.model.backbone import build_backbone, fold_batch_norm
from crnn_keras.model.config import ModelConfig
from crnn_keras.model.heads import build_reader, build_trainer, find_backbone, find_decoder


@pytest.mark.parametrize("height, width, stem_stride, blocks", [
    (16, 64, 2, 2), (32, 128, 2, 3), (64, 96, 2, 4), (128, 64, 2, 5), (32, 128, 1, 4),
])
def test_height_reaches_exactly_one_through_the_2x5_conv(height, width, stem_stride, blocks):
    cfg = ModelConfig(height=height, width=width, stem_stride=stem_stride)
    backbone = build_backbone(5, cfg)
    final = backbone.get_layer("final_conv_2x5")
    assert final.kernel_size == (2, 5)
    assert final.input.shape[1] == 2 and final.output.shape[1] == 1
    assert cfg.num_blocks == blocks
    assert backbone.output.shape == (None, width // 2**cfg.width_halvings, 5)


@pytest.mark.parametrize("kwargs, message", [
    (dict(height=48), "power of two"),
    (dict(height=4), "power of two"),
    (dict(width=130), "multiple of 8"),
    (dict(channels=2), "channels"),
    (dict(stem_stride=3), "stem_stride"),
    (dict(width_halvings=6), "expected 1..5 \\(the stem and 4 blocks\\), received 6"),
])
def test_bad_shapes_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_backbone(5, ModelConfig(**kwargs))


def test_blocks_are_residual_with_height_halving_strides():
    backbone = build_backbone(5, ModelConfig())
    assert backbone.get_layer("stem_conv").strides == (2, 2)
    strides = [backbone.get_layer(f"block{i}_conv1").strides for i in range(1, 5)]
    # 64 rows: the stem and four blocks halve the height to 2; the stem and two blocks halve
    # the width, so 160 columns give 20 time steps.
    assert strides == [(2, 2), (2, 2), (2, 1), (2, 1)]
    assert backbone.output.shape[1] == 20
    assert isinstance(backbone.get_layer("block1_add"), keras.layers.Add)


def test_reader_and_trainer_share_the_backbone(tmp_path):
    backbone = build_backbone(4, ModelConfig(height=16, width=32))
    reader = build_reader(backbone, Vocabulary(("a", "b", "c")))
    trainer = build_trainer(backbone, 5)
    assert find_backbone(reader) is find_backbone(trainer) is backbone
    assert find_decoder(reader).vocabulary == ["a", "b", "c"]
    out = reader.predict(np.zeros((2, 16, 32, 1), np.uint8), verbose=0)
    assert out["text"].shape == (2,) and out["confidence"].shape == (2,) and out["logits"].shape == (2, 4, 4)


def test_reader_round_trips_through_keras_file_with_vocabulary(tmp_path):
    vocabulary = ["가", "A", "7"]
    reader = build_reader(build_backbone(4, ModelConfig(height=16, width=32)), Vocabulary(tuple(vocabulary)))
    path = str(tmp_path / "m.keras")
    reader.save(path)
    loaded = keras.saving.load_model(path)  # no custom_objects, safe mode
    assert find_decoder(loaded).vocabulary == vocabulary
    x = np.random.default_rng(0).integers(0, 255, (3, 16, 32, 1), dtype=np.uint8)
    a, b = reader.predict(x, verbose=0), loaded.predict(x, verbose=0)
    np.testing.assert_allclose(a["logits"], b["logits"], rtol=1e-5, atol=1e-5)
    assert list(a["text"]) == list(b["text"])


def test_model_with_lambda_is_refused(tmp_path):
    from crnn_keras.contract import ModelError
    from crnn_keras.runtime.reader import Reader

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    path = str(tmp_path / "lambda.keras")
    model.save(path)
    with pytest.raises(ModelError, match="cannot load"):
        Reader(path)


@pytest.mark.parametrize("width, longest, halvings, steps", [
    (160, 5, 2, 40),   # captchas: 6 steps a character
    (160, 2, 3, 20),   # short labels keep the most halvings
    (128, 5, 2, 32),
    (128, 8, 1, 64),   # 48 frames wanted
    (128, 20, 1, 64),  # 120 wanted: none holds them, so the most steps
    (130, 5, 1, 65),   # 130 halves only once
    (16, 10, 1, 8),    # nothing holds 21 frames: the most steps (the stem always halves), and
                       # check_labels_fit then names the label
])
def test_time_steps_fit_the_longest_label(width, longest, halvings, steps):
    fitted = ModelConfig(width=width).fit_labels(longest)
    assert (fitted.width_halvings, fitted.time_steps) == (halvings, steps)


def test_training_fits_time_steps_to_the_labels_and_blocks_to_the_data_size():
    from crnn_keras.model.builder import CRNNBuilder
    small = CRNNBuilder().configure(ModelConfig(), max_label_length=5, train_images=936)
    large = CRNNBuilder().configure(ModelConfig(), max_label_length=5, train_images=6000)
    assert (small.time_steps, small.block_widths, small.rnn_units) == (40, (24, 48, 72, 96), 96)
    assert (large.time_steps, large.block_widths, large.rnn_units) == (40, (16, 32, 64, 96), 96)
    assert build_backbone(5, small).get_layer("bigru").forward_layer.units == 96


def test_without_a_strided_stem_the_blocks_may_keep_the_full_width():
    fitted = ModelConfig(width=16, stem_stride=1).fit_labels(10)
    assert (fitted.width_halvings, fitted.time_steps) == (0, 16)


def test_the_blank_prior_starts_the_blank_logit_at_its_share():
    import keras

    from crnn_keras.model.builder import CRNNBuilder

    config = ModelConfig(height=16, width=64, block_widths=(8, 8), rnn_units=8, width_halvings=2)
    backbone = CRNNBuilder().build(5, config, mean_label_length=4.0)
    probabilities = keras.ops.softmax(backbone.get_layer("logits").bias).numpy()
    assert probabilities[0] == pytest.approx(1 - 4 / 16) and probabilities[1:] == pytest.approx([0.0625] * 4)
    scratch = CRNNBuilder().build(5, config)  # --init-from: the weights come from the source
    assert not scratch.get_layer("logits").bias.numpy().any()


def test_width_halvings_never_exceed_the_blocks():
    # Height 8: the stem halves it to 4 and one block to 2, so at most two halvings.
    assert ModelConfig(height=8, width=64).fit_labels(1).width_halvings == 2
    assert ModelConfig(height=8, width=64, stem_stride=1).fit_labels(1).width_halvings == 2


def test_folding_batch_norm_keeps_the_outputs_and_drops_the_layers():
    cfg = ModelConfig(height=16, width=32)
    backbone = build_backbone(4, cfg)
    rng = np.random.default_rng(0)
    # Moving statistics far from the initial (0, 1), so a folding mistake shows.
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2.0, n), rng.normal(0, 0.5, n),
                               rng.normal(0, 0.5, n), rng.uniform(0.2, 3.0, n)])
    folded = fold_batch_norm(backbone, cfg)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    assert folded.count_params() < backbone.count_params()
    x = rng.integers(0, 255, (3, 16, 32, 1), dtype=np.uint8)
    np.testing.assert_allclose(folded.predict(x, verbose=0), backbone.predict(x, verbose=0), rtol=1e-4, atol=1e-4)
