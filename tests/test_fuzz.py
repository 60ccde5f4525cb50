"""Seeded fuzzing: damaged images of every accepted format and damaged model files.

Every case must end in a result or a one-line refusal: no other exception, no hang, no memory
blow-up. Images are decoded in this process under a per-case alarm; models go through the loaders
in one worker process (tests/fuzz_models_worker.py), also under per-case alarms.
"""

import io
import json
import os
import random
import resource
import signal
import zipfile

import pytest

from bench.fuzz_models import mutate, refused_by_seal, unsealed
from conftest import ROOT, run_cli, text_image
from crnn_keras.data.images import ImageError, open_image

FORMATS = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "GIF": ".gif"}


class Hang(Exception):
    pass


def test_damaged_images_are_refused_in_one_line(tmp_path):
    rng = random.Random(0)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def on_alarm(signum, frame):
        raise Hang

    previous = signal.signal(signal.SIGALRM, on_alarm)
    outcomes = {"read": 0, "refused": 0}
    try:
        for fmt, ext in FORMATS.items():
            buffer = io.BytesIO()
            text_image("a1b2", mode="RGB" if fmt == "JPEG" else "L").save(buffer, format=fmt)
            for i in range(60):
                path = tmp_path / f"{fmt}-{i}{ext}"
                path.write_bytes(mutate(buffer.getvalue(), rng))
                signal.alarm(5)
                try:
                    open_image(str(path)).load()
                    outcomes["read"] += 1
                except ImageError as error:
                    assert "\n" not in str(error) and str(path) in str(error)
                    outcomes["refused"] += 1
                finally:
                    signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert outcomes["refused"] > 0 and sum(outcomes.values()) == 240
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert grown_mb < 500, f"decoding damaged images grew the peak memory by {grown_mb:.0f} MB"


def damaged_keras_files(model: str, folder, rng: random.Random, count: int) -> list[str]:
    """Half with damaged bytes, half with a damaged config.json inside a sound zip."""
    data = open(model, "rb").read()
    with zipfile.ZipFile(model) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    paths = []
    for i in range(count):
        path = str(folder / f"k{i}.keras")
        if i % 2 == 0:
            open(path, "wb").write(mutate(data, rng))
        else:
            config = bytearray(members["config.json"])
            for _ in range(rng.randint(1, 4)):  # digits and letters swapped keep it mostly JSON
                at = rng.randrange(len(config))
                config[at] = ord(rng.choice("0123456789abcdefxyz{}[]:,\""))
            with zipfile.ZipFile(path, "w") as archive:
                for name, content in members.items():
                    archive.writestr(name, bytes(config) if name == "config.json" else content)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def lite_model(trained_run, tmp_path_factory):
    from crnn_keras.export.tflite import export

    path = str(tmp_path_factory.mktemp("fuzz") / "reader.tflite")
    export(trained_run["model"], path)
    return path


def test_damaged_models_are_refused_in_one_line(trained_run, lite_model, tmp_path):
    rng = random.Random(1)
    lite = open(lite_model, "rb").read()
    paths, sealed_damaged = [], []
    for i in range(20):
        original = lite if i < 10 else unsealed(lite)  # unsealed: LiteRT's own checks must refuse
        path = tmp_path / f"t{i}.tflite"
        path.write_bytes(mutate(original, rng))
        paths.append(str(path))
        if i < 10 and path.read_bytes() != lite:
            sealed_damaged.append(str(path))
    paths += damaged_keras_files(trained_run["model"], tmp_path, rng, 10)
    done = run_cli(os.path.join(ROOT, "tests", "fuzz_models_worker.py"), *paths, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(results) == len(paths)
    unexpected = [r for r in results if r["outcome"] == "unexpected"]
    assert not unexpected, unexpected
    assert len(sealed_damaged) >= 8
    assert all(r["outcome"] == "refused" for r in results if r["path"] in sealed_damaged), results
    assert not any(refused_by_seal(r) for r in results if r["path"] in paths[10:20])
    assert max(r["rss_mb"] for r in results) < 4000
