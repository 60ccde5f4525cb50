"""Seeded synthetic captchas from the `captcha` package (ImageCaptcha): a cached folder, or
an endless stream of fresh ones.

`python train.py` with no `--data` trains on the stream (`crnn_keras.data.generated`), so a
new user sees the whole tool work before pointing it at their own images; `--synthetic fixed`
trains on the folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import random
import string

log = logging.getLogger(__name__)

DEFAULT_ALPHABET = string.ascii_lowercase + string.digits
# 2: files named "<label>.png" (version 0.1 wrote "<label>_<index>.png", which needed a regex).
STAMP_FORMAT = "v2"


class _SeededSecrets:
    """Stands in for the `secrets` module, which ImageCaptcha draws from and which
    cannot be seeded; the same seed then gives the same images."""

    def __init__(self, seed: int):
        self._rng = random.Random(seed)

    def randbelow(self, n: int) -> int:
        return self._rng.randrange(n)

    def randbits(self, k: int) -> int:
        return self._rng.getrandbits(k)

    def choice(self, seq):
        return self._rng.choice(seq)


@contextlib.contextmanager
def _seeded_captcha(seed: int | _SeededSecrets):
    import captcha.image

    original = captcha.image.secrets
    captcha.image.secrets = seed if isinstance(seed, _SeededSecrets) else _SeededSecrets(seed)
    try:
        yield captcha.image.ImageCaptcha
    finally:
        captcha.image.secrets = original


def check_style(min_length: int, max_length: int, alphabet: str) -> None:
    """Raises ValueError for label lengths or an alphabet no captcha can be drawn from."""
    if not 1 <= min_length <= max_length:
        raise ValueError(f"--synthetic-lengths {min_length}-{max_length}: expected 1 ≤ MIN ≤ MAX")
    if not alphabet or len(set(alphabet)) != len(alphabet) or any(c.isspace() for c in alphabet):
        raise ValueError(f"--synthetic-alphabet {alphabet!r}: expected distinct characters, none of them blank")


def stream(seed: int, min_length: int = 4, max_length: int = 6, alphabet: str = DEFAULT_ALPHABET,
           width: int = 160, height: int = 60):
    """Endless (PIL image, text) pairs, new texts and new drawings, the same for the same seed.

    Each image is drawn with the `captcha` package's randomness seeded here; the package's
    module-level source is swapped in only while one image is drawn.

    >>> image, text = next(stream(0, 4, 4, "ab", 100, 40))
    >>> image.size, len(text)
    ((100, 40), 4)
    """
    check_style(min_length, max_length, alphabet)
    rng = random.Random(seed)
    drawing = _SeededSecrets(seed + 1)
    import captcha.image

    generator = captcha.image.ImageCaptcha(width=width, height=height)
    while True:
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(min_length, max_length)))
        with _seeded_captcha(drawing):
            image = generator.generate_image(text)
        yield image, text


def default_cache_dir() -> str:
    root = os.environ.get("CRNN_KERAS_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "crnn_keras")
    return root


def generate(
    folder: str,
    count: int,
    seed: int = 0,
    min_length: int = 4,
    max_length: int = 6,
    alphabet: str = DEFAULT_ALPHABET,
    width: int = 160,
    height: int = 60,
) -> str:
    """Writes `count` captcha PNGs named `<text>.png` (distinct texts) into `folder`; returns it.

    The names are the labels, so `train` and `evaluate` read them with no --label-regex.
    A folder already holding a complete set (marked by a `.complete` file with the same
    parameters and format) is reused as it is; any other content of the folder is replaced.
    """
    check_style(min_length, max_length, alphabet)
    if count > len(alphabet) ** max_length // 2:
        raise ValueError(f"{count} distinct labels of at most {max_length} characters: too many for the alphabet")
    stamp = f"{STAMP_FORMAT} {count} {seed} {min_length} {max_length} {alphabet} {width} {height}"
    marker = os.path.join(folder, ".complete")
    if os.path.exists(marker) and open(marker, encoding="utf-8").read() == stamp:
        log.info("synthetic captcha set (cached): %s", folder)
        return folder
    log.info("generating %d synthetic captchas into %s", count, folder)
    _empty(folder)
    rng = random.Random(seed)
    texts: set[str] = set()
    with _seeded_captcha(seed + 1) as ImageCaptcha:
        generator = ImageCaptcha(width=width, height=height)
        while len(texts) < count:
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(min_length, max_length)))
            if text not in texts:  # a repeated text would overwrite its file: draw another
                texts.add(text)
                generator.generate_image(text).save(os.path.join(folder, f"{text}.png"))
    with open(marker, "w", encoding="utf-8") as f:
        f.write(stamp)
    return folder


def _empty(folder: str) -> None:
    """Makes `folder` and removes what an earlier (or interrupted) generation left in it."""
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".png") or name == ".complete":
            os.remove(os.path.join(folder, name))


def default_dataset(count: int, seed: int = 0, alphabet: str = DEFAULT_ALPHABET, min_length: int = 4,
                    max_length: int = 6) -> str:
    """The cached synthetic set: `count` captchas, lengths 4–6 of a–z and 0–9 unless told."""
    name = f"synthetic-captcha-{count}-seed{seed}"
    if (alphabet, min_length, max_length) != (DEFAULT_ALPHABET, 4, 6):
        # The alphabet may hold characters a folder name cannot: name the style by a digest.
        digest = hashlib.sha1(f"{alphabet} {min_length} {max_length}".encode()).hexdigest()[:8]
        name += f"-{min_length}to{max_length}-{digest}"
    folder = os.path.join(default_cache_dir(), name)
    return generate(folder, count, seed=seed, min_length=min_length, max_length=max_length, alphabet=alphabet)
