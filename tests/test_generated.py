"""Fresh synthetic captchas (`train` with no data, `--synthetic fresh`): new images every epoch, a fixed
validation set."""

import itertools
import json
import os

import numpy as np
import pytest

from conftest import TINY_MODEL
from crnn_keras.cli import main
from crnn_keras.data import synthetic
from crnn_keras.data.generated import GeneratedSource


def cli(capsys, *args):
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def test_the_stream_is_seeded_and_keeps_to_its_alphabet_and_lengths():
    first = list(itertools.islice(synthetic.stream(3, 2, 3, "xy7", 64, 24), 20))
    again = list(itertools.islice(synthetic.stream(3, 2, 3, "xy7", 64, 24), 20))
    other = list(itertools.islice(synthetic.stream(4, 2, 3, "xy7", 64, 24), 20))
    assert [t for _, t in first] == [t for _, t in again] != [t for _, t in other]
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for (a, _), (b, _) in zip(first, again))
    assert all(2 <= len(t) <= 3 and set(t) <= set("xy7") for _, t in first)
    assert {image.size for image, _ in first} == {(64, 24)}


def test_every_epoch_draws_new_images_and_validation_stays_fixed():
    source = GeneratedSource(per_epoch=10, val_count=6, alphabet="ab12", min_length=3, max_length=4, seed=0)
    data = source.load(16, 48, 1)
    assert data.val.images.shape == (6, 16, 48, 1) and len(data.train) == 10
    assert data.vocabulary().characters == tuple("ab12") and data.max_label_length == 4
    assert data.label_lengths == (3, 4) and data.train.min_label_length == 3
    train, val = data.datasets(data.vocabulary(), 4, batch_size=4, augment=False, seed=0)
    assert int(train.cardinality()) == 3  # 4 + 4 + 2: Keras knows an epoch's length
    assert train.options().autotune.enabled is False and val.options().autotune.enabled is False
    epoch1 = np.concatenate([b["image"].numpy() for b in train])
    epoch2 = np.concatenate([b["image"].numpy() for b in train])
    assert epoch1.shape == (10, 16, 48, 1) and not np.array_equal(epoch1, epoch2)
    val1 = np.concatenate([b["image"].numpy() for b in val])
    val2 = np.concatenate([b["image"].numpy() for b in val])
    assert np.array_equal(val1, val2) and np.array_equal(val1, data.val.images)
    # Validation never repeats a training drawing: its seed is far from every epoch's.
    assert not any(np.array_equal(v, t) for v in data.val.images for t in epoch1)


@pytest.mark.parametrize("args, message", [
    (["--synthetic", "fixed", "--data", "somewhere"], "--synthetic describes the captchas trained on when no data"),
    (["--synthetic-lengths", "4", "--labels", "l.csv"], "--synthetic-lengths describes the captchas trained on"),
    (["--label-regex", "(.*)"], "fresh synthetic captchas need no --label-regex (for the cached set: --synthetic fixed)"),
    (["--val-data", "somewhere"], "fresh synthetic captchas need no --val-data"),
    (["--synthetic-lengths", "4-x"], "--synthetic-lengths: expected MIN-MAX"),
    (["--synthetic-lengths", "5-3"], "--synthetic-lengths 5-3: expected 1 ≤ MIN ≤ MAX"),
    (["--synthetic-alphabet", "aa"], "--synthetic-alphabet 'aa': expected distinct characters"),
    (["--synthetic-alphabet", "a b"], "expected distinct characters, none of them blank"),
])
def test_bad_synthetic_options_are_one_line_before_anything_is_drawn(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.setenv("CRNN_KERAS_CACHE", str(tmp_path / "cache"))
    status, _, err = cli(capsys, "train", *args, "--out", tmp_path / "run")
    assert status == 1 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()


def test_a_fresh_run_records_its_style_and_resumes(tmp_path, capsys):
    from crnn_keras.run_folder import RunFolder
    from crnn_keras.train.config import TrainConfig
    from crnn_keras.train.trainer import data_source_of
    from crnn_keras.model.config import ModelConfig
    from tests.conftest import train_until_ctrl_c

    cfg = TrainConfig(data="", out=str(tmp_path / "run"), epochs=2, batch_size=8, fresh_per_epoch=16,
                      val_split=0.5, fresh_alphabet="ab12", fresh_lengths=(2, 3))
    train_until_ctrl_c(cfg, ModelConfig(**TINY_MODEL))
    saved = json.load(open(tmp_path / "run" / "run.json"))["train"]
    assert saved["fresh_per_epoch"] == 16 and saved["fresh_alphabet"] == "ab12" and saved["fresh_lengths"] == [2, 3]
    info = RunFolder(str(tmp_path / "run")).read_info()
    assert data_source_of(info.train) == GeneratedSource(16, 8, "ab12", 2, 3, seed=0)
    status, out, err = cli(capsys, "train", "--resume", tmp_path / "run")
    assert status == 0, err
    assert "resuming" in err and "epochs: 2" in out
    assert len(open(tmp_path / "run" / "history.csv").read().strip().splitlines()) == 3  # header + 2 epochs


def test_with_no_data_the_cli_trains_on_fresh_captchas_and_names_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CRNN_KERAS_CACHE", str(tmp_path / "cache"))
    status, out, err = cli(capsys, "train", "--synthetic-count", "16", "--epochs", "1",
                           "--synthetic-alphabet", "0123456789", "--synthetic-lengths", "4", "--height", "16",
                           "--width", "64", "--batch-size", "8")
    assert status == 0, err
    assert "runs/synthetic-fresh-16/model.keras" in out
    saved = json.load(open(os.path.join("runs", "synthetic-fresh-16", "run.json")))["train"]
    assert saved["fresh_lengths"] == [4, 4] and saved["data"] == "" and saved["fresh_per_epoch"] == 16
    assert not (tmp_path / "cache").exists()  # nothing was written to disk but the run
