"""Starting from a model you have (--init-from), and confidence a user can act on."""

import json

import numpy as np
import pytest

from conftest import make_folder, random_labels
from crnn_keras.cli import main
from crnn_keras.contract import Vocabulary
from crnn_keras.metrics import coverage
from crnn_keras.model.backbone import build_backbone
from crnn_keras.model.config import ModelConfig
from crnn_keras.model.heads import find_backbone
from crnn_keras.model.transfer import config_of, warm_start
from crnn_keras.runtime.keras_reader import load_keras_reader


def cli(capsys, *args):
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.mark.parametrize("config", [ModelConfig(), ModelConfig(height=16, width=64, block_widths=(8, 12),
                                                                 width_halvings=2, rnn_units=8, dropout=0.0),
                                    ModelConfig(height=32, stem_stride=1, width=128)])
def test_the_config_is_read_back_from_a_backbone(config):
    assert config_of(build_backbone(5, config)) == ModelConfig(**{**config.__dict__,
                                                                  "block_widths": tuple(config.block_filters()),
                                                                  "rnn_units": config.gru_units,
                                                                  "channels": config.input_channels})


def test_a_warm_start_reads_like_the_source_and_grows_the_logits(trained_run, tiny_images):
    images, _ = tiny_images
    source = find_backbone(load_keras_reader(trained_run["model"]))  # folded: no batch norm left
    target = build_backbone(source.output.shape[-1] + 2, config_of(source))  # two new characters
    warm_start(source, target)
    before = source.predict(images, verbose=0)
    after = target.predict(images, verbose=0)
    np.testing.assert_allclose(after[..., : before.shape[-1]], before, atol=1e-3)


def test_init_from_trains_on_new_characters_keeping_the_known_ids(trained_run, tmp_path, capsys):
    folder = tmp_path / "more"
    labels = random_labels(12, seed=7, lengths=(3, 3))
    make_folder(str(folder), [label[:2] + "z" for label in labels])  # a character the source never saw
    out = tmp_path / "run"
    status, stdout, err = cli(capsys, "train", "--data", folder, "--init-from", trained_run["model"], "--out", out,
                              "--epochs", "2", "--batch-size", "4")
    assert status == 0, err
    run = json.load(open(out / "run.json"))
    known = Vocabulary(tuple(load_keras_reader(trained_run["model"]).get_layer("decoder").vocabulary))
    assert run["vocabulary"] == list(known.characters) + ["z"]
    assert (run["model"]["height"], run["model"]["width"]) == (16, 64) and run["train"]["init_from"]
    status, _, err = cli(capsys, "train", "--data", folder, "--init-from", trained_run["model"], "--height", "32")
    assert status == 1 and "takes the model's shape from" in err


def test_coverage_gives_accuracy_and_threshold_for_the_most_confident_reads():
    confidences = [0.99, 0.95, 0.9, 0.5, 0.2] * 20
    correct = [True, True, True, True, False] * 20
    rows = coverage(confidences, correct)
    assert [r["coverage"] for r in rows] == [0.9, 0.95, 0.99]
    assert rows[0] == {"coverage": 0.9, "accuracy": 80 / 90, "threshold": 0.2}
    assert coverage([0.9, 0.1], [True, False], levels=(0.5,)) == [{"coverage": 0.5, "accuracy": 1.0, "threshold": 0.9}]


def test_evaluate_reports_coverage_and_predict_rejects_below_a_threshold(trained_run, capsys):
    status, out, _ = cli(capsys, "evaluate", "--model", trained_run["model"], "--data", trained_run["data"], "--json")
    rows = json.loads(out)["coverage"]
    assert status == 0 and [r["coverage"] for r in rows] == [0.9, 0.95, 0.99] and rows[0]["accuracy"] == 1.0
    threshold = rows[0]["threshold"]
    status, out, err = cli(capsys, "predict", "--model", trained_run["model"], "--min-confidence", threshold,
                           trained_run["data"])
    kept, rejected = out.splitlines(), [l for l in err.splitlines() if l.startswith("rejected: ")]
    assert status == 0 and len(kept) + len(rejected) == 32 and len(kept) >= 28
    assert all(float(line.split("\t")[2]) >= threshold for line in kept)
    status, _, err = cli(capsys, "predict", "--model", trained_run["model"], "--min-confidence", "2", trained_run["data"])
    assert status == 1 and "--min-confidence: expected a number between 0 and 1" in err
