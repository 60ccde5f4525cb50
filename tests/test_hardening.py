"""What a tester trying hard to break it found, each item now refused or survived in one line."""

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

from conftest import ROOT, TINY_MODEL, make_folder, random_labels, text_image
from crnn_keras.cli import main, parser
from crnn_keras.cli.train import new_configs
from crnn_keras.contract import ModelError
from crnn_keras.data.files import LabelRegexError, compile_label_regex, label_from_name, list_samples
from crnn_keras.data.images import ImageError, open_image
from crnn_keras.run_folder import RunFolder
from crnn_keras.runtime.reader import Reader


def cli(capsys, *args):
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return status, out.out, out.err


class StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise RuntimeError("stopped on purpose")


@pytest.fixture
def interrupted(tiny_folder, tmp_path):
    """An interrupted run (one epoch saved) on its own copy of the tiny data."""
    from crnn_keras.model.config import ModelConfig
    from crnn_keras.train.config import TrainConfig
    from crnn_keras.train.trainer import train

    data = tmp_path / "data"
    shutil.copytree(tiny_folder, data)
    out = tmp_path / "run"
    cfg = TrainConfig(data=str(data), out=str(out), epochs=3, batch_size=8, augment=False)
    with pytest.raises(RuntimeError, match="on purpose"):
        train(cfg, ModelConfig(**TINY_MODEL), extra_callbacks=[StopAfterFirstEpoch()])
    assert RunFolder(str(out)).can_resume() and not (out / "train.lock").exists()
    return data, out


# ---------------------------------------------------------------- lost or wrong work


def test_a_folder_holding_a_run_is_refused_unless_overwrite(interrupted, capsys):
    data, out = interrupted
    args = ["train", "--data", data, "--out", out, "--height", "16", "--width", "64", "--epochs", "1"]
    status, _, err = cli(capsys, *args)
    assert status == 1
    assert err.strip() == f"error: {out} holds a run (continue with: python -m crnn_keras train --resume {out}, " \
                          "or pass --overwrite)"
    status, stdout, err = cli(capsys, *args, "--overwrite")
    assert status == 0, err
    assert not RunFolder(str(out)).can_resume()  # the new run finished: no old resume point left
    model = out / "model.keras"
    assert f"python -m crnn_keras predict --model {model} IMAGE_OR_FOLDER" in stdout
    assert f"python -m crnn_keras export --model {model} --out {out / 'reader.tflite'}" in stdout
    status, _, err = cli(capsys, *args[:-2], "--epochs", "1")
    assert status == 1 and "holds a run (choose another --out, or pass --overwrite" in err


def test_default_run_names_come_from_the_absolute_data_path(tmp_path, monkeypatch):
    (tmp_path / "captchas" / "work").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "captchas" / "work")
    for data in ("..", ".", "../"):
        cfg, _ = new_configs(parser().parse_args(["train", "--data", data]))
        assert os.path.normpath(cfg.out) == os.path.join("runs", "captchas" if data != "." else "work")


def test_resume_refuses_changed_data_and_options(interrupted, capsys):
    data, out = interrupted
    status, _, err = cli(capsys, "train", "--resume", out, "--height", "32", "--data", data)
    assert status == 1 and "--data, --height cannot change (only --epochs can)" in err
    text_image("zz").save(data / "zz.png")
    status, _, err = cli(capsys, "train", "--resume", out)
    assert status == 1 and "the training data changed since this run started (1 added (e.g. zz.png))" in err
    os.remove(data / "zz.png")
    status, _, err = cli(capsys, "train", "--resume", out)
    assert status == 0, err


def test_a_run_folder_is_locked_and_a_stale_lock_is_reported(tmp_path, capsys):
    folder = RunFolder(str(tmp_path))
    with folder.lock():
        assert (tmp_path / "train.lock").read_text() == str(os.getpid())
        with pytest.raises(ValueError, match=f"process {os.getpid()} is training in this folder"):
            with folder.lock():
                pass
    assert not (tmp_path / "train.lock").exists()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / "train.lock").write_text(str(gone.pid))
    with folder.lock():
        pass
    assert f"removing a stale lock (process {gone.pid} is not running)" in capsys.readouterr().err


def test_a_failed_start_leaves_no_empty_run_folder(tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "ab.png").write_bytes(b"")
    status, _, err = cli(capsys, "train", "--data", bad, "--out", tmp_path / "new")
    assert status == 1 and not (tmp_path / "new").exists()


def test_options_are_checked_before_the_synthetic_set_is_generated(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CRNN_KERAS_CACHE", str(tmp_path / "cache"))
    for args, message in ((["--epochs", "0"], "--epochs: expected an integer ≥ 1"),
                          (["--height", "48"], "height: expected a power of two"),
                          (["--label-regex", "(a"], "not a valid regular expression")):
        status, _, err = cli(capsys, "train", *args)
        assert status == 1 and message in err
    assert not (tmp_path / "cache").exists()
    help_text = subprocess.run([sys.executable, "-m", "crnn_keras", "train", "--help"], cwd=ROOT,
                               capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT)).stdout
    assert "(default: 0.002)" in help_text and "(default: 15)" in help_text


# ---------------------------------------------------------------- output a program can trust


@pytest.fixture
def odd_names(trained_run, tmp_path):
    """The tiny images under names holding a tab, a newline, a backslash and a byte that is not UTF-8."""
    folder = tmp_path / "odd"
    folder.mkdir()
    sources = sorted(os.listdir(trained_run["data"]))[:4]
    names = ["a\tb.png", "c\nd.png", "e\\f.png", os.fsdecode(b"g\xffh.png")]
    for source, name in zip(sources, names):
        shutil.copy(os.path.join(trained_run["data"], source), os.path.join(folder, name))
    return folder


def test_predict_writes_one_escaped_record_per_image(trained_run, odd_names, capsys):
    status, out, err = cli(capsys, "predict", "--model", trained_run["model"], odd_names)
    assert status == 0, err
    lines = out.splitlines()
    assert len(lines) == 4 and all(len(line.split("\t")) == 3 for line in lines)
    paths = sorted(line.split("\t")[0].rsplit("/", 1)[1] for line in lines)
    assert paths == sorted(["a\\tb.png", "c\\nd.png", "e\\\\f.png", "g\\xffh.png"])
    status, out, _ = cli(capsys, "predict", "--json", "--model", trained_run["model"], odd_names)
    records = [json.loads(line) for line in out.splitlines()]
    assert status == 0 and {os.path.basename(r["path"]) for r in records} >= {"a\tb.png", "g\\xffh.png"}
    assert all(set(r) == {"path", "text", "confidence"} for r in records)


def test_a_strict_utf8_stdout_reads_every_image(trained_run, odd_names):
    done = subprocess.run([sys.executable, "-m", "crnn_keras", "predict", "--model", trained_run["model"],
                           str(odd_names)], cwd=ROOT, capture_output=True,
                          env=dict(os.environ, PYTHONPATH=ROOT, PYTHONIOENCODING="utf-8:strict", LC_ALL="C.UTF-8"))
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 4, done.stderr[-2000:]
    assert b"Traceback" not in done.stderr


def test_training_skips_labels_it_cannot_hold(odd_names):
    samples, problems = list_samples(str(odd_names))
    assert [s.label for s in samples] == ["e\\f"]
    reasons = sorted(p.reason for p in problems)
    assert len(reasons) == 3 and sum("control character" in r for r in reasons) == 2
    assert any("not valid UTF-8" in r for r in reasons)
    assert any("g\\xffh.png" in str(p) for p in problems)


def test_a_closed_pipe_ends_predict_quietly(trained_run):
    command = f"{sys.executable} -m crnn_keras predict --model {trained_run['model']} {trained_run['data']} | head -1"
    done = subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert len(done.stdout.splitlines()) == 1 and "Traceback" not in done.stderr and "Broken" not in done.stderr


def test_one_missing_path_among_good_ones_is_one_error_line(trained_run, tmp_path, capsys):
    good = sorted(os.path.join(trained_run["data"], n) for n in os.listdir(trained_run["data"]))[:2]
    status, out, err = cli(capsys, "predict", "--model", trained_run["model"], good[0], tmp_path / "nope.png", good[1])
    assert status == 0 and len(out.splitlines()) == 2
    assert err.strip() == f"error: {tmp_path / 'nope.png'}: no such file or folder"


def test_evaluate_writes_the_misreads(trained_run, tmp_path, capsys):
    folder = tmp_path / "wrong"
    folder.mkdir()
    names = sorted(os.listdir(trained_run["data"]))[:3]
    for name in names:
        shutil.copy(os.path.join(trained_run["data"], name), folder / name)
    shutil.move(folder / names[0], folder / "1111.png")  # a label the image does not show
    status, _, err = cli(capsys, "evaluate", "--model", trained_run["model"], "--data", folder,
                         "--errors", tmp_path / "errors.jsonl")
    assert status == 0, err
    [row] = [json.loads(line) for line in open(tmp_path / "errors.jsonl")]
    assert row["truth"] == "1111" and row["reading"] == names[0][:-4] and row["path"].endswith("1111.png")
    assert 0.0 <= row["confidence"] <= 1.0


# ---------------------------------------------------------------- hostile files and models


def test_only_the_documented_formats_are_decoded(tmp_path):
    (tmp_path / "eps.png").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    text_image("ab").save(tmp_path / "webp.png", format="WEBP")
    text_image("ab").save(tmp_path / "tiff.png", format="TIFF")
    for name in ("eps.png", "webp.png", "tiff.png"):
        with pytest.raises(ImageError, match="not an image in a format read here \\(PNG, JPEG, BMP, GIF\\)"):
            open_image(str(tmp_path / name))


def test_symlink_loops_and_special_files_are_skipped(trained_run, tmp_path, capsys):
    folder = tmp_path / "special"
    make_folder(str(folder), random_labels(2, seed=3))
    os.symlink(folder / "loop.png", folder / "loop.png")
    os.mkfifo(folder / "fifo.png")
    os.mkfifo(tmp_path / "model.keras")
    os.symlink("/dev/zero", tmp_path / "zero.tflite")
    samples, problems = list_samples(str(folder))
    assert len(samples) == 2
    reasons = {os.path.basename(p.path): p.reason for p in problems}
    assert "cannot be read" in reasons["loop.png"] and "not a regular file" in reasons["fifo.png"]
    for model in ("model.keras", "zero.tflite"):
        with pytest.raises(ModelError, match="not a regular file"):
            Reader(str(tmp_path / model))
    status, out, err = cli(capsys, "predict", "--model", trained_run["model"], folder)
    assert status == 0 and len(out.splitlines()) == 2 and err.count("error: ") == 2


def test_a_runaway_label_regex_stops_with_one_line():
    compiled = compile_label_regex(r"(a|aa)+$")
    with pytest.raises(LabelRegexError, match="took over 1 s on the name"):
        label_from_name("a" * 40 + "!.png", compiled)


def test_export_refuses_a_folder_as_out_and_a_lying_calibration_header(trained_run, tmp_path, capsys):
    status, _, err = cli(capsys, "export", "--model", trained_run["model"], "--out", tmp_path)
    assert status == 1 and "name the file .tflite" in err
    (tmp_path / "x.tflite").mkdir()
    status, _, err = cli(capsys, "export", "--model", trained_run["model"], "--out", tmp_path / "x.tflite")
    assert status == 1 and "is a folder" in err and os.listdir(tmp_path / "x.tflite") == []
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(trained_run["model"], run / "model.keras")
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 16, 64, 1), np.uint8))
    header["shape"] = (10**9, 16, 64, 1)
    with open(run / "calibration.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(b"\0" * 100)
    status, _, err = cli(capsys, "export", "--model", run / "model.keras", "--out", tmp_path / "q.tflite",
                         "--quantize", "int8")
    assert status == 1 and "calibration.npy: not a calibration sample" in err


def keras_model_file(path, vocabulary, classes, input_shape=(16, 64, 1), logits_only=False):
    from crnn_keras.model.decoder import CTCDecoder

    image = keras.Input(input_shape, dtype="uint8", name="image")
    x = keras.layers.Rescaling(1 / 255)(image)
    x = keras.layers.Reshape((-1, input_shape[0] * input_shape[-1]))(keras.layers.Permute((2, 1, 3))(x))
    outputs = CTCDecoder(vocabulary)(keras.layers.Dense(classes)(x))
    keras.Model(image, outputs["logits"] if logits_only else outputs).save(path)
    return str(path)


def test_foreign_shaped_keras_models_are_refused(trained_run, tmp_path):
    cases = {
        keras_model_file(tmp_path / "short.keras", ["a", "b"], 5): "vocabulary holds 2 characters but the logits have 5",
        keras_model_file(tmp_path / "logits.keras", ["a"], 2, logits_only=True): "outputs expected text, confidence",
        keras_model_file(tmp_path / "dynamic.keras", ["a"], 2, input_shape=(16, None, 1)): "expected a fixed",
    }
    data = open(trained_run["model"], "rb").read()
    (tmp_path / "truncated.keras").write_bytes(data[: len(data) // 3])
    cases[str(tmp_path / "truncated.keras")] = "not a .keras file .* damaged or truncated"
    for path, message in cases.items():
        with pytest.raises(ModelError, match=message):
            Reader(path)


def lite_file(path, input_name="image", shape=(1, 16, 64, 1), codepoints=(97,), ids_value=1):
    import tensorflow as tf

    spec = tf.TensorSpec(shape, tf.uint8, name=input_name)

    @tf.function(input_signature=[spec])
    def serve(x):
        batch = tf.zeros([1, 4], tf.int32) + ids_value + tf.cast(tf.reduce_min(x), tf.int32) * 0
        return {"ids": batch, "confidence": tf.ones([1]), "vocabulary": tf.constant(list(codepoints), tf.int32)}

    module = tf.Module()
    module.serve = serve
    tf.saved_model.save(module, str(path) + ".saved", signatures={"serve": serve})
    converter = tf.lite.TFLiteConverter.from_saved_model(str(path) + ".saved", signature_keys=["serve"])
    open(path, "wb").write(converter.convert())
    return str(path)


def test_foreign_shaped_tflite_models_are_refused(tmp_path):
    cases = {
        lite_file(tmp_path / "name.tflite", input_name="x"): "not one exported by crnn_keras",
        lite_file(tmp_path / "rank.tflite", shape=(1, 16, 64)): "input image expected uint8 \\[1, H, W, 1 or 3\\]",
        lite_file(tmp_path / "code.tflite", codepoints=(0x110000,)): "code points, received 1114112",
    }
    for path, message in cases.items():
        with pytest.raises(ModelError, match=message):
            Reader(path)
    reader = Reader(lite_file(tmp_path / "ids.tflite", ids_value=7))  # ids beyond its one-character vocabulary
    with pytest.raises(ModelError, match="id 7 is outside the vocabulary of 1"):
        reader.read_arrays(np.zeros((1, 16, 64, 1), np.uint8))


def test_the_synthetic_set_is_named_by_its_labels_and_old_caches_regenerate(tmp_path, capsys):
    from crnn_keras.data import synthetic

    folder = tmp_path / "synthetic"
    folder.mkdir()
    (folder / "abcd_000001.png").write_bytes(b"old")  # as version 0.1 named them
    (folder / ".complete").write_text("6 0 4 6 abc 160 60")
    synthetic.generate(str(folder), 6, alphabet="abc123")
    samples, problems = list_samples(str(folder))
    assert len(samples) == 6 and not problems and len({s.label for s in samples}) == 6
    assert all(os.path.basename(s.path) == f"{s.label}.png" for s in samples)
    stamp = (folder / ".complete").read_text()
    synthetic.generate(str(folder), 6, alphabet="abc123")  # cached: nothing rewritten
    assert (folder / ".complete").read_text() == stamp and len(os.listdir(folder)) == 7
