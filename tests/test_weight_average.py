"""Weight averaging: validation and the saved reader see the moving average, training does not."""

import json
import os

import keras
import numpy as np
import pytest

from crnn_keras.train.callbacks import AveragedWeights
from crnn_keras.train.config import TrainConfig


class Probe(keras.callbacks.Callback):
    """Copies the model's weights at each epoch's start and end."""

    def __init__(self):
        super().__init__()
        self.begin, self.end = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.begin.append([w.copy() for w in self.model.get_weights()])

    def on_epoch_end(self, epoch, logs=None):
        self.end.append([w.copy() for w in self.model.get_weights()])


class LossProbe(keras.callbacks.Callback):
    """The validation loss Keras reported, and this model's own loss on the same data at epoch end."""

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y, self.reported, self.own = x, y, [], []

    def on_epoch_end(self, epoch, logs=None):
        self.reported.append(logs["val_loss"])
        self.own.append(float(keras.ops.mean(keras.ops.square(self.model(self.x) - self.y))))


def _fit(callbacks, epochs=3):
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.9), loss="mse")
    made = [c(x, y) if isinstance(c, type) else c for c in callbacks]
    model.fit(x, y, batch_size=8, epochs=epochs, validation_data=(x, y), callbacks=made, verbose=0)
    return model, made


def test_callbacks_between_lend_and_take_back_see_the_average_and_training_goes_on_raw():
    averaged, inside, outside = AveragedWeights(), Probe(), Probe()
    model, _ = _fit([averaged, averaged.lend, inside, averaged.take_back, outside])
    last_inside, last_outside = inside.end[-1], outside.end[-1]
    assert not all(np.allclose(a, b) for a, b in zip(last_inside, last_outside))
    # Each epoch trains on from the raw weights the previous one ended with, not from the average.
    for ended, began in zip(outside.end, outside.begin[1:]):
        assert all(np.array_equal(a, b) for a, b in zip(ended, began))
    # Keras puts the average into the model when fit ends: what the inside callbacks saw last.
    assert all(np.allclose(a, b) for a, b in zip(model.get_weights(), last_inside))


def test_keras_validation_loss_is_the_averaged_weights_loss():
    averaged = AveragedWeights()
    _, made = _fit([averaged, averaged.lend, LossProbe, averaged.take_back])
    probe = made[2]
    np.testing.assert_allclose(probe.reported, probe.own, rtol=1e-4)


@pytest.mark.parametrize("value", [0.0, 1.0, -0.5, True, "0.9"])
def test_weight_average_outside_0_to_1_is_refused(value):
    with pytest.raises(ValueError, match="--weight-average: expected a momentum between 0 and 1"):
        TrainConfig(data="d", weight_average=value)


def test_run_json_without_weight_average_reads_as_off():
    old = TrainConfig(data="d").to_dict()
    del old["weight_average"]
    assert TrainConfig.from_dict(old).weight_average is None


def test_a_run_with_weight_average_records_it_and_resumes_averaging(tiny_folder, tmp_path):
    from crnn_keras.model.config import ModelConfig
    from crnn_keras.train.trainer import train
    from tests.conftest import TINY_MODEL, train_until_ctrl_c

    out = str(tmp_path / "run")
    cfg = TrainConfig(data=tiny_folder, val_data=tiny_folder, out=out, epochs=2, batch_size=8, augment=False,
                      weight_average=0.9)
    train_until_ctrl_c(cfg, ModelConfig(**TINY_MODEL))
    checkpoint = keras.saving.load_model(os.path.join(out, "checkpoint.keras"))
    assert checkpoint.optimizer.use_ema and checkpoint.optimizer.ema_momentum == pytest.approx(0.9)
    with open(os.path.join(out, "run.json"), encoding="utf-8") as f:
        assert json.load(f)["train"]["weight_average"] == 0.9
    assert train(cfg, ModelConfig(**TINY_MODEL), resume=True)["epochs_run"] == 2


def test_the_command_line_flag_sets_it_and_0_or_nothing_leaves_it_off(tiny_folder):
    import argparse

    from crnn_keras.cli.train import add_arguments, new_configs

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    for flags, expected in ((["--weight-average", "0.99"], 0.99), (["--weight-average", "0"], None), ([], None)):
        cfg, _ = new_configs(parser.parse_args(["--data", tiny_folder, *flags]))
        assert cfg.weight_average == expected
