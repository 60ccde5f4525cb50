"""Run folders and models written by version 0.1 (commit 914c8e4) still evaluate, export and resume.

The fixture in tests/fixtures/legacy-914c8e4/ was made by tests/fixtures/legacy_run.py at that
commit; its images are drawn again here by the same script.
"""

import csv
import json
import os
import shutil
import sys

import pytest

from crnn_keras.cli import main
from crnn_keras.run_folder import RunFolder

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
sys.path.insert(0, FIXTURES)

from legacy_run import LABELS, make_images  # noqa: E402


@pytest.fixture
def legacy(tmp_path, monkeypatch):
    """A copy of the fixture with its data/ drawn again; the current folder is the copy (run.json says "data")."""
    shutil.copytree(os.path.join(FIXTURES, "legacy-914c8e4"), tmp_path, dirs_exist_ok=True)
    make_images(str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli(capsys, *args):
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_legacy_run_json_reads_with_migration(legacy):
    info = RunFolder(str(legacy / "finished")).read_info()
    assert info.format == 1 and info.version == "0.1.0" and info.train.data == "data"
    assert RunFolder(str(legacy / "interrupted")).read_state().epoch == 2


def test_legacy_models_evaluate_and_export(legacy, capsys):
    for run in ("finished", "interrupted"):
        status, out, err = cli(capsys, "evaluate", "--model", f"{run}/model.keras", "--data", "data", "--json")
        assert status == 0, err
        assert json.loads(out)["count"] == len(LABELS)
    for quantize in ("float32", "int8"):  # int8 calibrates on the legacy calibration.npy
        status, out, err = cli(capsys, "export", "--model", "finished/model.keras", "--out", f"{quantize}.tflite",
                               "--quantize", quantize)
        assert status == 0, err
    status, keras_out, _ = cli(capsys, "predict", "--model", "finished/model.keras", "data")
    status_lite, lite_out, err = cli(capsys, "predict", "--model", "float32.tflite", "data")
    assert status == status_lite == 0, err
    assert [line.split("\t")[:2] for line in lite_out.splitlines()] == \
        [line.split("\t")[:2] for line in keras_out.splitlines()]


def test_legacy_interrupted_run_resumes_to_the_end(legacy, capsys):
    status, out, err = cli(capsys, "train", "--resume", "interrupted")
    assert status == 0, err
    assert "resuming interrupted after epoch 2" in err and "epochs: 5" in out
    assert "written before data fingerprints" in err
    with open(legacy / "interrupted" / "history.csv") as f:
        assert [int(row["epoch"]) for row in csv.DictReader(f)] == [0, 1, 2, 3, 4]
    assert not RunFolder(str(legacy / "interrupted")).can_resume()
    status, _, err = cli(capsys, "evaluate", "--model", "interrupted/model.keras", "--data", "data")
    assert status == 0, err
