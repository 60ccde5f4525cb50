"""Shared fixtures: tiny labelled folders made here, and one small trained run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALPHABET = "abcd1234"


def font(size: int = 26) -> ImageFont.FreeTypeFont:
    import captcha

    path = os.path.join(os.path.dirname(captcha.__file__), "data", "DroidSansMono.ttf")
    return ImageFont.truetype(path, size)


def text_image(text: str, size=(96, 32), mode: str = "L", jitter: int = 0, seed: int = 0) -> Image.Image:
    """Dark text on white, as plain as a test needs."""
    rng = random.Random(seed)
    image = Image.new("L", size, 255)
    ImageDraw.Draw(image).text((4 + rng.randint(0, jitter), 1 + rng.randint(0, jitter)), text, font=font(), fill=0)
    return image.convert(mode)


def coloured_text(label: str, seed: int = 0) -> Image.Image:
    """Dark text on white crossed by a red and a blue line, as coloured captchas draw them."""
    image = text_image(label, seed=seed, mode="RGB")
    draw = ImageDraw.Draw(image)
    draw.line((0, 8, 96, 24), fill=(220, 30, 30), width=3)
    draw.line((0, 26, 96, 4), fill=(30, 30, 220), width=3)
    return image


def make_folder(folder, labels, ext: str = ".png", **kwargs) -> list[str]:
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i, label in enumerate(labels):
        path = os.path.join(folder, f"{label}{ext}")
        text_image(label, seed=i, **kwargs).save(path)
        paths.append(path)
    return paths


def random_labels(count: int, seed: int = 0, lengths=(3, 4)) -> list[str]:
    rng = random.Random(seed)
    labels: set[str] = set()
    while len(labels) < count:
        labels.add("".join(rng.choice(ALPHABET) for _ in range(rng.randint(*lengths))))
    return sorted(labels)


def train_until_ctrl_c(cfg, model_cfg) -> None:
    """Trains one epoch of `cfg`, then stops it as Ctrl-C does: the run folder keeps its
    checkpoint and state for --resume."""
    import keras

    from crnn_keras.train.interrupt import TrainingStopped
    from crnn_keras.train.trainer import train

    class CtrlCAfterOneEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(TrainingStopped):
        train(cfg, model_cfg, extra_callbacks=[CtrlCAfterOneEpoch()])


def run_cli(*args, cwd=ROOT, timeout=600, input_env=None):
    """Runs a command of the project in a new process; returns CompletedProcess."""
    env = dict(os.environ, PYTHONPATH=ROOT, **(input_env or {}))
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


TINY_MODEL = dict(height=16, width=64, block_widths=(16, 32, 48, 64), rnn_units=32, dropout=0.0)


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    """32 clean images of 3–4 characters from 'abcd1234'."""
    folder = tmp_path_factory.mktemp("tiny") / "train"
    make_folder(str(folder), random_labels(32))
    return str(folder)


@pytest.fixture(scope="session")
def trained_run(tiny_folder, tmp_path_factory):
    """A small model trained to read every one of the 32 tiny images (its own validation set)."""
    from crnn_keras.model.config import ModelConfig
    from crnn_keras.train.config import TrainConfig
    from crnn_keras.train.trainer import train

    out = str(tmp_path_factory.mktemp("run"))
    cfg = TrainConfig(data=tiny_folder, val_data=tiny_folder, out=out, epochs=150, batch_size=8,
                      learning_rate=3e-3, patience=150, augment=False, seed=1)
    result = train(cfg, ModelConfig(**TINY_MODEL))
    return {"out": out, "result": result, "model": os.path.join(out, "model.keras"), "data": tiny_folder}


@pytest.fixture(scope="session")
def tiny_images(tiny_folder):
    from crnn_keras.data.files import list_samples
    from crnn_keras.data.images import load_image

    samples, _ = list_samples(tiny_folder)
    images = np.stack([load_image(s.path, 16, 64, 1) for s in samples])
    return images, [s.label for s in samples]
