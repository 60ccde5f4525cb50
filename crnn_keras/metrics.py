"""Scoring readings against the truth: sequence accuracy and character error rate."""

from __future__ import annotations

from collections.abc import Sequence


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance between two sequences."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def score(predictions: Sequence[str], truths: Sequence[str]) -> dict:
    """Sequence accuracy (exact match) and character error rate (edits / truth chars).

    >>> score(["ab", "cd"], ["ab", "ce"])["sequence_accuracy"]
    0.5
    """
    if len(predictions) != len(truths):
        raise ValueError(f"{len(predictions)} predictions for {len(truths)} truths")
    count = len(truths)
    correct = sum(p == t for p, t in zip(predictions, truths))
    edits = sum(edit_distance(p, t) for p, t in zip(predictions, truths))
    chars = sum(len(t) for t in truths)
    return {
        "sequence_accuracy": correct / count if count else 0.0,
        "character_error_rate": edits / chars if chars else 0.0,
        "count": count,
        "correct": correct,
    }
