"""Replays rules for keeping an epoch and stopping early on per-epoch validation curves
(`bench/selection.py`'s rows) and scores each by the check-set accuracy of the epoch it keeps.

A rule sees only validation figures, epoch by epoch, as training would: `keep` ranks the epochs
seen so far, and a run stops early once `patience` epochs have passed since the kept one, after
`min_epochs` (the default recipe: 15 and two thirds of 60).

>>> curve = [{"val_accuracy": a, "val_loss": l, "val_cer": 0.0, "check_accuracy": c}
...          for a, l, c in [(0.5, 3.0, 0.4), (0.9, 1.0, 0.8), (0.9, 2.0, 0.9)]]
>>> kept_epoch(curve, KEEP["accuracy, then loss"], patience=60, min_epochs=0)
2
>>> kept_epoch(curve, KEEP["accuracy, then later"], patience=60, min_epochs=0)
3
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence

Epoch = dict


def _smoothed(i: int, curve: Sequence[Epoch], seen: int) -> float:
    window = [curve[j]["val_accuracy"] for j in range(max(0, i - 1), min(seen, i + 2))]
    return sum(window) / len(window)


# name: a key over (epoch index, curve, epochs seen so far); a rule keeps the epoch with the largest
KEEP: dict[str, Callable[[int, Sequence[Epoch], int], tuple]] = {
    # the default recipe's BestReader: higher accuracy, then lower loss, then the earlier epoch
    "accuracy, then loss": lambda i, c, seen: (c[i]["val_accuracy"], -c[i]["val_loss"], -i),
    "accuracy, then later": lambda i, c, seen: (c[i]["val_accuracy"], i),
    "accuracy, then CER, then later": lambda i, c, seen: (c[i]["val_accuracy"], -c[i]["val_cer"], i),
    "loss": lambda i, c, seen: (-c[i]["val_loss"], -i),
    "accuracy of 3 epochs around, then later": lambda i, c, seen: (round(_smoothed(i, c, seen), 6), i),
    "last": lambda i, c, seen: (i,),
}


def latest_near_best(images: int):
    """Keeps the latest epoch whose validation reads at most `images` fewer images than the best."""
    def key(i, curve, seen):
        tolerance = (images + 0.5) / curve[0]["val_images"]
        best = max(curve[j]["val_accuracy"] for j in range(seen))
        return (curve[i]["val_accuracy"] >= best - tolerance, i)
    return key


KEEP.update({f"latest within {n} validation image{'s' * (n > 1)} of the best": latest_near_best(n)
             for n in (1, 2)})

# name: (patience, min_epochs, whether patience counts only from min_epochs on)
STOPS = {"early stop (15 after 40)": (15, 40, False), "early stop (15 counted from 40)": (15, 40, True),
         "whole schedule": (10**6, 0, False)}


def kept_epoch(curve: Sequence[Epoch], keep, patience: int, min_epochs: int, from_min: bool = False) -> int:
    """The 1-based epoch a rule keeps, replaying the run epoch by epoch until it would stop.

    Patience counts from the kept epoch, or with `from_min` from the later of it and `min_epochs`.
    """
    best = 0
    for seen in range(1, len(curve) + 1):
        best = max(range(seen), key=lambda i: keep(i, curve, seen))
        since = max(best + 1, min_epochs) if from_min else best + 1
        if seen >= min_epochs and seen - since >= patience:
            break
    return best + 1


def val_images(row: dict) -> int:
    """The run's validation size; rows without it: the finest step between its accuracies."""
    if row.get("val_images"):
        return row["val_images"]
    values = sorted({e["val_accuracy"] for e in row["epochs"]})
    return round(1 / min(b - a for a, b in zip(values, values[1:])))


def score_rules(rows: Sequence[dict]) -> list[dict]:
    """For each (stop, keep) rule: the check accuracy of the kept epoch per run, and the mean."""
    for row in rows:
        row["epochs"][0]["val_images"] = val_images(row)
    results = []
    for stop_name, (patience, min_epochs, from_min) in STOPS.items():
        for keep_name, keep in KEEP.items():
            kept = [kept_epoch(row["epochs"], keep, patience, min_epochs, from_min) for row in rows]
            checks = [row["epochs"][e - 1]["check_accuracy"] for row, e in zip(rows, kept)]
            results.append({"stop": stop_name, "keep": keep_name, "kept": kept, "check": checks,
                            "mean": statistics.fmean(checks)})
    oracle = [max(e["check_accuracy"] for e in row["epochs"]) for row in rows]
    results.append({"stop": "—", "keep": "the best check epoch (a bound, not a rule)", "kept": [], "check": oracle,
                    "mean": statistics.fmean(oracle)})
    return results


def report(path: str) -> str:
    """A Markdown table of every rule over the runs in `path` (JSON lines)."""
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    runs = [f"{r['style']} s{r['seed']}" for r in rows]
    lines = ["| stop | keep | mean check accuracy | " + " | ".join(runs) + " |",
             "|---|---|---|" + "---|" * len(runs)]
    for r in score_rules(rows):
        cells = [f"{c:.3f}" + (f" ({e})" if r["kept"] else "") for c, e in zip(r["check"], r["kept"] or r["check"])]
        lines.append(f"| {r['stop']} | {r['keep']} | {r['mean']:.4f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
