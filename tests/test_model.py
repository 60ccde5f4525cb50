import keras
import numpy as np
import pytest

from crnn_keras.model import ModelConfig, build_backbone, build_reader, build_trainer, find_backbone, find_decoder


@pytest.mark.parametrize("height, width, blocks", [(16, 64, 3), (32, 128, 4), (64, 96, 5)])
def test_height_reaches_exactly_one_through_the_2x5_conv(height, width, blocks):
    cfg = ModelConfig(height=height, width=width)
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
])
def test_bad_shapes_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_backbone(5, ModelConfig(**kwargs))


def test_blocks_are_residual_with_height_halving_strides():
    backbone = build_backbone(5, ModelConfig())
    strides = [backbone.get_layer(f"block{i}_conv1").strides for i in range(1, 5)]
    assert strides == [(2, 2), (2, 2), (2, 2), (2, 1)]  # 3 width halvings: 20 time steps at width 160
    assert isinstance(backbone.get_layer("block1_add"), keras.layers.Add)


def test_reader_and_trainer_share_the_backbone(tmp_path):
    backbone = build_backbone(4, ModelConfig(height=16, width=32))
    reader = build_reader(backbone, ["a", "b", "c"])
    trainer = build_trainer(backbone, 5)
    assert find_backbone(reader) is find_backbone(trainer) is backbone
    assert find_decoder(reader).vocabulary == ["a", "b", "c"]
    out = reader.predict(np.zeros((2, 16, 32, 1), np.uint8), verbose=0)
    assert out["text"].shape == (2,) and out["confidence"].shape == (2,) and out["logits"].shape == (2, 4, 4)


def test_reader_round_trips_through_keras_file_with_vocabulary(tmp_path):
    vocabulary = ["가", "A", "7"]
    reader = build_reader(build_backbone(4, ModelConfig(height=16, width=32)), vocabulary)
    path = str(tmp_path / "m.keras")
    reader.save(path)
    loaded = keras.saving.load_model(path)  # no custom_objects, safe mode
    assert find_decoder(loaded).vocabulary == vocabulary
    x = np.random.default_rng(0).integers(0, 255, (3, 16, 32, 1), dtype=np.uint8)
    a, b = reader.predict(x, verbose=0), loaded.predict(x, verbose=0)
    np.testing.assert_allclose(a["logits"], b["logits"], rtol=1e-5, atol=1e-5)
    assert list(a["text"]) == list(b["text"])


def test_model_with_lambda_is_refused(tmp_path):
    from crnn_keras.reader import ModelError, Reader

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    path = str(tmp_path / "lambda.keras")
    model.save(path)
    with pytest.raises(ModelError, match="cannot load"):
        Reader(path)


@pytest.mark.parametrize("width, longest, halvings, steps", [
    (128, 5, 3, 16),   # captchas: 16 steps hold 2·5+1 frames
    (128, 8, 2, 32),   # 17 frames needed
    (128, 20, 1, 64),  # 41 frames
    (130, 5, 1, 65),   # 130 halves only once
    (16, 10, 0, 16),   # nothing holds 21 frames: the most steps; check_labels_fit then names the label
])
def test_time_steps_fit_the_longest_label(width, longest, halvings, steps):
    fitted = ModelConfig(width=width).fit_labels(longest)
    assert (fitted.width_halvings, fitted.time_steps) == (halvings, steps)


def test_width_halvings_never_exceed_the_blocks():
    assert ModelConfig(height=8, width=64).fit_labels(3).width_halvings == 2  # 2 blocks at height 8

