"""The run folder: run.json and state.json read back checked and migrated; history truncation; atomic writes."""

import json
import math
import os

import numpy as np
import pytest

from crnn_keras.contract import Vocabulary
from crnn_keras.model.config import ModelConfig
from crnn_keras.run_folder import RUN_FORMAT, ResumeState, RunFolder, RunInfo
from crnn_keras.train.config import TrainConfig
from crnn_keras.version import __version__


def info() -> RunInfo:
    return RunInfo(model=ModelConfig(height=16, width=64), train=TrainConfig(data="d"),
                   vocabulary=Vocabulary(("a", "b")), max_label_length=4, train_images=9, val_images=1, keras="3")


def test_run_info_round_trips_and_records_the_versions(tmp_path):
    folder = RunFolder(str(tmp_path))
    folder.write_info(info())
    written = json.load(open(tmp_path / "run.json"))
    assert written["format"] == RUN_FORMAT and written["version"] == __version__
    assert folder.read_info() == info()
    assert os.listdir(tmp_path) == ["run.json"]  # no temporary file left behind


def test_run_json_of_version_0_1_is_migrated(tmp_path):
    old = info().to_dict()
    del old["format"], old["version"], old["model"]["stem_stride"]
    old["train"].update(architecture="crnn", schedule="cosine", monitor="val_accuracy")
    (tmp_path / "run.json").write_text(json.dumps(old))
    read = RunFolder(str(tmp_path)).read_info()
    assert read.format == 1 and read.version == "0.1.0" and read.model.stem_stride == 1


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(extra=1), "unknown key 'extra'"),
    (lambda d: d.pop("vocabulary"), "missing key 'vocabulary'"),
    (lambda d: d.update(max_label_length="4"), "max_label_length expected int, received '4'"),
    (lambda d: d.update(format=RUN_FORMAT + 1), "newer than this version reads"),
    (lambda d: d.update(vocabulary="ab"), "vocabulary expected a list of characters"),
])
def test_edited_run_json_is_refused_naming_the_file(tmp_path, edit, message):
    data = info().to_dict()
    edit(data)
    (tmp_path / "run.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=message) as error:
        RunFolder(str(tmp_path)).read_info()
    assert str(tmp_path / "run.json") in str(error.value)


def test_state_json_round_trips_drops_the_old_wait_and_checks_epochs(tmp_path):
    folder = RunFolder(str(tmp_path))
    state = ResumeState(epoch=3, best_accuracy=0.5, best_loss=math.inf, best_epoch=2, elapsed_s=9.5)
    folder.write_state(state)
    assert folder.read_state() == state
    (tmp_path / "state.json").write_text(json.dumps({"epoch": 3, "best_accuracy": 0.5, "best_loss": 1.0,
                                                     "best_epoch": 2, "wait": 1, "elapsed_s": 1.0}))
    assert folder.read_state().best_epoch == 2
    for bad, message in (({}, "missing key .best_accuracy."), ({**state.__dict__, "epoch": "2"}, "epoch expected int"),
                         ({**state.__dict__, "epoch": 1}, "best_epoch expected 0..1")):
        (tmp_path / "state.json").write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=message):
            folder.read_state()
    (tmp_path / "state.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        folder.read_state()


def test_history_is_cut_back_to_the_checkpoint(tmp_path):
    (tmp_path / "history.csv").write_text("epoch,loss\n0,3.0\n1,2.0\n2,1.0\n")
    RunFolder(str(tmp_path)).truncate_history(2)
    assert (tmp_path / "history.csv").read_text().splitlines() == ["epoch,loss", "0,3.0", "1,2.0"]


def test_calibration_sample_must_fit_the_model(tmp_path):
    folder = RunFolder(str(tmp_path))
    assert folder.load_calibration((16, 64, 1)) is None
    folder.save_calibration(np.zeros((3, 16, 64, 1), np.uint8))
    assert folder.load_calibration((16, 64, 1)).shape == (3, 16, 64, 1)
    with pytest.raises(ValueError, match="holds uint8 images of shape \\(16, 64, 1\\), the model takes uint8 \\(32, 64, 1\\)"):
        folder.load_calibration((32, 64, 1))


def test_a_file_named_like_the_run_folder_is_refused(tmp_path):
    (tmp_path / "run").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        RunFolder(str(tmp_path / "run")).create()
