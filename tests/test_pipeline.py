"""Data: the seeded split and the tf.data batches (labels as ids, padded with the blank)."""

import numpy as np
import pytest

from crnn_keras.contract import BLANK_INDEX, Vocabulary
from crnn_keras.data.labelled import LabelledImages, split
from crnn_keras.data.pipeline import check_labels_fit, make_dataset


def labelled(labels):
    images = np.arange(len(labels), dtype=np.uint8)[:, None, None, None] * np.ones((1, 4, 8, 1), np.uint8)
    return LabelledImages(images, list(labels), [f"{label}.png" for label in labels])


def test_split_is_seeded_disjoint_and_sized():
    data = labelled([f"a{i}" for i in range(10)])
    train, val = split(data, 0.2, seed=3)
    again_train, again_val = split(data, 0.2, seed=3)
    assert (len(train), len(val)) == (8, 2) and val.labels == again_val.labels
    assert not set(train.labels) & set(val.labels) and sorted(train.labels + val.labels) == sorted(data.labels)
    # Each image travels with its label.
    assert all(int(img[0, 0, 0]) == data.labels.index(label) for img, label in zip(val.images, val.labels))
    with pytest.raises(ValueError, match="too few to split"):
        split(labelled(["a"]), 0.5, 0)


def test_batches_hold_label_ids_padded_with_the_blank():
    data = labelled(["ab", "bba", "c"])
    vocabulary = Vocabulary.from_labels(data.labels)
    batch = next(iter(make_dataset(data, vocabulary, max_label_length=4, batch_size=3)))
    assert batch["image"].shape == (3, 4, 8, 1) and batch["image"].dtype == "uint8"
    labels = batch["labels"].numpy()
    assert labels.shape == (3, 4) and labels.dtype == np.int32
    for row, text in zip(labels, data.labels):
        assert list(row) == vocabulary.encode(text) + [BLANK_INDEX] * (4 - len(text))


def test_shuffled_batches_cover_every_image_once_per_epoch():
    data = labelled([f"a{i}" for i in range(7)])
    vocabulary = Vocabulary.from_labels(data.labels)
    ds = make_dataset(data, vocabulary, 2, batch_size=3, shuffle=True, augment_images=True, seed=1)
    seen = np.concatenate([b["labels"].numpy()[:, 1] for b in ds])
    assert sorted(seen) == sorted(vocabulary.encode("".join(label[1] for label in data.labels)))


def test_labels_longer_than_the_time_steps_allow_are_named():
    with pytest.raises(ValueError, match="x/abcd.png: label 'abcd' has 4 characters but the model has 8 time steps"):
        check_labels_fit(["ab", "abcd"], ["x/ab.png", "x/abcd.png"], time_steps=8)
    check_labels_fit(["abc"], ["x/abc.png"], time_steps=7)


def test_pipelines_run_without_the_autotune_model():
    # With it, every epoch's end waited for its optimizer thread's sleep (up to 18 s measured).
    data = labelled(["ab", "ba", "a"])
    vocabulary = Vocabulary.from_labels(data.labels)
    for ds in (make_dataset(data, vocabulary, 2, batch_size=2),
               make_dataset(data, vocabulary, 2, batch_size=2, shuffle=True, augment_images=True)):
        assert ds.options().autotune.enabled is False
        assert sum(len(b["labels"]) for b in ds) == 3
