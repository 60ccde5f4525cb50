"""Scoring readings against the truth: sequence accuracy and character error rate."""

from __future__ import annotations

import math
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


COVERAGE_LEVELS = (0.90, 0.95, 0.99)


def coverage(confidences: Sequence[float], correct: Sequence[bool], levels: Sequence[float] = COVERAGE_LEVELS) -> list[dict]:
    """Accuracy on the most confident readings: for each level, the share of images kept.

    Readings are sorted by confidence, most confident first; at coverage c the first ceil(c·n)
    are kept. `threshold` is the lowest confidence kept: a `--min-confidence` that keeps about
    that share of such images, at about that accuracy.

    >>> coverage([0.9, 0.8, 0.1, 0.7], [True, True, False, True], levels=(0.75,))
    [{'coverage': 0.75, 'accuracy': 1.0, 'threshold': 0.7}]
    """
    order = sorted(range(len(confidences)), key=lambda i: -confidences[i])
    rows = []
    for level in levels:
        kept = order[: max(1, math.ceil(level * len(order) - 1e-9))] if order else []
        rows.append({"coverage": level,
                     "accuracy": sum(bool(correct[i]) for i in kept) / len(kept) if kept else 0.0,
                     "threshold": round(float(confidences[kept[-1]]), 4) if kept else 0.0})
    return rows
