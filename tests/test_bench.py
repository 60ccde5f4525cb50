"""The benchmark's --quick mode runs end to end (a smoke test: it asserts no accuracy)."""

import json
import os
import shutil

from conftest import ROOT, make_folder, random_labels, run_cli


def test_bench_quick_writes_results(tiny_folder, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_folder, data / "train")
    make_folder(str(data / "test"), random_labels(8, seed=9))
    out = tmp_path / "results"
    done = run_cli(os.path.join(ROOT, "bench", "run.py"), "--quick", "--data", str(data), "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    [json_file] = [p for p in os.listdir(out) if p.endswith(".json")]
    result = json.load(open(out / json_file))
    assert result["quick"] is True and result["machine"]["cores"] >= 1
    for row in (result["ours"][0], result["baseline"]):
        for key in ("test_sequence_accuracy", "train_seconds", "predict_images_per_second_batch64", "parameters"):
            assert key in row
    assert "ours / baseline" in open(out / json_file.replace(".json", ".md")).read()


def test_synthetic_bench_smoke_writes_results(tmp_path):
    out = tmp_path / "results"
    done = run_cli(os.path.join(ROOT, "bench", "synthetic.py"), "--train", "48", "--test", "8", "--epochs", "1",
                   "--work", str(tmp_path / "work"), "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    [json_file] = [p for p in os.listdir(out) if p.endswith(".json")]
    result = json.load(open(out / json_file))
    assert result["train_images"] == 48 and result["test_images"] == 8 and result["epochs"] == 1
    assert 0.0 <= result["test_sequence_accuracy"] <= 1.0
    # Train and test come from different seeds: no test image is a training image.
    train_names = set(os.listdir(tmp_path / "work" / "train-48"))
    assert not train_names & set(os.listdir(tmp_path / "work" / "test-8")) - {".complete"}
