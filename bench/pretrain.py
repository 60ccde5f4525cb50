"""A reader pre-trained on captchas drawn fresh in many fonts, to start small sets from (`--init-from`).

    python bench/pretrain.py --out runs/pretrained --epochs 40 --per-epoch 6000
    python bench/selection.py --style multicolor --name init-pretrained --train '{"init_from": "runs/pretrained/model.keras"}'

The lever the accuracy issue names for data-bound styles (bench/NOTES.md, sessions 6, 7, 15):
1,200 images hold about 130 examples a class, too few to learn glyphs that come warped and
turned in decorative fonts. Here every epoch draws new captchas of 4–6 characters from
0-9a-zA-Z, half with the `captcha` package, half with `wheezy.captcha`, each in 2–3 of 22
fonts that ship with the project's own dependencies (matplotlib's DejaVu, STIX and Computer
Modern, and `captcha`'s DroidSansMono; none of multicolorcaptcha's, so the dev suite's
multicolor style stays unseen), in random colours, turns, warps, noise and sizes. The model
is the small-set default (blocks 24-48-72-96, GRU 96, 64x160, 40 steps) in grey, so a
fine-tuned reader has the shape a small set builds from scratch.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import string
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from crnn_keras.data.generated import GeneratedSource  # noqa: E402

ALPHABET = string.digits + string.ascii_lowercase + string.ascii_uppercase
MPL_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
             "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf",
             "DejaVuSansMono-BoldOblique.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf",
             "DejaVuSerif-BoldItalic.ttf", "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf",
             "STIXGeneralBolIta.ttf", "cmr10.ttf", "cmb10.ttf", "cmss10.ttf", "cmti10.ttf", "cmtt10.ttf")
SIZES = ((160, 60), (200, 70), (180, 50), (120, 40), (150, 60))


def fonts() -> list[str]:
    import captcha
    import matplotlib

    ttf = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "fonts", "ttf")
    droid = os.path.join(os.path.dirname(captcha.__file__), "data", "DroidSansMono.ttf")
    return [os.path.join(ttf, name) for name in MPL_FONTS] + [droid]


def _colour(rng: random.Random, tone: str) -> tuple[int, int, int]:
    # wheezy pastes glyphs through a mask of their own brightness: dark ink would draw faint glyphs
    low, high = {"ink": (0, 140), "mid": (60, 170), "paper": (170, 255)}[tone]
    return tuple(rng.randint(low, high) for _ in range(3))


def _captcha_drawing(rng: random.Random, font_files: list[str], label: str, size: tuple[int, int]):
    from crnn_keras.data.synthetic import _seeded_captcha

    with _seeded_captcha(rng.randrange(2**31)) as captcha_class:
        generator = captcha_class(width=size[0], height=size[1], fonts=rng.sample(font_files, 2))
        return generator.generate_image(label, bg_color=_colour(rng, "paper"), fg_color=_colour(rng, "ink"))


def _wheezy_drawing(rng: random.Random, font_files: list[str], label: str, size: tuple[int, int]):
    from wheezy.captcha import image as w

    random.seed(rng.randrange(2**31))  # wheezy draws with the random module's global source
    height = size[1]
    text = w.text(fonts=rng.sample(font_files, 3), font_sizes=tuple(int(height * f) for f in (0.6, 0.7, 0.8)),
                  squeeze_factor=rng.uniform(0.6, 0.95), color=lambda: _colour(rng, "mid"),
                  drawings=[w.warp(rng.uniform(0.05, 0.3)), w.rotate(rng.choice((5, 15, 30))), w.offset(0.1, 0.1)])
    drawings = [w.background("#%02x%02x%02x" % _colour(rng, "paper")), text]
    if rng.random() < 0.7:
        drawings += [w.curve("#%02x%02x%02x" % _colour(rng, "ink"), width=rng.randint(1, 3), number=rng.randint(2, 4)),
                     w.noise(number=rng.randint(0, 60), color="#%02x%02x%02x" % _colour(rng, "ink"), level=2)]
    return w.captcha(drawings=drawings, width=size[0], height=height)(label)


@dataclasses.dataclass(frozen=True)
class ManyFontsSource(GeneratedSource):
    """Fresh captchas in many fonts and two generators' styles (see the module docstring)."""

    def index(self) -> dict[str, list[list]]:
        return {"many-font captchas": super().index()["synthetic captchas"]}

    def draw(self, seed: int, height: int, width: int):
        rng = random.Random(seed)
        font_files = fonts()
        while True:
            label = "".join(rng.choice(self.alphabet) for _ in range(rng.randint(self.min_length, self.max_length)))
            size = rng.choice(SIZES)
            draw = _captcha_drawing if rng.random() < 0.5 else _wheezy_drawing
            yield draw(rng, font_files, label, size), label


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--per-epoch", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", help="write 24 drawings to this folder and stop")
    args = parser.parse_args(argv)
    source = ManyFontsSource(args.per_epoch, max(200, args.per_epoch // 10), ALPHABET, 4, 6, seed=args.seed)
    if args.samples:
        os.makedirs(args.samples, exist_ok=True)
        for i, (image, label) in zip(range(24), source.draw(args.seed, 64, 160)):
            image.save(os.path.join(args.samples, f"{i:02d}_{label}.png"))
        return None
    from crnn_keras.model.config import SMALL_SET_BLOCK_WIDTHS, SMALL_SET_RNN_UNITS, ModelConfig
    from crnn_keras.train.config import TrainConfig
    from crnn_keras.train.trainer import train

    cfg = TrainConfig(data="", out=args.out, epochs=args.epochs, batch_size=32, seed=args.seed,
                      fresh_per_epoch=args.per_epoch, fresh_alphabet=ALPHABET, fresh_lengths=(4, 6))
    model = ModelConfig(channels=1, block_widths=SMALL_SET_BLOCK_WIDTHS, rnn_units=SMALL_SET_RNN_UNITS)
    return train(cfg, model, data_source=source)


if __name__ == "__main__":
    main()
