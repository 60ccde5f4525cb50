"""What a `.keras` reader computes on one image, step by step, for `explain`.

    image (H, W, C) → stem → blocks (the height halves each time) → 2x5 conv (height 1)
      → T time steps, each a probability for every character and the blank
      → greedy path (the most likely symbol per step) → repeats merged → blanks dropped → text

(A reader that bounds its reads to the training labels' lengths takes another path where the
greedy one reads a length no label had; `explain` shows the path the reader took.)

A doubled letter survives the merge only if a blank stands between its two runs: `a a · a`
reads "aa", `a a a` reads "a". That is why CTC needs at least 2·len+1 time steps.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from crnn_keras.contract import BLANK_INDEX, Vocabulary, greedy_collapse
from crnn_keras.model.decoder import beam_decode
from crnn_keras.model.heads import find_backbone, find_decoder
from crnn_keras.model.length_bound import reader_path_graph

BLANK_SYMBOL = "·"
# The layers whose outputs show the height halving; every crnn_keras backbone names them so.
STAGES = ("stem_relu", "final_relu")


@dataclasses.dataclass
class Explanation:
    """One image's reading, with what each stage of the model made of it.

    feature_maps: (layer name, (h, w) mean over channels, (h, w, channels)) per stage.
    probabilities: (T, K) softmax per time step; class 0 is the blank.
    """

    image: np.ndarray
    feature_maps: list[tuple[str, np.ndarray, tuple[int, int, int]]]
    probabilities: np.ndarray
    vocabulary: Vocabulary
    text: str
    confidence: float
    beam_text: str | None = None
    beam_confidence: float | None = None
    reader_path: list[int] | None = None  # where the reader's length bound left the greedy path


    @property
    def time_steps(self) -> int:
        return self.probabilities.shape[0]

    @property
    def path(self) -> list[int]:
        """The class the reader took at each time step: the most likely one, unless its length
        bound chose another path."""
        if self.reader_path is not None:
            return list(self.reader_path)
        return [int(i) for i in self.probabilities.argmax(axis=-1)]

    @property
    def merged(self) -> list[int]:
        """The path with runs of one class merged into one, blanks still in."""
        path = self.path
        return [c for i, c in enumerate(path) if i == 0 or c != path[i - 1]]

    def symbol(self, class_id: int) -> str:
        return BLANK_SYMBOL if class_id == BLANK_INDEX else self.vocabulary.characters[class_id - 1]

    def to_dict(self) -> dict:
        """The sidecar JSON: the path, the merge, the text (equal to the reader's own text)."""
        return {
            "time_steps": self.time_steps,
            "input_columns_per_step": self.image.shape[1] / self.time_steps,
            "path": [self.symbol(c) for c in self.path],
            "merged": [self.symbol(c) for c in self.merged],
            "text": self.text,
            "confidence": self.confidence,
            "beam_text": self.beam_text,
            "beam_confidence": self.beam_confidence,
            "feature_maps": [{"layer": name, "shape": list(shape)} for name, _, shape in self.feature_maps],
        }


def stage_names(backbone: keras.Model) -> list[str]:
    """stem, each block's output, then the 2x5 convolution: the maps `explain` draws."""
    blocks = [layer.name for layer in backbone.layers if layer.name.startswith("block") and
              layer.name.endswith("_out")]
    return [STAGES[0], *blocks, STAGES[1]]


def explain(reader: keras.Model, image: np.ndarray, beam_width: int | None = None) -> Explanation:
    """Runs `reader` on one (H, W, C) uint8 image and keeps every stage's output."""
    backbone = find_backbone(reader)
    names = stage_names(backbone)
    probe = keras.Model(backbone.input, [backbone.get_layer(n).output for n in names] + [backbone.output])
    *maps, logits = probe.predict(image[None], verbose=0)
    decoder = find_decoder(reader)
    vocabulary = Vocabulary(tuple(decoder.vocabulary))
    path = (keras.ops.convert_to_numpy(reader_path_graph(logits, decoder.label_lengths))
            if decoder.label_lengths else np.argmax(logits, axis=-1))
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits[0], axis=-1))
    explanation = Explanation(
        image=image,
        feature_maps=[(n, m[0].mean(axis=-1), tuple(m.shape[1:])) for n, m in zip(names, maps)],
        probabilities=probabilities,
        vocabulary=vocabulary,
        text=vocabulary.decode(greedy_collapse(path)[0]),
        confidence=float(np.prod(probabilities[np.arange(len(path[0])), path[0]].astype(np.float64))),
        reader_path=[int(c) for c in path[0]],
    )
    if beam_width:
        texts, confidences = beam_decode(logits, vocabulary, beam_width)
        explanation.beam_text, explanation.beam_confidence = texts[0], float(confidences[0])
    return explanation
