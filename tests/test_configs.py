"""Configs refuse what no run can use, and migrate what earlier versions wrote."""

import dataclasses
import logging

import pytest

from crnn_keras.model.config import ModelConfig
from crnn_keras.train.config import TrainConfig


@pytest.mark.parametrize("kwargs, message", [
    (dict(epochs=0), "--epochs: expected an integer ≥ 1, received 0"),
    (dict(patience=-2), "--patience: expected an integer ≥ 1, received -2"),
    (dict(batch_size=0), "--batch-size: expected an integer ≥ 1, received 0"),
    (dict(val_split=1.0), "--val-split: expected a fraction between 0 and 1, received 1.0"),
    (dict(learning_rate=0.0), "--learning-rate: expected a number > 0, received 0.0"),
    (dict(learning_rate=float("nan")), "--learning-rate: expected a number > 0, received nan"),
])
def test_train_config_refuses_values_no_run_can_use(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(data="d", **kwargs)


def test_train_config_round_trips_and_refuses_unknown_or_mistyped_keys():
    cfg = TrainConfig(data="d", epochs=3, label_regex=r"^(.+)_\d+$")
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown key 'epoch' \\(expected one of augment, batch_size"):
        TrainConfig.from_dict({**cfg.to_dict(), "epoch": 3})
    with pytest.raises(ValueError, match="epochs expected int, received '3'"):
        TrainConfig.from_dict({**cfg.to_dict(), "epochs": "3"})
    with pytest.raises(ValueError, match="expected a JSON object, received str"):
        TrainConfig.from_dict("epochs")


def test_benchmark_keys_of_version_0_1_are_migrated_with_a_note(caplog):
    old = {**TrainConfig(data="d").to_dict(), "architecture": "crnn", "schedule": "cosine", "monitor": "val_accuracy"}
    with caplog.at_level(logging.INFO):
        assert TrainConfig.from_dict(old) == TrainConfig(data="d")
    assert "dropped 'architecture', written by an earlier version" in caplog.text
    with pytest.raises(ValueError, match="schedule 'cosin' was a benchmark option"):
        TrainConfig.from_dict({**old, "schedule": "cosin"})


def test_model_config_migrates_a_missing_stem_stride_and_refuses_unknown_keys(caplog):
    current = ModelConfig().to_dict()
    assert ModelConfig.from_dict(current) == ModelConfig()
    old = {k: v for k, v in current.items() if k != "stem_stride"}
    with caplog.at_level(logging.INFO):
        assert ModelConfig.from_dict(old).stem_stride == 1
    assert "no stem_stride" in caplog.text
    with pytest.raises(ValueError, match="unknown key 'heigth'"):
        ModelConfig.from_dict({**current, "heigth": 32})
    with pytest.raises(ValueError, match="block_widths expected tuple\\[int, ...\\] \\| None, received \\[16, 'x'\\]"):
        ModelConfig.from_dict({**current, "block_widths": [16, "x"]})
    assert ModelConfig.from_dict({**current, "block_widths": [8, 8]}).block_widths == (8, 8)


def test_widths_follow_the_training_set_size_unless_given():
    small, large = ModelConfig().fit_data(1999), ModelConfig().fit_data(2000)
    assert (small.block_widths, small.rnn_units) == ((24, 48, 72, 96), 96)
    assert (large.block_widths, large.rnn_units) == ((16, 32, 64, 96), 96)
    assert ModelConfig().block_filters() == [24, 48, 72, 96]  # built before the data is known
    assert ModelConfig().gru_units == 96
    assert ModelConfig(block_widths=(8, 8)).fit_data(50_000).block_widths == (8, 8)
    assert ModelConfig(rnn_units=8).fit_data(10) == ModelConfig(block_widths=(24, 48, 72, 96), rnn_units=8)
    assert ModelConfig.from_dict(large.to_dict()) == large and large.fit_data(10) == large
    assert TrainConfig(data="").batch_size is None  # the batch follows the same threshold
    from crnn_keras.train.config import default_batch_size
    assert (default_batch_size(1999), default_batch_size(2000)) == (16, 32)


def test_train_compact_builds_the_small_model_at_any_data_size(tmp_path):
    import argparse

    from crnn_keras.cli.common import UserError
    from crnn_keras.cli.train import add_arguments, new_configs

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    _, model = new_configs(parser.parse_args(["--data", str(tmp_path), "--compact"]))
    assert model.fit_data(100) == model.fit_data(50_000)
    assert (model.fit_data(100).block_widths, model.fit_data(100).rnn_units) == ((16, 32, 48, 64), 96)
    with pytest.raises(UserError, match="--compact"):  # the shape comes from the model started from
        new_configs(parser.parse_args(["--data", str(tmp_path), "--compact", "--init-from", "m.keras"]))


def test_model_config_validation_says_what_it_expected():
    with pytest.raises(ValueError, match="dropout: expected 0 ≤ dropout < 1, received 1.5"):
        dataclasses.replace(ModelConfig(), dropout=1.5).validate()
