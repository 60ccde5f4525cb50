"""TFDS datasets: `dataset build`, plain TFDS reading them back, streamed training and evaluation."""

import json
import os
import shutil
import zipfile

import numpy as np
import pytest
from conftest import ROOT, coloured_text, make_folder, random_labels, run_cli, text_image
from PIL import Image

tfds = pytest.importorskip("tensorflow_datasets")

from crnn_keras.data.images import load_image  # noqa: E402
from crnn_keras.data.streamed import find_dataset_dir, read_summary  # noqa: E402
from crnn_keras.data.tfds_dataset import MIN_SHARDS, DatasetOptions, build_dataset  # noqa: E402

SIZE = dict(height=16, width=64)


def odd_images(folder):
    """A palette PNG with a transparent background, an EXIF-rotated JPEG and a 16-bit PNG."""
    os.makedirs(folder, exist_ok=True)
    ink = np.asarray(text_image("pq12")) < 128
    palette = Image.fromarray(ink.astype(np.uint8), "P")
    palette.putpalette([0, 0, 0, 20, 20, 20] + [0] * 762)
    palette.save(os.path.join(folder, "pq12.png"), transparency=0)
    exif = Image.Exif()
    exif[0x0112] = 6
    text_image("rs34").convert("RGB").transpose(Image.Transpose.ROTATE_90).save(
        os.path.join(folder, "rs34.jpg"), exif=exif)
    Image.fromarray(np.asarray(text_image("tu56"), np.uint16) * 257).save(os.path.join(folder, "tu56.png"))
    return ["pq12.png", "rs34.jpg", "tu56.png"]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tfds") / "images"
    make_folder(str(folder), random_labels(40, seed=3))
    odd_images(str(folder))
    (folder / "broken.png").write_bytes(b"not a png")
    return str(folder)


@pytest.fixture(scope="module")
def built(source, tmp_path_factory):
    out = tmp_path_factory.mktemp("built")
    test = out / "test-images"
    make_folder(str(test), random_labels(6, seed=4))
    path = build_dataset(DatasetOptions(out=str(out / "ds"), data=source, val_split=0.25, test_data=str(test), **SIZE))
    return path


def test_plain_tfds_reads_the_dataset_with_its_vocabulary_and_counts(source, built):
    builder = tfds.builder_from_directory(built)
    splits = {name: split.num_examples for name, split in builder.info.splits.items()}
    assert splits == {"train": 32, "validation": 11, "test": 6}  # 44 files, one broken
    assert builder.info.splits["train"].num_shards == MIN_SHARDS
    labels = {os.path.splitext(n)[0] for n in os.listdir(source) if n != "broken.png"}
    read = {x["label"].decode() for x in tfds.as_numpy(tfds.load("crnn_captchas/default", split="train+validation",
                                                                  data_dir=os.path.dirname(os.path.dirname(
                                                                      os.path.dirname(built)))))}
    assert read == labels
    summary = read_summary(built)
    train_labels = {x["label"].decode() for x in tfds.as_numpy(builder.as_dataset(split="train"))}
    assert summary["vocabulary"] == "".join(sorted(set("".join(train_labels))))
    assert summary["max_label_length"] == 4 and summary["counts"] == splits
    assert summary["min_label_length"] == min(len(label) for label in labels)


def test_stored_pixels_are_the_folder_path_pixels(source, built):
    builder = tfds.builder_from_directory(built)
    stored = {x["label"].decode(): x["image"] for x in tfds.as_numpy(builder.as_dataset(split="train+validation"))}
    for name in ("pq12.png", "rs34.jpg", "tu56.png"):
        expected = load_image(os.path.join(source, name), 16, 64, 1).astype(int)
        assert np.abs(stored[os.path.splitext(name)[0]].astype(int) - expected).max() <= 1, name


def test_a_manifest_builds_the_same_labels(source, tmp_path):
    names = sorted(n for n in os.listdir(source) if n != "broken.png")
    manifest = tmp_path / "labels.tsv"
    manifest.write_text("".join(f"{os.path.join(source, n)}\t{os.path.splitext(n)[0]}\n" for n in names))
    path = build_dataset(DatasetOptions(out=str(tmp_path / "ds"), labels=str(manifest), **SIZE))
    assert read_summary(path)["counts"] == {"train": len(names)}
    with pytest.raises(ValueError, match="already holds a dataset"):
        build_dataset(DatasetOptions(out=str(tmp_path / "ds"), labels=str(manifest), **SIZE))


def test_train_streams_the_dataset_then_evaluate_and_resume_check_it(source, built, tmp_path):
    data_dir = os.path.dirname(os.path.dirname(os.path.dirname(built)))
    out = tmp_path / "run"
    done = run_cli("train.py", "--tfds", data_dir, "--out", str(out), "--epochs", "2", "--height", "16",
                   "--width", "64", "--batch-size", "8")
    assert done.returncode == 0, done.stderr[-2000:]
    info = json.load(open(out / "run.json"))
    assert info["train_images"] == 32 and info["val_images"] == 11 and info["train"]["tfds"] == data_dir
    assert os.path.exists(out / "predictions.png") and os.path.exists(out / "calibration.npy")
    config = json.loads(zipfile.ZipFile(out / "model.keras").read("config.json"))
    shortest = min(len(os.path.splitext(n)[0]) for n in os.listdir(source) if n != "broken.png")
    assert f'"label_lengths": [{shortest}, 4]' in json.dumps(config)  # the streamed labels' lengths
    evaluated = run_cli("-m", "crnn_keras", "evaluate", "--model", str(out / "model.keras"), "--tfds", data_dir,
                        "--split", "test", "--json")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert json.loads(evaluated.stdout)["count"] == 6
    wrong_size = run_cli("train.py", "--tfds", data_dir, "--out", str(tmp_path / "other"), "--epochs", "1")
    assert wrong_size.returncode == 1 and "stored at 16x64x1" in wrong_size.stderr


def test_find_dataset_dir_names_what_is_wrong(tmp_path, built):
    with pytest.raises(FileNotFoundError, match="no TFDS dataset"):
        find_dataset_dir(str(tmp_path))
    shutil.copytree(os.path.dirname(built), tmp_path / "two" / "a")
    shutil.copytree(os.path.dirname(built), tmp_path / "two" / "b")
    with pytest.raises(ValueError, match="holds 2 datasets"):
        find_dataset_dir(str(tmp_path / "two"))


def test_the_dataset_command_builds_from_the_command_line(source, tmp_path):
    done = run_cli("-m", "crnn_keras", "dataset", "build", "--data", source, "--out", str(tmp_path / "d"),
                   "--height", "16", "--width", "64", cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert os.path.exists(os.path.join(done.stdout.strip(), "dataset_info.json"))
    assert "skipped: " in done.stderr and "broken.png" in done.stderr


def test_a_beam_build_writes_the_same_dataset(source, built, tmp_path):
    """Apache Beam is not a dependency: run by hand where it is installed (README, Large data)."""
    pytest.importorskip("apache_beam")
    path = build_dataset(DatasetOptions(out=str(tmp_path / "beam"), data=source, val_split=0.25, **SIZE,
                                        beam_options="--runner=DirectRunner --direct_num_workers=2 "
                                                     "--direct_running_mode=multi_processing"))
    beam, plain = tfds.builder_from_directory(path), tfds.builder_from_directory(built)
    assert beam.info.splits["train"].num_examples == plain.info.splits["train"].num_examples == 32
    # Beam puts each example in one of 16 shards by a hash of its key: of 32 examples, some
    # shards get none and are not written. Every shard fills on a set of any size.
    assert 1 < beam.info.splits["train"].num_shards <= MIN_SHARDS
    read = {x["label"].decode(): x["image"] for x in tfds.as_numpy(beam.as_dataset(split="train+validation"))}
    expected = {x["label"].decode(): x["image"] for x in tfds.as_numpy(plain.as_dataset(split="train+validation"))}
    assert read.keys() == expected.keys() and all((read[k] == expected[k]).all() for k in read)
    assert read_summary(path)["counts"] == {"train": 32, "validation": 11}


def test_beam_options_without_beam_is_one_line(source, tmp_path):
    import importlib.util

    if importlib.util.find_spec("apache_beam"):
        pytest.skip("Apache Beam is installed here")
    done = run_cli("-m", "crnn_keras", "dataset", "build", "--data", source, "--out", str(tmp_path / "ds"),
                   "--beam-options=--runner=DirectRunner")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "--beam-options: Apache Beam is not installed" in done.stderr.strip().splitlines()[-1]


def test_coloured_images_are_stored_in_colour_unless_grey_is_asked(tmp_path):
    from crnn_keras.data.streamed import TfdsSource

    folder = tmp_path / "coloured"
    folder.mkdir()
    for i, label in enumerate(random_labels(6, seed=7)):
        coloured_text(label, seed=i).save(folder / f"{label}.png")
    for channels, stored in ((None, 3), (1, 1)):
        path = build_dataset(DatasetOptions(out=str(tmp_path / f"ds{stored}"), data=str(folder), channels=channels,
                                            **SIZE))
        assert tfds.builder_from_directory(path).info.features["image"].shape == (16, 64, stored)
        assert TfdsSource(path).channels() == stored
