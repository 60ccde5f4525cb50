"""The dev suite's generated captcha styles, each from a different generator package.

    folder = build_style("wheezy_digits", cache_dir)   # → folder/train, folder/test

Every style writes a seeded train split (1,200 images, labels drawn uniformly, as a site would)
and a test split (1,000 images, of which at least 250 hold a doubled character: two adjacent
identical characters). Files are named `<label>_<n>.png`, read with `--label-regex '^(.+)_\\d+$'`.
Fonts come from PyPI packages (`captcha`, `multicolorcaptcha`), so the suite builds from a clean
clone. A finished folder is marked and reused.

| style | generator | text | image |
|---|---|---|---|
| captcha_mixedcase | captcha (ImageCaptcha) | 5 of a-z0-9 drawn in random case, labels lowercase | 160x60, overlapping warped glyphs |
| wheezy_digits | wheezy.captcha | 4–6 digits | 200x75, warped, rotated, curve and dots, 3 fonts |
| multicolor | multicolorcaptcha | 4 of A-Z0-9 | 640x160, a coloured tile per glyph, lines and circles |
| tiny_1bit | wheezy.captcha | 5 digits, tightly squeezed | 80x25, 1-bit |
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import string

TRAIN_COUNT, TEST_COUNT, TEST_DOUBLED = 1200, 1000, 250
STAMP = "styles-v1"


def has_doubled(label: str) -> bool:
    return any(a == b for a, b in zip(label, label[1:]))


def draw_labels(rng: random.Random, count: int, alphabet: str, lengths: tuple[int, int], doubled: int) -> list[str]:
    """`count` labels drawn uniformly; then, if fewer than `doubled` hold a doubled character,
    that many get one character copied onto its right neighbour."""
    labels = ["".join(rng.choice(alphabet) for _ in range(rng.randint(*lengths))) for _ in range(count)]
    missing = doubled - sum(map(has_doubled, labels))
    for i in [i for i, label in enumerate(labels) if not has_doubled(label)][:max(0, missing)]:
        chars = list(labels[i])
        at = rng.randrange(len(chars) - 1)
        chars[at + 1] = chars[at]
        labels[i] = "".join(chars)
    rng.shuffle(labels)
    return labels


def _package_fonts(package: str, names: tuple[str, ...]) -> list[str]:
    module = __import__(package)
    root = os.path.dirname(module.__file__)
    found = {f: os.path.join(r, f) for r, _, files in os.walk(root) for f in files}
    return [found[name] for name in names]


def _captcha_mixedcase(rng: random.Random):
    from crnn_keras.data.synthetic import _seeded_captcha

    stack = contextlib.ExitStack()
    generator = stack.enter_context(_seeded_captcha(rng.randrange(2**31)))(width=160, height=60)

    def render(label: str):
        shown = "".join(c.upper() if rng.random() < 0.5 else c for c in label)
        return generator.generate_image(shown)

    return render, stack


def _wheezy(width: int, height: int, sizes: tuple[int, ...], squeeze: float, fonts: list[str], noise: int,
            warp: float):
    from wheezy.captcha import image as w

    # wheezy pastes each glyph through a mask of its own brightness (x1.97), so a mid-tone
    # colour draws solid glyphs and a dark one faint ones.
    colours = ("#5C87B2", "#B2605C", "#4E9A5A")
    drawings = [w.background("#ffffff"),
                w.text(fonts=fonts, font_sizes=sizes, squeeze_factor=squeeze, color=lambda: random.choice(
                    [w.getrgb(c) for c in colours]), drawings=[w.warp(warp, warp * 0.8), w.rotate(12), w.offset(0.1, 0.15)])]
    if noise:
        drawings += [w.curve("#5C87B2", width=2, number=3), w.noise(number=noise, color="#5C87B2", level=2)]
    return w.captcha(drawings=drawings, width=width, height=height)


MC_ASCII = string.ascii_uppercase + string.digits  # what multicolorcaptcha's "ascii" mode draws from
MC_FONTS = ("Aldrich-Regular.ttf", "Graduate-Regular.ttf", "Combo-Regular.ttf")


def _wheezy_digits(rng: random.Random):
    draw = _wheezy(200, 75, (40, 46, 52), 0.8, _package_fonts("multicolorcaptcha", MC_FONTS), noise=40, warp=0.15)
    return (lambda label: draw(label)), contextlib.ExitStack()


def _tiny_1bit(rng: random.Random):
    fonts = _package_fonts("captcha", ("DroidSansMono.ttf",))
    draw = _wheezy(80, 25, (17, 19, 21), 0.75, fonts, noise=6, warp=0.05)

    def render(label: str):
        return draw(label).convert("L").point(lambda v: 255 if v > 200 else 0).convert("1")

    return render, contextlib.ExitStack()


def _multicolor(rng: random.Random):
    from multicolorcaptcha import CaptchaGenerator

    generator = CaptchaGenerator(2)
    import multicolorcaptcha._generator as mc

    original = mc.choice

    def render(label: str):
        # The package draws its own text; feed it ours one character at a time.
        chars = iter(label)
        mc.choice = lambda seq: next(chars) if seq == MC_ASCII else original(seq)
        try:
            made = generator.gen_captcha_image(difficult_level=2, chars_mode="ascii", multicolor=True, margin=False)
        finally:
            mc.choice = original
        if made.characters != label:
            raise RuntimeError(f"multicolorcaptcha drew {made.characters!r} for {label!r}")
        return made.image

    return render, contextlib.ExitStack()


# style: (renderer factory, alphabet, label lengths)
STYLES = {
    "captcha_mixedcase": (_captcha_mixedcase, string.ascii_lowercase + string.digits, (5, 5)),
    "wheezy_digits": (_wheezy_digits, string.digits, (4, 6)),
    "multicolor": (_multicolor, MC_ASCII, (4, 4)),
    "tiny_1bit": (_tiny_1bit, string.digits, (5, 5)),
}


def build_style(style: str, cache_dir: str, seed: int = 0,
                sizes: tuple[int, int, int] = (TRAIN_COUNT, TEST_COUNT, TEST_DOUBLED)) -> str:
    """Generates (or reuses) the style's train/ and test/ folders under cache_dir; returns the
    style's folder. `sizes`: train images, test images, doubled-character test labels."""
    folder = os.path.join(cache_dir, f"{style}-seed{seed}")
    marker = os.path.join(folder, ".complete")
    stamp = f"{STAMP} {sizes}"
    if os.path.exists(marker) and open(marker, encoding="utf-8").read() == stamp:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    factory, alphabet, lengths = STYLES[style]
    rng = random.Random(f"{style}-{seed}")
    random.seed(f"{style}-{seed}-generator")  # wheezy.captcha and multicolorcaptcha draw from `random`
    render, stack = factory(rng)
    with stack:
        for split, count, doubled in (("train", sizes[0], 0), ("test", sizes[1], sizes[2])):
            out = os.path.join(folder, split)
            os.makedirs(out, exist_ok=True)
            for n, label in enumerate(draw_labels(rng, count, alphabet, lengths, doubled)):
                render(label).save(os.path.join(out, f"{label}_{n}.png"))
    with open(marker, "w", encoding="utf-8") as f:
        f.write(stamp)
    return folder
