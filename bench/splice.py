"""Splicing: new labelled training images cut from a user's own, at the character boundaries a
trained reader's CTC forced alignment finds (an experiment for the data-bound styles; see
bench/NOTES.md).

    python bench/splice.py --model RUN/model.keras --data TRAIN_DIR --out SPLICED_DIR --count 4800
    python bench/splice.py --model RUN/model.keras --data TRAIN_DIR --figure cuts.png   # cuts drawn

Each spliced image is the left part of one training image up to the cut after its k-th
character and the right part of another from its own cut after its k-th character, so the
label is the first's k characters and the second's rest. Only images the reader reads right
(greedy) are cut: their alignment is the one the reader itself uses.
"""

from __future__ import annotations

import argparse
import os
import random
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from crnn_keras.contract import BLANK_INDEX  # noqa: E402

NEG = -1e30


def forced_alignment(log_probs: np.ndarray, label: list[int], blank: int = BLANK_INDEX) -> list[tuple[int, int]]:
    """The most likely CTC path that spells `label`: (first, last) time step of each character.

    log_probs: (T, K) log softmax. Viterbi over the 2L+1 states blank, c1, blank, c2, …, blank.
    """
    states = [blank]
    for c in label:
        states += [c, blank]
    steps, count = log_probs.shape[0], len(states)
    score = np.full((steps, count), NEG)
    back = np.zeros((steps, count), np.int32)
    score[0, 0], score[0, 1] = log_probs[0, states[0]], log_probs[0, states[1]]
    for t in range(1, steps):
        for s in range(count):
            options = [(score[t - 1, s], s)]
            if s >= 1:
                options.append((score[t - 1, s - 1], s - 1))
            if s >= 2 and states[s] != blank and states[s] != states[s - 2]:
                options.append((score[t - 1, s - 2], s - 2))
            best, back[t, s] = max(options)
            score[t, s] = best + log_probs[t, states[s]]
    s = count - 1 if score[-1, count - 1] >= score[-1, count - 2] else count - 2
    path = [s]
    for t in range(steps - 1, 0, -1):
        s = back[t, s]
        path.append(s)
    path.reverse()
    spans: list[list[int]] = [[] for _ in label]
    for t, s in enumerate(path):
        if s % 2 == 1:
            spans[s // 2].append(t)
    return [(min(span), max(span)) for span in spans]


def cut_columns(spans: list[tuple[int, int]], steps: int, width: int) -> list[int]:
    """Image columns between adjacent characters: halfway from one's last step to the next's first."""
    per_step = width / steps
    return [round((spans[i][1] + 1 + spans[i + 1][0]) / 2 * per_step) for i in range(len(spans) - 1)]


def align_folder(model_path: str, data: str, label_regex: str | None, ignore_case: bool):
    """[(path, label, cuts in the file's own columns)] for the training images read right."""
    import keras
    from PIL import Image

    from crnn_keras.contract import Vocabulary, greedy_collapse
    from crnn_keras.data.files import list_samples
    from crnn_keras.data.images import load_images
    from crnn_keras.model.heads import find_backbone, find_decoder

    reader = keras.saving.load_model(model_path)
    backbone = find_backbone(reader)
    vocabulary = Vocabulary(tuple(find_decoder(reader).vocabulary))
    _, height, width, channels = backbone.input_shape
    samples, _ = list_samples(data, label_regex, ignore_case)
    images, kept, _ = load_images([s.path for s in samples], height, width, channels)
    logits = backbone.predict(images[:len(kept)], batch_size=64, verbose=0)
    log_probs = keras.ops.convert_to_numpy(keras.ops.log_softmax(logits, axis=-1))
    aligned = []
    for row, index in enumerate(kept):
        sample = samples[index]
        if vocabulary.decode(greedy_collapse(log_probs[row:row + 1].argmax(-1))[0]) != sample.label:
            continue
        spans = forced_alignment(log_probs[row], vocabulary.encode(sample.label))
        file_width = Image.open(sample.path).size[0]
        aligned.append((sample.path, sample.label, cut_columns(spans, log_probs.shape[1], file_width)))
    print(f"aligned {len(aligned)} of {len(samples)} training images (the rest misread)", file=sys.stderr)
    return aligned


def splice_pair(first, second, k: int):
    """first's image up to its k-th cut, second's from its k-th cut on, at first's height."""
    from PIL import Image

    from crnn_keras.data.images import open_image

    (path_a, label_a, cuts_a), (path_b, label_b, cuts_b) = first, second
    a, b = open_image(path_a).convert("RGB"), open_image(path_b).convert("RGB")
    if b.size[1] != a.size[1]:
        scale = a.size[1] / b.size[1]
        b = b.resize((round(b.size[0] * scale), a.size[1]), Image.Resampling.BILINEAR)
        cuts_b = [round(c * scale) for c in cuts_b]
    left, right = a.crop((0, 0, cuts_a[k - 1], a.size[1])), b.crop((cuts_b[k - 1], 0, b.size[0], a.size[1]))
    image = Image.new("RGB", (left.size[0] + right.size[0], a.size[1]))
    image.paste(left, (0, 0))
    image.paste(right, (left.size[0], 0))
    return image, label_a[:k] + label_b[k:]


def write_spliced(aligned, out: str, count: int, seed: int) -> None:
    """`count` spliced images named `<label>_s<n>.png`; pairs have equal label lengths."""
    rng = random.Random(seed)
    by_length: dict[int, list] = {}
    for item in aligned:
        if len(item[1]) >= 2:
            by_length.setdefault(len(item[1]), []).append(item)
    pools = [pool for pool in by_length.values() if len(pool) >= 2]
    os.makedirs(out, exist_ok=True)
    for n in range(count):
        pool = rng.choice(pools)
        first, second = rng.sample(pool, 2)
        image, label = splice_pair(first, second, rng.randrange(1, len(first[1])))
        image.save(os.path.join(out, f"{label}_s{n}.png"))


def draw_cuts(aligned, figure: str, shown: int = 12) -> None:
    from PIL import Image, ImageDraw

    from crnn_keras.data.images import open_image

    tiles = []
    for path, label, cuts in aligned[:shown]:
        image = open_image(path).convert("RGB")
        draw = ImageDraw.Draw(image)
        for c in cuts:
            draw.line([(c, 0), (c, image.size[1])], fill=(255, 0, 0), width=2)
        draw.text((2, 2), label, fill=(255, 0, 0))
        tiles.append(image)
    width = max(t.size[0] for t in tiles)
    sheet = Image.new("RGB", (width, sum(t.size[1] for t in tiles)), "white")
    y = 0
    for tile in tiles:
        sheet.paste(tile, (0, y))
        y += tile.size[1]
    sheet.save(figure)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, help="the training folder the model learnt")
    parser.add_argument("--label-regex")
    parser.add_argument("--ignore-case", action="store_true")
    parser.add_argument("--out", help="folder for the spliced images")
    parser.add_argument("--count", type=int, default=4800)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--figure", help="draw the cuts of the first 12 aligned images here")
    args = parser.parse_args()
    aligned = align_folder(args.model, args.data, args.label_regex, args.ignore_case)
    if args.figure:
        draw_cuts(aligned, args.figure)
    if args.out:
        write_spliced(aligned, args.out, args.count, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
