"""The contract: ids and the blank, the vocabulary object, and the greedy collapse in NumPy and in a graph."""

import numpy as np
import pytest

from crnn_keras.contract import BLANK_INDEX, Vocabulary, greedy_collapse, greedy_collapse_graph


def test_vocabulary_numbers_characters_from_one_and_round_trips():
    vocabulary = Vocabulary.from_labels(["b가", "ab", "3"])
    assert vocabulary.characters == ("3", "a", "b", "가") and vocabulary.num_classes == 5
    assert vocabulary.encode("ab가") == [2, 3, 4] and BLANK_INDEX not in vocabulary.encode("3ab가")
    assert vocabulary.decode([2, 3, 0, 4, -1, -1]) == "ab가"
    assert Vocabulary.from_codepoints(vocabulary.codepoints()) == vocabulary
    assert vocabulary.can_spell("ba") and not vocabulary.can_spell("z")


@pytest.mark.parametrize("make, message", [
    (lambda: Vocabulary(("a", "a")), "distinct"),
    (lambda: Vocabulary(("ab",)), "single characters, received 'ab'"),
    (lambda: Vocabulary(()), "at least one"),
    (lambda: Vocabulary.from_codepoints([97, 0x110000]), "code points, received 1114112"),
    (lambda: Vocabulary(("a",)).encode("ab"), "'b' is not in the vocabulary"),
    (lambda: Vocabulary(("a",)).decode([2]), "id 2 is outside the vocabulary of 1"),
])
def test_vocabulary_refuses_what_it_cannot_hold(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# Hand-made best paths over ids 1..3 (0 = blank), with what they collapse to.
ALIGNMENTS = [
    ([0, 0, 0, 0, 0, 0], []),                      # all blank: nothing read
    ([1, 1, 0, 1, 2, 2], [1, 1, 2]),               # a doubled letter needs the blank between its runs
    ([1, 1, 1, 2, 2, 3], [1, 2, 3]),               # without one, the runs merge
    ([3, 0, 3, 0, 3, 0], [3, 3, 3]),
    ([2, 2, 2, 2, 2, 2], [2]),
    ([0, 1, 2, 3, 1, 2], [1, 2, 3, 1, 2]),
]


def test_numpy_collapse_merges_repeats_then_drops_blanks():
    for path, ids in ALIGNMENTS:
        assert greedy_collapse(np.array([path])) == [ids]


def test_graph_collapse_equals_the_numpy_collapse_on_hand_made_alignments():
    paths = np.array([p for p, _ in ALIGNMENTS])
    logits = np.eye(4, dtype=np.float32)[paths] * 10.0  # (B, T, 4): one sure class per frame
    ids, confidence = greedy_collapse_graph(logits)
    ids = ids.numpy()
    assert ids.shape == paths.shape and ids.dtype == np.int32
    for row, (_, expected) in zip(ids, ALIGNMENTS):
        assert list(row[: len(expected)]) == expected and all(row[len(expected):] == -1)
    assert np.allclose(confidence.numpy(), (1 / (1 + 3 * np.exp(-10.0))) ** paths.shape[1], rtol=1e-4)
