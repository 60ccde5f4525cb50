"""The benchmark's --quick mode runs end to end (a smoke test: it asserts no accuracy)."""

import json
import os
import shutil
import string

import pytest

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


@pytest.mark.parametrize("setup", [[], ["--captcha-break", "--minutes", "30"], ["--captcha-break", "--fresh"]])
def test_synthetic_bench_smoke_writes_results(tmp_path, setup):
    out = tmp_path / "results"
    done = run_cli(os.path.join(ROOT, "bench", "synthetic.py"), "--train", "48", "--test", "8", "--epochs", "1",
                   "--work", str(tmp_path / "work"), "--out", str(out), *setup)
    assert done.returncode == 0, done.stderr[-2000:]
    [json_file] = [p for p in os.listdir(out) if p.endswith(".json")]
    assert json_file.startswith("captcha-break-" if setup else "synthetic-")
    result = json.load(open(out / json_file))
    assert result["train_images"] == 48 and result["test_images"] == 8 and result["epochs"] == 1
    if setup:
        assert result["setup"] == "captcha_break"
        labels = [os.path.splitext(n)[0] for n in os.listdir(tmp_path / "work" / "test-8") if n != ".complete"]
        assert all(len(label) == 4 and set(label) <= set(string.digits + string.ascii_uppercase) for label in labels)
    assert 0.0 <= result["test_sequence_accuracy"] <= 1.0
    if "--fresh" in setup:  # drawn while training: no training folder
        assert result["training_images"] == "fresh every epoch" and not (tmp_path / "work" / "train-48").exists()
        return
    # Train and test come from different seeds: no test image is a training image.
    train_names = set(os.listdir(tmp_path / "work" / "train-48"))
    assert not train_names & set(os.listdir(tmp_path / "work" / "test-8")) - {".complete"}


def test_suite_quick_writes_a_row_per_style_and_resumes(tiny_folder, tmp_path):
    shared = tmp_path / "shared"
    shutil.copytree(tiny_folder, shared / "captcha_images_v2" / "train")
    make_folder(str(shared / "captcha_images_v2" / "test"), random_labels(8, seed=9))
    args = [os.path.join(ROOT, "bench", "suite.py"), "--quick", "--styles", "captcha_images_v2",
            "--shared", str(shared), "--out", str(tmp_path / "results")]
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr[-2000:]
    [path] = [p for p in os.listdir(tmp_path / "results") if p.startswith("quick-suite-")]
    [row] = json.load(open(tmp_path / "results" / path))["styles"]
    for key in ("style", "sequence_accuracy", "character_error_rate", "doubled_sequence_accuracy", "doubled_count",
                "count", "train_seconds", "epochs", "best_epoch", "greedy_sequence_accuracy"):
        assert key in row
    again = run_cli(*args)
    assert "already in" in again.stderr and len(json.load(open(tmp_path / "results" / path))["styles"]) == 1


def test_suite_quick_generates_its_own_styles(tmp_path):
    done = run_cli(os.path.join(ROOT, "bench", "suite.py"), "--quick", "--styles", "tiny_1bit", "multicolor",
                   "--shared", str(tmp_path / "no-shared"), "--out", str(tmp_path / "results"))
    assert done.returncode == 0, done.stderr[-2000:]
    [path] = os.listdir(tmp_path / "results")
    rows = json.load(open(tmp_path / "results" / path))["styles"]
    assert [row["style"] for row in rows] == ["tiny_1bit", "multicolor"]
    assert all(row["count"] == 32 and row["doubled_count"] >= 8 for row in rows)


def test_generated_test_splits_hold_their_doubled_labels():
    import random

    from bench.styles import draw_labels, has_doubled

    labels = draw_labels(random.Random(0), 100, "abc", (4, 4), doubled=100)
    assert all(map(has_doubled, labels)) and all(len(label) == 4 for label in labels)
    uniform = draw_labels(random.Random(0), 1000, "0123456789", (4, 4), doubled=0)
    assert 200 < sum(map(has_doubled, uniform)) < 350  # 1 − 0.9³ ≈ 27% by chance


def test_selection_rules_replay_early_stopping_as_training_would():
    from bench.selection_rules import KEEP, kept_epoch, score_rules

    def epoch(accuracy, loss, check):
        return {"val_accuracy": accuracy, "val_loss": loss, "val_cer": 1 - accuracy, "check_accuracy": check}

    # best validation at epoch 2; epochs 3-5 tie on accuracy with a higher loss, epoch 6 is better
    curve = [epoch(0.5, 3.0, 0.4), epoch(0.9, 1.0, 0.8)] + [epoch(0.9, 2.0, 0.9)] * 3 + [epoch(0.95, 0.5, 0.97)]
    assert kept_epoch(curve, KEEP["accuracy, then loss"], patience=3, min_epochs=0) == 2  # stopped at 5
    assert kept_epoch(curve, KEEP["accuracy, then loss"], patience=3, min_epochs=6) == 6  # waited
    assert kept_epoch(curve, KEEP["accuracy, then loss"], patience=3, min_epochs=4) == 2  # 3 since epoch 2, at 5
    assert kept_epoch(curve, KEEP["accuracy, then loss"], patience=3, min_epochs=4, from_min=True) == 6  # from 4
    assert kept_epoch(curve, KEEP["accuracy, then later"], patience=3, min_epochs=0) == 6
    assert kept_epoch(curve, KEEP["last"], patience=60, min_epochs=0) == 6
    results = score_rules([{"epochs": curve}])
    assert results[-1]["check"] == [0.97]  # the bound: the best check epoch
    assert all(r["mean"] <= 0.97 for r in results)


def test_selection_report_puts_a_variant_beside_the_default_run_of_its_style_and_seed(tmp_path):
    import json

    from bench.selection_rules import compare_variants, report

    def run(checks, **extra):
        epochs = [{"val_accuracy": c, "val_loss": 1 - c, "val_cer": 0.0, "check_accuracy": c} for c in checks]
        return {"style": "s", "seed": 0, "val_images": 100, "train_seconds": 10.0, "epochs": epochs, **extra}

    rows = [run([0.5, 0.8, 0.9]), run([0.6, 0.9, 0.95], variant="wide"), run([0.1], variant="orphan", seed=1)]
    [c] = compare_variants(rows)  # the orphan has no default run of its seed
    assert c["variant"] == "wide" and c["default"]["check"] == 0.9 and c["variant_run"]["check"] == 0.95
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = report(str(path))
    assert "| wide | s s0 | 0.900 (3) → 0.950 (3) |" in text
    assert "orphan" not in text.split("Variants")[0]  # the rules are scored on default runs only


def test_forced_alignment_places_each_character_and_keeps_a_doubled_one_apart():
    import numpy as np

    from bench.splice import cut_columns, forced_alignment

    path = [0, 1, 1, 0, 0, 2, 0, 2, 0, 3, 0, 0]  # the best path reads [1, 2, 2, 3]
    log_probs = np.full((len(path), 4), np.log(0.01))
    log_probs[np.arange(len(path)), path] = np.log(0.97)
    spans = forced_alignment(log_probs, [1, 2, 2, 3])
    assert spans == [(1, 2), (5, 5), (7, 7), (9, 9)]
    assert cut_columns(spans, len(path), 120) == [40, 65, 85]
    # A label the path does not spell still gets one span per character, in order.
    forced = forced_alignment(log_probs, [1, 1, 2, 3])
    assert len(forced) == 4 and all(a[1] < b[0] for a, b in zip(forced, forced[1:]))


def test_splice_pair_joins_the_left_of_one_image_to_the_right_of_another(tmp_path):
    from PIL import Image

    from bench.splice import splice_pair

    a, b = tmp_path / "ab_0.png", tmp_path / "cd_1.png"
    Image.new("RGB", (40, 20), (255, 0, 0)).save(a)
    Image.new("RGB", (60, 10), (0, 0, 255)).save(b)  # half the height: scaled to 20 first
    image, label = splice_pair((str(a), "ab", [25]), (str(b), "cd", [30]), 1)
    assert label == "ad"
    assert image.size == (25 + 120 - 60, 20)
    assert image.getpixel((0, 0)) == (255, 0, 0) and image.getpixel((image.size[0] - 1, 19)) == (0, 0, 255)


def test_length_bound_bench_compares_both_decoders_on_one_backbone(trained_run, tiny_folder, tmp_path):
    out = tmp_path / "results"
    done = run_cli(os.path.join(ROOT, "bench", "length_bound.py"), "--model", trained_run["model"],
                   "--data", tiny_folder, "--lengths", "4", "4", "--no-tflite", "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    [path] = [p for p in os.listdir(out) if p.endswith(".json")]
    reads = json.load(open(out / path))["reads"]
    assert reads["count"] == 32 and reads["greedy"] == 1.0  # the tiny reader reads all of its 3–4 letter images
    # Bounded to 4 letters, every 3-letter read changes and none of those can stay right.
    assert reads["changed"] == reads["changed_from_right"] > 0 and reads["bounded"] < 1.0


def test_fuzz_models_bench_counts_how_damaged_copies_end(trained_run, tmp_path):
    from crnn_keras.export.tflite import export

    model = export(trained_run["model"], str(tmp_path / "r.tflite"))["path"]
    out = tmp_path / "results"
    for extra in ([], ["--unsealed", "--name", "unsealed"]):
        done = run_cli(os.path.join(ROOT, "bench", "fuzz_models.py"), "--model", model, "--seeds", "1", "--count",
                       "6", "--out", str(out), *extra)
        assert done.returncode == 0, done.stderr[-2000:]
    rows = {p: json.load(open(out / p))["seeds"][0] for p in os.listdir(out) if p.endswith(".json")}
    sealed, old = (rows[p] for p in sorted(rows, key=lambda p: "unsealed" in p))
    for row in (sealed, old):
        assert row["answered"] == 6 and row["worker_status"] == 0 and row["unexpected"] == 0
    assert sealed["read"] == 0 and sealed["refused_by_seal"] >= 5 and old["refused_by_seal"] == 0


def test_pretrain_draws_labelled_captchas_in_many_fonts(tmp_path):
    from bench.pretrain import ALPHABET, ManyFontsSource, fonts

    assert len(fonts()) == 22 and all(os.path.isfile(f) for f in fonts())
    source = ManyFontsSource(10, 2, ALPHABET, 4, 6, seed=3)
    drawn = [pair for pair, _ in zip(source.draw(3, 64, 160), range(12))]
    again = [pair for pair, _ in zip(source.draw(3, 64, 160), range(12))]
    assert [label for _, label in drawn] == [label for _, label in again]  # seeded, drawings too
    assert all(a.tobytes() == b.tobytes() for (a, _), (b, _) in zip(drawn, again))
    assert all(4 <= len(label) <= 6 and set(label) <= set(ALPHABET) for _, label in drawn)
    assert len({image.size for image, _ in drawn}) > 1 and source.index()["many-font captchas"][0] == ["per epoch", 10]
