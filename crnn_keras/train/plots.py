"""Pictures of a run: learning curves and a grid of validation predictions."""

from __future__ import annotations

import csv
from collections.abc import Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed
    import matplotlib.pyplot as plt

    return plt


def curves(history_csv: str, out_png: str) -> None:
    """Loss and validation loss, accuracy and CER per epoch, from history.csv."""
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
    left.set_xlabel("epoch")
    left.set_ylabel("CTC loss")
    left.set_yscale("log")
    left.legend()
    right.plot(epochs, column("val_accuracy"), label="val sequence accuracy")
    right.plot(epochs, column("val_cer"), label="val character error rate")
    right.set_xlabel("epoch")
    right.set_ylim(0, 1.02)
    right.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=90)
    plt.close(fig)


def predictions(
    images: np.ndarray,
    texts: Sequence[str],
    truths: Sequence[str],
    confidences: Sequence[float],
    out_png: str,
    limit: int = 24,
) -> None:
    """A grid of images titled 'prediction (confidence)', errors in red with the truth."""
    # Errors first: they are what a user opens this picture for.
    order = sorted(range(len(texts)), key=lambda i: texts[i] == truths[i])[:limit]
    cols = 4
    rows = max(1, (len(order) + cols - 1) // cols)
    plt = _pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 3.2, rows * 1.3), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), order):
        image = images[i]
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=255)
        ok = texts[i] == truths[i]
        title = f"{texts[i]} ({confidences[i]:.2f})" if ok else f"✗ {texts[i]!r} ≠ {truths[i]!r}"
        ax.set_title(title, color="black" if ok else "red", fontsize=9)
    fig.tight_layout()
    fig.savefig(out_png, dpi=90)
    plt.close(fig)
