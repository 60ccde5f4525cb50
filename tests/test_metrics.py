"""Scores: exact-match accuracy and character error rate."""

import pytest

from crnn_keras.metrics import edit_distance, score


def test_edit_distance_counts_insertions_deletions_and_substitutions():
    assert edit_distance("x7422", "x742") == 1
    assert edit_distance("", "abc") == 3 and edit_distance("kitten", "sitting") == 3
    assert edit_distance("가나", "가나") == 0


def test_score_is_exact_match_accuracy_and_edits_per_truth_character():
    result = score(["ab", "cd", ""], ["ab", "ce", "xy"])
    assert result == {"sequence_accuracy": 1 / 3, "character_error_rate": 3 / 6, "count": 3, "correct": 1}
    assert score([], [])["sequence_accuracy"] == 0.0
    with pytest.raises(ValueError, match="2 predictions for 1 truths"):
        score(["a", "b"], ["a"])
