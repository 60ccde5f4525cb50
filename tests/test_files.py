import os

import pytest

from crnn_keras.contract import Vocabulary
from crnn_keras.data.files import compile_label_regex, label_from_name, list_image_files, list_samples

# The README's --label-regex recipes, each with a name seen in the wild.
RECIPES = [
    (None, "x9g3a.png", "x9g3a"),
    (r"^(.+)_[0-9a-f]{32}$", "ab3d9_0cc175b9c0f1b6a831c399e269772661.jpg", "ab3d9"),
    (r"^([^.]+)\.\d+$", "0412.2.png", "0412"),
    (r"^(.+)-\d+$", "k7pq-12.png", "k7pq"),
    (r"^(.+?)(?: \(\d+\))?$", "k7pq (1).png", "k7pq"),
    (r"^(.+?)(?: \(\d+\))?$", "k7pq.png", "k7pq"),
    (r"^(.+)_\d+$", "abc_000012.png", "abc"),
]


@pytest.mark.parametrize("regex, name, label", RECIPES)
def test_label_recipes(regex, name, label):
    assert label_from_name(f"/some/dir/{name}", compile_label_regex(regex)) == label


def test_unicode_case_and_nfd_names():
    nfd = "\u1100\u1161\u1102\u1161.png"  # 가나 decomposed, as macOS stores it
    assert label_from_name(nfd) == "가나"
    assert label_from_name("AbC.png") == "AbC"
    assert label_from_name("AbC.png", ignore_case=True) == "abc"


@pytest.mark.parametrize("name", [".png", "   .png", "_5.png"])
def test_empty_labels_are_refused(name):
    with pytest.raises(ValueError, match="empty label"):
        label_from_name(name, compile_label_regex(r"^(.*?)_?\d*$"))


def test_bad_regexes():
    with pytest.raises(ValueError, match="no capture group"):
        compile_label_regex(r"\w+")
    with pytest.raises(ValueError, match="not a valid regular expression"):
        compile_label_regex(r"(")
    with pytest.raises(ValueError, match="does not match"):
        label_from_name("abc.png", compile_label_regex(r"^(\d+)$"))


def test_list_samples_reports_unlabelled_and_folders(tmp_path):
    for name in ("ab.png", "cd.JPG", "ef.bmp", "gh.gif", "notes.txt", "x_.png"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "dir.png").mkdir()
    samples, problems = list_samples(str(tmp_path), r"^([a-z]+)$")
    assert [s.label for s in samples] == ["ab", "cd", "ef", "gh"]
    reasons = {os.path.basename(p.path): p.reason for p in problems}
    assert reasons["dir.png"] == "is a folder, not an image"
    assert "does not match" in reasons["x_.png"]


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        list_samples(str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="no image files found"):
        list_samples(str(tmp_path))
    with pytest.raises(ValueError, match="gone.png: no such file or folder"):
        list_image_files([str(tmp_path / "gone.png")])


def test_vocabulary_is_sorted_code_points():
    assert Vocabulary.from_labels(["ba", "가a", "B"]).characters == ("B", "a", "b", "가")
