"""Drawing an `Explanation`: one picture from the pixels to the text, all on the input's x-axis."""

from __future__ import annotations

import numpy as np

from crnn_keras.explain.alignment import Explanation

TOP_CLASSES = 7


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed
    import matplotlib.pyplot as plt

    return plt


def draw(explanation: Explanation, out_png: str, title: str = "") -> None:
    """Writes the picture: input with time-step columns, feature maps, step probabilities, collapse."""
    plt = _pyplot()
    maps = explanation.feature_maps
    top = max(m.shape[0] for _, m, _ in maps)
    ratios = [3.0] + [0.35 + 2.2 * m.shape[0] / top for _, m, _ in maps] + [2.6, 2.4]
    fig, axes = plt.subplots(len(ratios), 1, figsize=(12, sum(ratios) * 0.62 + 0.6),
                             gridspec_kw={"height_ratios": ratios})
    width = explanation.image.shape[1]
    _draw_input(axes[0], explanation, title)
    for ax, (name, fmap, shape) in zip(axes[1:], maps):
        ax.imshow(fmap, cmap="magma", aspect="auto", extent=(0, width, fmap.shape[0], 0), interpolation="nearest")
        ax.set_yticks([])
        ax.set_xticks([])
        ax.set_ylabel(f"{name}\n{shape[0]}×{shape[1]}×{shape[2]}", rotation=0, ha="right", va="center", fontsize=8)
    _draw_probabilities(axes[-2], explanation)
    _draw_collapse(axes[-1], explanation)
    fig.tight_layout(h_pad=0.3)
    fig.savefig(out_png, dpi=100)
    plt.close(fig)


def _step_edges(explanation: Explanation) -> np.ndarray:
    return np.linspace(0, explanation.image.shape[1], explanation.time_steps + 1)


def _draw_input(ax, explanation: Explanation, title: str) -> None:
    image = explanation.image
    ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=255, aspect="auto",
              extent=(0, image.shape[1], image.shape[0], 0))
    for x in _step_edges(explanation)[1:-1]:
        ax.axvline(x, color="tab:cyan", linewidth=0.6, alpha=0.8)
    ax.set_yticks([])
    ax.set_xticks([])
    columns = image.shape[1] / explanation.time_steps
    ax.set_title(f"{title}  —  {explanation.time_steps} time steps, one per {columns:g} input columns "
                 f"(cyan lines); the maps below halve the height to exactly 1", fontsize=9, loc="left")


def _draw_probabilities(ax, explanation: Explanation) -> None:
    probs = explanation.probabilities
    order = [0] + [int(c) for c in np.argsort(-probs[:, 1:].max(axis=0))[: TOP_CLASSES - 1] + 1]
    ax.imshow(probs[:, order].T, cmap="Greens", aspect="auto", vmin=0, vmax=1,
              extent=(0, explanation.image.shape[1], len(order), 0), interpolation="nearest")
    ax.set_yticks(np.arange(len(order)) + 0.5)
    ax.set_yticklabels(["blank ·" if c == 0 else repr(explanation.symbol(c)) for c in order], fontsize=8)
    ax.set_xticks([])
    ax.set_ylabel("probability\nper step", rotation=0, ha="right", va="center", fontsize=8)


def _draw_collapse(ax, explanation: Explanation) -> None:
    edges = _step_edges(explanation)
    centres = (edges[:-1] + edges[1:]) / 2
    path = explanation.path
    ax.set_xlim(0, edges[-1])
    ax.set_ylim(3.6, -0.4)
    ax.axis("off")
    ax.text(-2, 0, "1. best symbol per step", ha="right", va="center", fontsize=8)
    ax.text(-2, 1, "2. merge repeats", ha="right", va="center", fontsize=8)
    ax.text(-2, 2, "3. drop blanks", ha="right", va="center", fontsize=8)
    start = 0
    for t, (x, c) in enumerate(zip(centres, path)):
        ax.text(x, 0, explanation.symbol(c), ha="center", va="center", fontsize=9,
                color="grey" if c == 0 else "black", family="monospace")
        if t + 1 == len(path) or path[t + 1] != c:  # end of a run: one symbol for the whole run
            ax.plot([edges[start] + 1, edges[t + 1] - 1], [0.45, 0.45], color="grey", linewidth=0.8)
            ax.text((edges[start] + edges[t + 1]) / 2, 1, explanation.symbol(c), ha="center", va="center",
                    fontsize=10, color="grey" if c == 0 else "black", family="monospace")
            if c != 0:
                ax.text((edges[start] + edges[t + 1]) / 2, 2, explanation.symbol(c), ha="center", va="center",
                        fontsize=11, weight="bold", family="monospace")
            start = t + 1
    line = f"read {explanation.text!r}  (confidence {explanation.confidence:.3f})"
    if explanation.beam_text is not None and explanation.beam_text != explanation.text:
        line += f"   beam search reads {explanation.beam_text!r} ({explanation.beam_confidence:.3f})"
    ax.text(0, 3.1, line + "   — a doubled letter needs a blank between its two runs", fontsize=9, va="center")
