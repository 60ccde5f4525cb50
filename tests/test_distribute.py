"""tf.distribute: mirrored replicas train as one device would; two local workers train one run."""

import inspect
import json
import os
import subprocess
import sys
import time

import pytest
from conftest import ROOT, run_cli

from bench.distribute import free_ports

TINY = ["--height", "16", "--width", "64", "--no-augment", "--batch-size", "8"]


def test_mirrored_replicas_match_one_device():
    done = run_cli(os.path.join(ROOT, "tests", "mirrored_worker.py"), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    # 8 Adam steps move the weights by up to ~0.6; the two runs differ by float rounding only.
    assert result["largest_weight_difference"] < 1e-3 < result["largest_weight_change"]
    assert result["mirrored_loss"] == pytest.approx(result["one_device_loss"], rel=1e-3)


def test_mirrored_training_from_the_command_line(tiny_folder, tmp_path):
    out = tmp_path / "run"
    done = run_cli("train.py", "--data", tiny_folder, "--out", str(out), "--epochs", "2", "--distribute", "mirrored",
                   "--cpu-devices", "2", *TINY)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.load(open(out / "run.json"))["train"]["distribute"] == "mirrored"
    odd = run_cli("train.py", "--data", tiny_folder, "--out", str(tmp_path / "odd"), "--epochs", "1",
                  "--distribute", "mirrored", "--cpu-devices", "2", "--height", "16", "--width", "64",
                  "--batch-size", "7")
    assert odd.returncode == 1 and "divide evenly over the 2 replicas" in odd.stderr


def test_multi_worker_needs_tf_config(tiny_folder, tmp_path):
    done = run_cli("train.py", "--data", tiny_folder, "--out", str(tmp_path / "r"), "--distribute", "multi-worker",
                   input_env={"TF_CONFIG": ""})
    assert done.returncode == 1 and "TF_CONFIG is not set" in done.stderr


def start_workers(args):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, PYTHONPATH=ROOT, TF_CONFIG=json.dumps(config))
        processes.append(subprocess.Popen([sys.executable, "train.py", *args], cwd=ROOT, env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return processes


def test_two_local_workers_train_one_run_from_a_tfds_dataset(tiny_folder, tmp_path):
    from crnn_keras.data.tfds_dataset import DatasetOptions, build_dataset

    data_dir = tmp_path / "dataset"
    build_dataset(DatasetOptions(out=str(data_dir), data=tiny_folder, val_split=0.25, height=16, width=64))
    out = tmp_path / "run"
    processes = start_workers(["--tfds", str(data_dir), "--out", str(out), "--epochs", "2", "--distribute",
                               "multi-worker", *TINY])
    results = [p.communicate(timeout=180) for p in processes]
    for p, (_, err) in zip(processes, results):
        assert p.returncode == 0, err[-3000:]
    assert os.path.exists(out / "model.keras") and json.load(open(out / "run.json"))["train"]["distribute"] == \
        "multi-worker"
    assert sorted(os.listdir(tmp_path)) == ["dataset", "run"]  # the other worker wrote only into its scratch


def test_the_keras_code_the_multi_worker_fix_replaces_is_still_there():
    """Fails once Keras changes the two places the fix replaces: then check whether
    `model.fit` works under MultiWorkerMirroredStrategy unpatched, and drop the fix if so."""
    from keras.src.backend.tensorflow import trainer

    from crnn_keras.train import multi_worker_fix

    if not multi_worker_fix.needed():
        pytest.skip("another Keras version: the fix is not applied")
    assert 'strategy.reduce("MEAN", v, axis=0)' in inspect.getsource(trainer.reduce_per_replica)
    assert "self.distribute_strategy.reduce(" in inspect.getsource(trainer.TensorFlowTrainer._maybe_symbolic_build)


def test_mixed_precision_trains_and_saves_a_float32_reader(tiny_folder, tmp_path):
    out = tmp_path / "run"
    done = run_cli("train.py", "--data", tiny_folder, "--out", str(out), "--epochs", "1", "--mixed-precision", *TINY)
    assert done.returncode == 0, done.stderr[-3000:]
    check = ("import keras, sys; from crnn_keras.model.heads import find_backbone; "
             "m = keras.saving.load_model(sys.argv[1]); "
             "print(sorted({l.dtype_policy.name for l in find_backbone(m).layers} | {m.layers[-1].dtype_policy.name}))")
    policies = run_cli("-c", check, str(out / "model.keras"))
    assert policies.returncode == 0 and policies.stdout.strip() == "['float32']", policies.stderr[-2000:]
    exported = run_cli("export_tflite.py", "--model", str(out / "model.keras"), "--out", str(tmp_path / "r.tflite"))
    assert exported.returncode == 0, exported.stderr[-2000:]


@pytest.mark.slow
def test_a_killed_worker_resumes_with_the_job(tiny_folder, tmp_path):
    """Kill a worker mid-run, stop the other, start both with --resume: the run ends at its
    last epoch with one history row per epoch (run by hand: python -m pytest -m slow -k killed)."""
    out = tmp_path / "run"
    processes = start_workers(["--data", tiny_folder, "--out", str(out), "--epochs", "8", "--distribute",
                               "multi-worker", *TINY])
    deadline = time.time() + 300
    while time.time() < deadline and not (out / "state.json").exists():
        time.sleep(0.5)
    assert (out / "state.json").exists(), "no epoch finished"
    processes[1].kill()
    processes[0].kill()
    for p in processes:
        p.communicate()
    saved = json.load(open(out / "state.json"))["epoch"]
    assert 1 <= saved < 8
    resumed = start_workers(["--resume", str(out)])
    results = [p.communicate(timeout=300) for p in resumed]
    for p, (_, err) in zip(resumed, results):
        assert p.returncode == 0, err[-3000:]
    with open(out / "history.csv") as f:
        assert [int(row.split(",")[0]) for row in f.read().splitlines()[1:]] == list(range(8))
    assert (out / "model.keras").exists() and not (out / "checkpoint.keras").exists()
