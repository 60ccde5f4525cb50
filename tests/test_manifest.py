"""Labels files (--labels): CSV/TSV of path,label, with one problem line per bad row."""

import json
import os

import pytest
from conftest import run_cli, text_image

from crnn_keras.data.manifest import read_manifest


def images(folder, names):
    os.makedirs(folder, exist_ok=True)
    for name in names:
        text_image(os.path.splitext(os.path.basename(name))[0][:4]).save(os.path.join(folder, name))


def test_a_tsv_manifest_is_read_and_each_bad_row_is_one_problem(tmp_path):
    images(tmp_path / "img", ["a.png", "b.png", "c.png"])
    manifest = tmp_path / "labels.tsv"
    manifest.write_text("path\tlabel\n"
                        "img/a.png\tab12\n"
                        "img/b.png\t  Cd34 \n"       # spaces around a label are not part of it
                        "img/a.png\tzzzz\n"          # listed twice
                        "img/missing.png\tx1\n"
                        "img/c.png\t\n"              # empty label
                        "img/c.png\n"                # no label field
                        "\n", encoding="utf-8")
    samples, problems = read_manifest(str(manifest))
    assert [(os.path.basename(s.path), s.label) for s in samples] == [("a.png", "ab12"), ("b.png", "Cd34")]
    reasons = [str(p) for p in problems]
    assert len(reasons) == 4 and all("labels.tsv line" in r for r in reasons)
    assert "listed again (first on line 2)" in reasons[0] and "no such file" in reasons[1]
    assert "empty label" in reasons[2] and "expected 2 fields" in reasons[3]


def test_a_csv_manifest_takes_quoted_labels_and_folds_case(tmp_path):
    images(tmp_path, ["x.png", "y.png"])
    manifest = tmp_path / "labels.csv"
    manifest.write_text('x.png,"A,b"\ny.png,CD\n', encoding="utf-8")
    samples, problems = read_manifest(str(manifest), ignore_case=True)
    assert [s.label for s in samples] == ["a,b", "cd"] and not problems


def test_unusable_manifests_are_one_line_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such labels file"):
        read_manifest(str(tmp_path / "none.tsv"))
    (tmp_path / "bad.tsv").write_bytes(b"\xff\xfe\x00x")
    with pytest.raises(ValueError, match="not UTF-8"):
        read_manifest(str(tmp_path / "bad.tsv"))
    (tmp_path / "empty.tsv").write_text("path\tlabel\nmissing.png\tab\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no usable row"):
        read_manifest(str(tmp_path / "empty.tsv"))


def test_evaluate_reads_a_labels_file(trained_run, tmp_path):
    lines = [f"{os.path.join(trained_run['data'], name)}\t{os.path.splitext(name)[0]}"
             for name in sorted(os.listdir(trained_run["data"]))[:8]]
    manifest = tmp_path / "labels.tsv"
    manifest.write_text("\n".join(lines + ["gone.png\tabc"]) + "\n", encoding="utf-8")
    done = run_cli("-m", "crnn_keras", "evaluate", "--model", trained_run["model"], "--labels", str(manifest), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["count"] == 8 and result["sequence_accuracy"] == 1.0
    assert [line for line in done.stderr.splitlines() if line.startswith("skipped:")] == [
        f"skipped: {manifest} line 9: gone.png: no such file or folder"]


def test_train_reads_a_labels_file(tiny_folder, tmp_path):
    names = sorted(os.listdir(tiny_folder))
    manifest = tmp_path / "set.csv"
    manifest.write_text("".join(f"{os.path.join(tiny_folder, n)},{os.path.splitext(n)[0]}\n" for n in names),
                        encoding="utf-8")
    out = tmp_path / "run"
    done = run_cli("train.py", "--labels", str(manifest), "--out", str(out), "--epochs", "1", "--height", "16",
                   "--width", "64", cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert done.returncode == 0, done.stderr[-2000:]
    info = json.load(open(out / "run.json"))
    assert info["train"]["labels"] == str(manifest) and info["train_images"] + info["val_images"] == len(names)
    both = run_cli("train.py", "--labels", str(manifest), "--data", tiny_folder, "--out", str(tmp_path / "x"))
    assert both.returncode != 0 and "not --data and --labels" in both.stderr
