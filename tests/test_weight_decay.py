"""Weight decay (--weight-decay): AdamW when set, recorded in run.json and kept on resume; plain Adam at 0."""

import argparse
import json
import os

import keras
import pytest

from crnn_keras.train.config import TrainConfig
from crnn_keras.train.trainer import cosine_adam


def test_weight_decay_trains_with_adamw_and_its_decay():
    optimizer = cosine_adam(TrainConfig(data="d", weight_decay=0.05), steps_per_epoch=10)
    assert isinstance(optimizer, keras.optimizers.AdamW)
    assert optimizer.weight_decay == pytest.approx(0.05)


def test_the_default_is_plain_adam():
    assert TrainConfig.weight_decay == 0.0
    assert type(cosine_adam(TrainConfig(data="d"), steps_per_epoch=10)) is keras.optimizers.Adam


@pytest.mark.parametrize("value", [-0.1, 1.0, True, "0.05", float("nan")])
def test_weight_decay_outside_0_to_1_is_refused(value):
    with pytest.raises(ValueError, match="--weight-decay: expected a number from 0 to below 1"):
        TrainConfig(data="d", weight_decay=value)


def test_run_json_without_weight_decay_reads_as_0():
    old = TrainConfig(data="d").to_dict()
    del old["weight_decay"]
    assert TrainConfig.from_dict(old).weight_decay == 0.0


def test_the_command_line_flag_sets_it(tiny_folder):
    from crnn_keras.cli.train import add_arguments, new_configs

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    for flags, expected in ((["--weight-decay", "0.01"], 0.01), (["--weight-decay", "0"], 0.0),
                            ([], TrainConfig.weight_decay)):
        cfg, _ = new_configs(parser.parse_args(["--data", tiny_folder, *flags]))
        assert cfg.weight_decay == expected


def test_a_run_records_its_weight_decay_and_resumes_with_it(tiny_folder, tmp_path):
    from crnn_keras.model.config import ModelConfig
    from crnn_keras.train.trainer import train
    from tests.conftest import TINY_MODEL, train_until_ctrl_c

    out = str(tmp_path / "run")
    cfg = TrainConfig(data=tiny_folder, val_data=tiny_folder, out=out, epochs=2, batch_size=8, augment=False,
                      weight_decay=0.02)
    train_until_ctrl_c(cfg, ModelConfig(**TINY_MODEL))  # the checkpoint, with its optimizer, stays for --resume
    with open(os.path.join(out, "run.json"), encoding="utf-8") as f:
        assert json.load(f)["train"]["weight_decay"] == 0.02
    checkpoint = keras.saving.load_model(os.path.join(out, "checkpoint.keras"))
    assert isinstance(checkpoint.optimizer, keras.optimizers.AdamW)
    assert checkpoint.optimizer.weight_decay == pytest.approx(0.02)
    assert train(cfg, ModelConfig(**TINY_MODEL), resume=True)["epochs_run"] == 2
