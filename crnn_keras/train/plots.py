"""Pictures of a run: learning curves and a grid of validation readings."""

from __future__ import annotations

import csv
from collections.abc import Sequence

import numpy as np

ERRORS_SHOWN = 12
TILES = 24


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed
    import matplotlib.pyplot as plt

    return plt


def curves(history_csv: str, out_png: str, best_epoch: int | None = None) -> None:
    """Loss and validation loss, accuracy and CER per epoch (numbered from 1), the best epoch marked."""
    with open(history_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    epochs = [int(r["epoch"]) + 1 for r in rows]

    def column(name):
        return [float(r[name]) if r.get(name) not in (None, "") else np.nan for r in rows]

    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(epochs, column("loss"), label="loss")
    left.plot(epochs, column("val_loss"), label="val_loss")
    left.set_ylabel("CTC loss")
    left.set_yscale("log")
    right.plot(epochs, column("val_accuracy"), label="val sequence accuracy")
    right.plot(epochs, column("val_cer"), label="val character error rate")
    right.set_ylim(0, 1.02)
    for ax in (left, right):
        if best_epoch:
            ax.axvline(best_epoch, color="tab:green", linestyle="--", linewidth=1, label=f"best epoch ({best_epoch})")
        ax.set_xlabel("epoch")
        ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=90)
    plt.close(fig)


def grid_order(texts: Sequence[str], truths: Sequence[str], errors: int = ERRORS_SHOWN, tiles: int = TILES) -> list[int]:
    """Which readings the grid shows: up to `errors` misreads first, then correct reads to fill it."""
    wrong = [i for i, (t, y) in enumerate(zip(texts, truths)) if t != y][:errors]
    right = [i for i, (t, y) in enumerate(zip(texts, truths)) if t == y]
    return wrong + right[: tiles - len(wrong)]


def predictions(images: np.ndarray, texts: Sequence[str], truths: Sequence[str], confidences: Sequence[float],
                out_png: str, title: str | None = None) -> None:
    """A grid of validation images (or those `title` names), each titled with what was read
    and its confidence; misreads (red) also name the truth."""
    order = grid_order(texts, truths)
    cols = 4
    rows = max(1, (len(order) + cols - 1) // cols)
    plt = _pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 3.2, rows * 1.45), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), order):
        image = images[i]
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=255)
        ok = texts[i] == truths[i]
        caption = (f"read {texts[i]!r} ({confidences[i]:.2f})" if ok else
                   f"✗ read {texts[i]!r} ({confidences[i]:.2f})\ntruth {truths[i]!r}")
        ax.set_title(caption, color="black" if ok else "red", fontsize=8)
    fig.suptitle(title or f"validation readings: {sum(t != y for t, y in zip(texts, truths))} misread of "
                 f"{len(texts)} (up to {ERRORS_SHOWN} shown first, in red), then correct ones", fontsize=9)
    fig.tight_layout()
    fig.savefig(out_png, dpi=90)
    plt.close(fig)
