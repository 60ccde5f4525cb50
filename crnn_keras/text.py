"""CTC outputs → text, and text → scores, in plain NumPy.

Shared by the Keras and TFLite readers and by evaluation; imports no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """(…, K) logits → (…, K) log probabilities, computed stably."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def greedy_collapse(ids: np.ndarray, blank_index: int = 0) -> list[list[int]]:
    """Best-path ids (B, T) → per sample: repeats merged, then blanks dropped."""
    out = []
    for row in np.asarray(ids):
        keep = np.ones(len(row), bool)
        keep[1:] = row[1:] != row[:-1]
        out.append([int(i) for i in row[keep & (row != blank_index)]])
    return out


def best_path_confidence(logits: np.ndarray) -> np.ndarray:
    """(B, T, K) logits → (B,) probability of the best path (product of frame maxima)."""
    return np.exp(log_softmax(logits.astype(np.float64)).max(axis=-1).sum(axis=-1)).astype(np.float32)


def ids_to_text(ids: Sequence[int], vocabulary: Sequence[str], blank_index: int = 0) -> str:
    """Class ids (padding -1 and blanks skipped) → text; class i ≥ 1 is vocabulary[i - 1]."""
    return "".join(vocabulary[i - 1] for i in ids if i >= 1 and i != blank_index and i <= len(vocabulary))


def greedy_decode(logits: np.ndarray, vocabulary: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """(B, T, K) logits → (texts, confidences) by best-path decoding."""
    texts = [ids_to_text(ids, vocabulary) for ids in greedy_collapse(np.argmax(logits, axis=-1))]
    return texts, best_path_confidence(logits)


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
    """Sequence accuracy (exact match) and character error rate (edits / truth chars)."""
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
