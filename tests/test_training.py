"""End to end: train → save → reload in a new process → read; resume; bad folders."""

import csv
import json
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from conftest import ROOT, coloured_text, random_labels, run_cli, text_image
from crnn_keras.cli import main
from crnn_keras.runtime.reader import Reader, read_text


def cli(capsys, *args):
    """Runs a command in this process; returns (exit status, stdout, stderr)."""
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_tiny_set_is_learned_completely_and_run_folder_is_complete(trained_run):
    result = trained_run["result"]
    assert result["val_sequence_accuracy"] == 1.0, result
    for name in ("model.keras", "run.json", "history.csv", "curves.png", "predictions.png", "calibration.npy"):
        assert os.path.getsize(os.path.join(trained_run["out"], name)) > 0
    for name in ("checkpoint.keras", "state.json"):  # a finished run leaves no resume point
        assert not os.path.exists(os.path.join(trained_run["out"], name))
    with open(os.path.join(trained_run["out"], "history.csv")) as f:
        header = next(csv.reader(f))
    assert {"loss", "val_loss", "val_accuracy", "val_cer"} <= set(header)
    run = json.load(open(os.path.join(trained_run["out"], "run.json")))
    assert run["vocabulary"] == sorted(set("abcd1234"))
    # 4-letter labels want 6 frames each (24): 8 or 16 steps (three or two halvings of 64) are
    # too few, so one halving and 32 steps.
    assert run["max_label_length"] == 4 and run["model"]["width_halvings"] == 1
    assert keras_output_steps(trained_run["model"]) == 32


def keras_output_steps(model_path: str) -> int:
    from crnn_keras.runtime.keras_reader import load_keras_reader

    return load_keras_reader(model_path).output["logits"].shape[1]


def test_saved_model_reads_the_same_strings_in_a_new_process(trained_run):
    done = run_cli("-m", "crnn_keras", "predict", "--model", trained_run["model"], trained_run["data"])
    assert done.returncode == 0, done.stderr
    lines = [line.split("\t") for line in done.stdout.strip().splitlines()]
    assert len(lines) == 32
    for path, text, confidence in lines:
        assert text == os.path.splitext(os.path.basename(path))[0]
        assert 0.0 <= float(confidence) <= 1.0


def test_python_api_reads_paths_pil_images_and_arrays(trained_run):
    reader = Reader(trained_run["model"])
    paths = sorted(os.path.join(trained_run["data"], n) for n in os.listdir(trained_run["data"]))[:4]
    labels = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    assert [r.text for r in reader.read(paths)] == labels
    from PIL import Image

    pil = [Image.open(p) for p in paths]
    assert [t for t, _ in read_text(pil, reader)] == labels
    arrays = np.stack([reader.prepare(p) for p in paths])
    assert [r.text for r in reader.read(arrays, beam_width=4)] == labels


def test_train_prints_no_native_error_lines(tiny_folder, tmp_path, monkeypatch):
    """On CPUs without AVX-512 the CTC loss's bool transpose made oneDNN log an E-level line."""
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)  # a user's default; tf2onnx sets it on import
    done = run_cli("-m", "crnn_keras", "train", "--data", tiny_folder, "--out", str(tmp_path / "run"),
                   "--epochs", "1", input_env={"CUDA_VISIBLE_DEVICES": ""})
    assert done.returncode == 0, done.stderr
    native = [line for line in done.stderr.splitlines() if line.startswith(("E0000", "W0000", "I0000"))]
    assert not native, native


def test_keras_load_model_after_import(trained_run):
    code = (
        "import keras, numpy as np, crnn_keras\n"
        f"m = keras.saving.load_model({trained_run['model']!r})\n"
        "out = m.predict(np.zeros((2, 16, 64, 1), np.uint8), verbose=0)\n"
        "print(sorted(out), out['text'].shape)\n"
    )
    done = run_cli("-c", code)
    assert done.returncode == 0, done.stderr
    assert "['confidence', 'logits', 'text'] (2,)" in done.stdout


def test_evaluate_json(trained_run, capsys):
    status, out, err = cli(capsys, "evaluate", "--model", trained_run["model"], "--data", trained_run["data"], "--json")
    assert status == 0, err
    result = json.loads(out)
    assert result["sequence_accuracy"] == 1.0 and result["character_error_rate"] == 0.0 and result["count"] == 32


def _mixed_folder(src, dst):
    shutil.copytree(src, dst)
    (dst / "abab.png").write_bytes(b"")
    (dst / "cdcd.png").write_bytes((dst / os.listdir(dst)[0]).read_bytes()[:60])
    (dst / "a1b2.jpg").write_bytes(os.urandom(200))
    (dst / "b2c3.png").write_text("not an image")
    (dst / "c3d4.gif").mkdir()
    return 5


def test_predict_prints_an_error_per_bad_file_and_a_result_per_good_one(trained_run, tmp_path, capsys):
    folder = tmp_path / "mixed"
    bad = _mixed_folder(trained_run["data"], folder)
    status, out, err = cli(capsys, "predict", "--model", trained_run["model"], folder)
    assert status == 0
    assert len(out.strip().splitlines()) == 32
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == bad and all(str(folder) in line for line in errors)
    only_bad = tmp_path / "only_bad"
    only_bad.mkdir()
    (only_bad / "x.png").write_bytes(b"")
    status, out, err = cli(capsys, "predict", "--model", trained_run["model"], only_bad)
    assert status == 1 and out == ""


def test_training_skips_and_counts_bad_files(trained_run, tmp_path, capsys):
    folder = tmp_path / "mixed"
    bad = _mixed_folder(trained_run["data"], folder)
    status, out, err = cli(capsys, "train", "--data", folder, "--out", tmp_path / "run", "--epochs", "1",
                           "--height", "16", "--width", "64")
    assert status == 0, err
    assert f"skipped {bad} file(s)" in err
    assert "held-out accuracy" in out


@pytest.mark.parametrize("args, message", [
    (["--data", "/no/such/folder"], "no such folder"),
    (["--height", "48"], "power of two"),
    (["--epochs", "0"], "--epochs: expected an integer ≥ 1, received 0"),
    (["--learning-rate", "-1"], "--learning-rate: expected a number > 0, received -1.0"),
    (["--label-regex", "("], "not a valid regular expression"),
    (["--weight-average", "1.5"], "--weight-average: expected a momentum between 0 and 1, received 1.5"),
    (["--weight-decay", "-1"], "--weight-decay: expected a number from 0 to below 1, received -1.0"),
])
def test_train_errors_are_one_line(tiny_folder, tmp_path, args, message, capsys):
    if "--data" not in args:
        args = ["--data", tiny_folder, *args]
    status, _, err = cli(capsys, "train", *args, "--out", tmp_path / "r")
    assert status == 1
    assert err.strip().splitlines()[-1].startswith("error: ") and message in err


def test_labels_too_long_for_the_time_steps_are_refused(tmp_path, capsys):
    folder = tmp_path / "long"
    folder.mkdir()
    for label in ("abcdefghij", "ab"):
        text_image(label).save(folder / f"{label}.png")
    status, _, err = cli(capsys, "train", "--data", folder, "--height", "16", "--width", "16", "--out", tmp_path / "r")
    assert status == 1
    # Even with only the stem's halving, 8 steps cannot hold the 21 frames 10 letters may need.
    assert "abcdefghij.png: label 'abcdefghij' has 10 characters but the model has 8 time steps" in err


def _history_epochs(out):
    with open(os.path.join(out, "history.csv")) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def _start_training(folder, out, epochs):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.Popen(
        [sys.executable, "train.py", "--data", folder, "--out", out, "--epochs", str(epochs),
         "--height", "16", "--width", "64", "--batch-size", "4", "--patience", "100"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for_epoch(out, epoch, process, timeout=300):
    deadline = time.time() + timeout
    state = os.path.join(out, "state.json")
    while time.time() < deadline:
        if os.path.exists(state) and json.load(open(state))["epoch"] >= epoch:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    raise AssertionError("training did not reach the epoch in time")


def test_killed_training_resumes_to_completion(tiny_folder, tmp_path):
    out = str(tmp_path / "run")
    process = _start_training(tiny_folder, out, epochs=6)
    _wait_for_epoch(out, 2, process)
    time.sleep(0.5)  # land inside the next epoch
    process.kill()
    process.wait()
    saved = json.load(open(os.path.join(out, "state.json")))["epoch"]
    assert 2 <= saved < 6
    done = run_cli("train.py", "--resume", out)
    assert done.returncode == 0, done.stderr
    assert f"resuming {out} after epoch {saved}" in done.stderr
    assert _history_epochs(out) == list(range(6))
    assert os.path.exists(os.path.join(out, "model.keras"))
    done = run_cli("train.py", "--resume", out)
    assert done.returncode == 1 and "no checkpoint to resume" in done.stderr


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tiny_folder, tmp_path):
    out = str(tmp_path / "run")
    process = _start_training(tiny_folder, out, epochs=50)
    _wait_for_epoch(out, 1, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert f"continue with: python -m crnn_keras train --resume {out}" in stderr
    assert "Traceback" not in stderr
    assert os.path.exists(os.path.join(out, "checkpoint.keras"))


def test_nan_loss_stops_without_saving_that_epoch(tmp_path):
    from crnn_keras.run_folder import ResumeState, RunFolder
    from crnn_keras.train import callbacks as cb

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    folder = RunFolder(str(tmp_path))
    non_finite = cb.StopOnNonFiniteLoss()
    best = cb.BestReader(reader=model, run=folder, best=(0.5, 1.0, 3))
    resume_point = cb.ResumePoint(folder, best, cb.ElapsedTime(), ResumeState())
    chain = [non_finite, best, resume_point, cb.EarlyStop(best, patience=5)]
    for callback in chain:
        callback.set_model(model)
        callback.on_epoch_end(3, {"loss": math.nan, "val_loss": 1.0, "val_accuracy": 0.9})
    assert non_finite.epoch == 4 and model.stop_training
    assert best.best_epoch == 3 and resume_point.state == ResumeState() and os.listdir(tmp_path) == []


def test_early_stop_counts_epochs_since_the_kept_one(tmp_path):
    from crnn_keras.run_folder import RunFolder
    from crnn_keras.train import callbacks as cb

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    best = cb.BestReader(reader=model, run=RunFolder(str(tmp_path)))
    stop = cb.EarlyStop(best, patience=2)
    for callback in (best, stop):
        callback.set_model(model)
    for epoch, accuracy in enumerate([0.5, 0.7, 0.7, 0.6, 0.6]):  # a tie moves the kept epoch later
        assert not getattr(model, "stop_training", False)
        for callback in (best, stop):
            callback.on_epoch_end(epoch, {"loss": 1.0, "val_loss": 1.0 + epoch, "val_accuracy": accuracy})
    assert best.best_epoch == 3 and model.stop_training
    assert os.listdir(tmp_path) == ["model.keras"]


@pytest.mark.parametrize("kept, epochs_run", [(1, 6), (5, 7)])
def test_early_stop_counts_patience_from_min_epochs_when_the_kept_epoch_is_older(tmp_path, kept, epochs_run):
    from crnn_keras.run_folder import RunFolder
    from crnn_keras.train import callbacks as cb

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    best = cb.BestReader(reader=model, run=RunFolder(str(tmp_path)))
    stop = cb.EarlyStop(best, patience=2, min_epochs=4)
    for callback in (best, stop):
        callback.set_model(model)
    for epoch in range(20):
        for callback in (best, stop):
            callback.on_epoch_end(epoch, {"loss": 1.0, "val_loss": 1.0, "val_accuracy": 0.9 if epoch + 1 == kept else 0.5})
        if getattr(model, "stop_training", False):
            break
    assert best.best_epoch == kept and epoch + 1 == epochs_run  # max(kept, 4) + 2


@pytest.mark.parametrize("val_images, accuracies, kept", [
    (100, [0.90, 0.95, 0.94, 0.93], 3),  # one image fewer than the best is kept, two are not
    (100, [0.90, 0.95, 0.94, 0.96], 4),
    (40, [0.900, 0.950, 0.925, 0.950], 4),  # a small validation set: exact ties only
])
def test_the_kept_epoch_is_the_latest_within_one_validation_image_of_the_best(tmp_path, val_images, accuracies,
                                                                               kept):
    from crnn_keras.run_folder import RunFolder
    from crnn_keras.train import callbacks as cb

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    best = cb.BestReader(reader=model, run=RunFolder(str(tmp_path)), val_images=val_images)
    best.set_model(model)
    for epoch, accuracy in enumerate(accuracies):
        best.on_epoch_end(epoch, {"loss": 1.0, "val_loss": 1.0, "val_accuracy": accuracy})
    assert best.best_epoch == kept and best.best_accuracy == max(accuracies)


def test_same_seed_same_data_gives_the_same_history(tiny_folder, tmp_path):
    histories = []
    for run in ("a", "b"):
        out = str(tmp_path / run)
        done = run_cli("train.py", "--data", tiny_folder, "--out", out, "--epochs", "2", "--height", "16",
                       "--width", "64", "--batch-size", "8", "--seed", "3", "--deterministic")
        assert done.returncode == 0, done.stderr
        with open(os.path.join(out, "history.csv")) as f:
            # Everything but the wall-clock column must match.
            histories.append([{k: v for k, v in row.items() if k != "elapsed_s"} for row in csv.DictReader(f)])
    assert histories[0] == histories[1] and len(histories[0]) == 2


def test_hangul_labels_train_and_read_end_to_end(tmp_path, capsys):
    """Hangul file names (one stored decomposed, as macOS does) → vocabulary → model → text.

    The test font has no Hangul glyphs, so each syllable is drawn as a distinct Latin glyph:
    what is under test is that the labels travel through the whole tool unchanged.
    """
    import unicodedata

    glyph = {"가": "a", "나": "b", "다": "1", "라": "2"}
    labels = random_labels(12, seed=5, lengths=(2, 3))
    folder = tmp_path / "hangul"
    folder.mkdir()
    hangul = []
    for i, latin in enumerate(labels):
        label = "".join(dict(zip("abcd1234", "가나다라가나다라"))[c] for c in latin)
        drawn = "".join(glyph[c] for c in label)
        name = unicodedata.normalize("NFD" if i == 0 else "NFC", label)
        text_image(drawn, seed=i).save(folder / f"{name}.png")
        hangul.append(label)
    out = str(tmp_path / "run")
    status, stdout, err = cli(capsys, "train", "--data", folder, "--val-data", folder, "--out", out, "--epochs", "120",
                              "--height", "16", "--width", "64", "--batch-size", "4", "--no-augment", "--patience", "120")
    assert status == 0, err
    assert "held-out accuracy: 1.0000" in stdout
    assert json.load(open(os.path.join(out, "run.json")))["vocabulary"] == sorted(set("".join(hangul)))
    status, stdout, err = cli(capsys, "predict", "--model", os.path.join(out, "model.keras"), folder)
    assert status == 0, err
    read = {unicodedata.normalize("NFC", os.path.splitext(os.path.basename(line.split("\t")[0]))[0]): line.split("\t")[1]
            for line in stdout.splitlines()}
    assert read == {label: label for label in hangul}


def test_validation_labels_with_unknown_characters_are_left_out(tiny_folder, tmp_path, capsys):
    val = tmp_path / "val"
    shutil.copytree(tiny_folder, val)
    text_image("zz").save(val / "zz.png")
    status, _, err = cli(capsys, "train", "--data", tiny_folder, "--val-data", val, "--out", tmp_path / "r",
                         "--epochs", "1", "--height", "16", "--width", "64")
    assert status == 0, err
    assert "1 validation image(s) have characters missing from the training vocabulary" in err
    assert "zz.png" in err


def test_evaluate_ignore_case_and_unknown_characters(trained_run, tmp_path, capsys):
    folder = tmp_path / "upper"
    folder.mkdir()
    # Names with a letter: an all-digit label reads the same in either case.
    names = [n for n in sorted(os.listdir(trained_run["data"])) if any(c.isalpha() for c in n[:-4])][:6]
    for name in names:  # labels stored in upper case for lower-case images
        shutil.copy(os.path.join(trained_run["data"], name), folder / name.upper().replace(".PNG", ".png"))
    text_image("zz").save(folder / "zz.png")  # 'z' was never learned
    args = ["evaluate", "--model", trained_run["model"], "--data", folder, "--json"]
    strict = cli(capsys, *args)
    folded = cli(capsys, *args, "--ignore-case")
    assert strict[0] == folded[0] == 0, strict[2]
    assert json.loads(strict[1])["correct"] == 0
    result = json.loads(folded[1])
    assert result["correct"] == 6 and result["count"] == 7 and result["unknown_character_labels"] == 1
    assert "1 label(s) use characters the model never learned" in folded[2]


def test_training_on_a_folder_of_only_bad_files_is_one_error(tmp_path, capsys):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "abc.png").write_bytes(b"")
    (folder / "def.jpg").write_text("no image here")
    status, _, err = cli(capsys, "train", "--data", folder, "--out", tmp_path / "r")
    assert status == 1
    assert err.strip().splitlines()[-1] == f"error: {folder}: none of its 2 labelled images could be read"


def test_saved_reader_has_batch_norm_folded_into_its_convolutions(trained_run):
    from crnn_keras.model.heads import find_backbone
    from crnn_keras.runtime.keras_reader import load_keras_reader

    backbone = find_backbone(load_keras_reader(trained_run["model"]))
    layers = backbone.layers
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in layers)
    assert all(layer.use_bias for layer in layers if isinstance(layer, keras.layers.Conv2D))


def test_coloured_training_images_train_an_rgb_reader_unless_grey_is_asked(tmp_path, capsys, caplog):
    folder = tmp_path / "coloured"
    folder.mkdir()
    for i, label in enumerate(random_labels(8, seed=3)):
        coloured_text(label, seed=i).save(folder / f"{label}.png")
    shape = ["--height", "16", "--width", "64", "--batch-size", "4", "--epochs", "1"]
    for flags, channels in (([], 3), (["--grey"], 1)):
        out = tmp_path / f"run{channels}"
        caplog.clear()
        with caplog.at_level(logging.INFO):
            status, _, err = cli(capsys, "train", "--data", folder, "--out", out, *shape, *flags)
        assert status == 0, err
        assert ("input: colour (RGB), chosen from the training images" in caplog.text) == (not flags)
        assert json.load(open(out / "run.json"))["model"]["channels"] == channels
        assert Reader(str(out / "model.keras")).channels == channels
        status, stdout, err = cli(capsys, "predict", "--model", out / "model.keras", folder)
        assert status == 0 and len(stdout.splitlines()) == 8, err
    done = run_cli("-m", "crnn_keras", "train", "--data", str(folder), "--rgb", "--grey")
    assert done.returncode == 2 and "not allowed with argument" in done.stderr
