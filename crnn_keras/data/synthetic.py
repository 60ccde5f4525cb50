"""A seeded synthetic captcha folder from the `captcha` package (ImageCaptcha).

`python train.py` with no `--data` trains on this, so a new user sees the whole
tool work before pointing it at their own images.
"""

from __future__ import annotations

import contextlib
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
def _seeded_captcha(seed: int):
    import captcha.image

    original = captcha.image.secrets
    captcha.image.secrets = _SeededSecrets(seed)
    try:
        yield captcha.image.ImageCaptcha
    finally:
        captcha.image.secrets = original


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
    if not 1 <= min_length <= max_length:
        raise ValueError(f"label lengths {min_length}..{max_length}: need 1 ≤ min ≤ max")
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


def default_dataset(count: int, seed: int = 0) -> str:
    """The cached default set: `count` captchas, lengths 4–6, a–z and 0–9."""
    folder = os.path.join(default_cache_dir(), f"synthetic-captcha-{count}-seed{seed}")
    return generate(folder, count, seed=seed)
