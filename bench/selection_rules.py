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


# what the default recipe does now: patience counted from two thirds, the latest epoch near the best
CURRENT_STOP, CURRENT_KEEP = "early stop (15 counted from 40)", "latest within 1 validation image of the best"


def run_summary(row: dict) -> dict:
    """The current rule's kept epoch and its check accuracy, the last ten epochs' mean, the best."""
    patience, min_epochs, from_min = STOPS[CURRENT_STOP]
    row["epochs"][0]["val_images"] = val_images(row)
    kept = kept_epoch(row["epochs"], KEEP[CURRENT_KEEP], patience, min_epochs, from_min)
    checks = [e["check_accuracy"] for e in row["epochs"]]
    return {"kept": kept, "check": checks[kept - 1], "last10": statistics.fmean(checks[-10:]), "best": max(checks)}


def compare_variants(rows: Sequence[dict]) -> list[dict]:
    """Each variant's run beside the default's run of the same style and seed (check accuracy)."""
    defaults = {(r["style"], r["seed"]): r for r in rows if "variant" not in r}
    out = []
    for row in rows:
        base = defaults.get((row["style"], row["seed"]))
        if "variant" in row and base is not None:
            out.append({"variant": row["variant"], "style": row["style"], "seed": row["seed"],
                        "default": run_summary(base), "variant_run": run_summary(row),
                        "seconds": (base.get("train_seconds"), row.get("train_seconds"))})
    return out


def variants_table(rows: Sequence[dict]) -> str:
    lines = ["| variant | run | kept epoch's check: default → variant | last 10 epochs | best epoch | "
             "train seconds |", "|---|---|---|---|---|---|"]
    for c in compare_variants(rows):
        d, v = c["default"], c["variant_run"]
        lines.append(f"| {c['variant']} | {c['style']} s{c['seed']} | {d['check']:.3f} ({d['kept']}) → "
                     f"{v['check']:.3f} ({v['kept']}) | {d['last10']:.3f} → {v['last10']:.3f} | "
                     f"{d['best']:.3f} → {v['best']:.3f} | {c['seconds'][0]:.0f} → {c['seconds'][1]:.0f} |")
    return "\n".join(lines)


def report(path: str) -> str:
    """Markdown: every rule over the default recipe's runs in `path` (JSON lines), then the variants."""
    with open(path, encoding="utf-8") as f:
        everything = [json.loads(line) for line in f if line.strip()]
    rows = [r for r in everything if "variant" not in r]
    runs = [f"{r['style']} s{r['seed']}" for r in rows]
    lines = ["| stop | keep | mean check accuracy | " + " | ".join(runs) + " |",
             "|---|---|---|" + "---|" * len(runs)]
    for r in score_rules(rows):
        cells = [f"{c:.3f}" + (f" ({e})" if r["kept"] else "") for c, e in zip(r["check"], r["kept"] or r["check"])]
        lines.append(f"| {r['stop']} | {r['keep']} | {r['mean']:.4f} | " + " | ".join(cells) + " |")
    if len(rows) < len(everything):
        lines += ["", "Variants (check accuracy; the current rule keeps the epoch):", "", variants_table(everything)]
    return "\n".join(lines)
