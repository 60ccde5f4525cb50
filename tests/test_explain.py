"""explain: the per-step path and collapse behind a reading, and the pictures of a run."""

import json
import os

import numpy as np
import pytest

from crnn_keras.cli import main
from crnn_keras.contract import Vocabulary
from crnn_keras.explain.alignment import Explanation
from crnn_keras.runtime.reader import Reader
from crnn_keras.train import plots


def cli(capsys, *args):
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_the_path_merges_repeats_and_a_blank_keeps_a_doubled_letter():
    path = [1, 1, 0, 1, 2, 2, 0]  # a a · a b b ·
    probabilities = np.eye(3)[path] * 0.9 + 0.1 / 3
    explanation = Explanation(image=np.zeros((16, 28, 1), np.uint8), feature_maps=[], probabilities=probabilities,
                              vocabulary=Vocabulary(("a", "b")), text="aab", confidence=0.5)
    record = explanation.to_dict()
    assert record["path"] == ["a", "a", "·", "a", "b", "b", "·"]
    assert record["merged"] == ["a", "·", "a", "b", "·"]
    assert record["input_columns_per_step"] == 4.0


def test_explain_writes_a_picture_and_the_readers_own_path(trained_run, tmp_path, capsys):
    doubled = [n for n in sorted(os.listdir(trained_run["data"])) if any(a == b for a, b in zip(n, n[1:-4]))][:2]
    images = [os.path.join(trained_run["data"], n) for n in doubled]
    out = tmp_path / "explain"
    status, stdout, err = cli(capsys, "explain", "--model", trained_run["model"], "--out", out, "--beam-width", "3",
                              *images)
    assert status == 0, err
    reader = Reader(trained_run["model"])
    for name, reading in zip(doubled, reader.read(images)):
        stem = out / name[:-4]
        record = json.load(open(f"{stem}.json"))
        assert record["text"] == reading.text == name[:-4]  # a doubled letter, read through a blank
        assert "·" in record["path"] and record["time_steps"] == 32
        assert [m["shape"][0] for m in record["feature_maps"]] == [8, 4, 2, 1]  # the height halves to 1
        assert os.path.getsize(f"{stem}.png") > 10_000
    cli(capsys, "explain", "--model", trained_run["model"], "--out", out, images[0])
    assert (out / f"{doubled[0][:-4]}-2.png").exists()  # never overwriting


def test_explain_refuses_a_tflite_model_in_one_line(tmp_path, capsys):
    status, _, err = cli(capsys, "explain", "--model", tmp_path / "reader.tflite", tmp_path)
    assert status == 1 and err.count("\n") == 1 and "explain needs the .keras model" in err


def test_the_prediction_grid_shows_errors_first_then_correct_reads():
    truths = [f"t{i}" for i in range(30)]
    texts = [t if i % 2 else "x" for i, t in enumerate(truths)]  # 15 misread, 15 right
    order = plots.grid_order(texts, truths)
    assert len(order) == 24 and [texts[i] != truths[i] for i in order] == [True] * 12 + [False] * 12
    assert plots.grid_order(["a", "b"], ["a", "c"]) == [1, 0]


def test_pictures_of_a_run_are_drawn(tmp_path):
    (tmp_path / "history.csv").write_text("elapsed_s,epoch,loss,val_accuracy,val_cer,val_loss\n"
                                          "1.0,0,9.0,0.0,1.0,9.5\n2.0,1,3.0,0.5,0.2,3.5\n")
    plots.curves(str(tmp_path / "history.csv"), str(tmp_path / "curves.png"), best_epoch=2)
    images = np.zeros((3, 16, 64, 1), np.uint8)
    plots.predictions(images, ["ab", "cd", "x"], ["ab", "cd", "ef"], [0.9, 0.8, 0.2], str(tmp_path / "p.png"))
    assert os.path.getsize(tmp_path / "curves.png") > 5_000 and os.path.getsize(tmp_path / "p.png") > 5_000


@pytest.mark.parametrize("title, heading", [(None, "validation readings: 1 misread of 3"),
                                            ("test: 1 misread", "test: 1 misread")])
def test_a_grid_is_headed_by_its_title_not_by_its_last_tile(tmp_path, monkeypatch, title, heading):
    pyplot = plots._pyplot()
    drawn = []
    monkeypatch.setattr(pyplot, "close", lambda fig: drawn.append(fig._suptitle.get_text()))
    images = np.zeros((3, 16, 64, 1), np.uint8)
    plots.predictions(images, ["ab", "cd", "x"], ["ab", "cd", "ef"], [0.9, 0.8, 0.2], str(tmp_path / "p.png"),
                      title=title)
    assert drawn[0].startswith(heading)


@pytest.mark.parametrize("column", ["elapsed_s", "epoch"])
def test_history_keeps_its_columns(trained_run, column):
    header = open(os.path.join(trained_run["out"], "history.csv")).readline().strip().split(",")
    assert column in header
