"""The default recipe, untouched, on a seeded synthetic captcha set: are the defaults general?

    python bench/synthetic.py                          # 10,000 train / 1,000 test, lengths 4–6, a–z0–9
    python bench/synthetic.py --train 200 --test 50 --epochs 2    # a smoke run
    python bench/synthetic.py --captcha-break --train 20000 --epochs 40 --minutes 60
    python bench/synthetic.py --captcha-break --fresh --train 20000 --epochs 40 --minutes 60

`--captcha-break` is the setup of ypwhs/captcha_break's published table (a Keras CNN + BiGRU +
CTC reads 99.21%): `captcha`-package images of 128x64, 4 characters of 0-9A-Z; the model reads
them at 64x128. `--minutes` stops training after that much wall time (the best epoch is kept). `--fresh` trains
as captcha_break does, on new images: `--train` of them drawn afresh every epoch
(what `train` does with no data), validated on 5% as many drawn from another seed.

Generates both sets with the `captcha` package (train from seed 0, test from seed 1, so no
image is shared), trains with `train.py` defaults (`--label-regex` only says how the files are
named), evaluates on the test set with the same evaluator as bench/run.py, and writes
bench/results/synthetic-<date>-<host>.json and .md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import string
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.machine import header, write_results  # noqa: E402
from bench.run import first_reaching  # noqa: E402


CAPTCHA_BREAK = dict(min_length=4, max_length=4, alphabet=string.digits + string.ascii_uppercase, width=128, height=64)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--train", type=int, default=10_000, help="training images (default 10,000)")
    parser.add_argument("--test", type=int, default=1_000, help="test images (default 1,000)")
    parser.add_argument("--epochs", type=int, help="most epochs (default: the train.py default)")
    parser.add_argument("--work", help="where the sets and the run go (default: a temporary folder)")
    parser.add_argument("--captcha-break", action="store_true", help="captcha_break's setup (see above)")
    parser.add_argument("--minutes", type=float, help="stop training after this many minutes")
    parser.add_argument("--fresh", action="store_true", help="draw --train new images every epoch")
    parser.add_argument("--out", default=os.path.join(root, "bench", "results"))
    args = parser.parse_args()

    from crnn_keras.data import synthetic
    from crnn_keras.data.files import list_samples
    from crnn_keras.runtime.reader import Reader
    from crnn_keras.metrics import score
    from crnn_keras.train.config import TrainConfig
    from crnn_keras.train.trainer import train

    import keras

    from crnn_keras.model.config import ModelConfig

    work = args.work or tempfile.mkdtemp(prefix="crnn_synthetic_")
    started = time.time()
    setup = CAPTCHA_BREAK if args.captcha_break else {}
    if args.fresh:
        style = {**dict(alphabet=synthetic.DEFAULT_ALPHABET, min_length=4, max_length=6), **setup}
        cfg = TrainConfig(data="", out=os.path.join(work, "run"), fresh_per_epoch=args.train, val_split=0.05,
                          fresh_alphabet=style["alphabet"], fresh_lengths=(style["min_length"], style["max_length"]))
    else:
        train_dir = synthetic.generate(os.path.join(work, f"train-{args.train}"), args.train, seed=0, **setup)
        cfg = TrainConfig(data=train_dir, out=os.path.join(work, "run"))
    test_dir = synthetic.generate(os.path.join(work, f"test-{args.test}"), args.test, seed=1, **setup)
    generation_s = time.time() - started

    if args.epochs:
        cfg = dataclasses.replace(cfg, epochs=args.epochs)
    model = ModelConfig(height=64, width=128) if args.captcha_break else ModelConfig()

    class StopAfter(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if args.minutes and time.time() - started - generation_s > args.minutes * 60:
                self.model.stop_training = True

    result = train(cfg, model, extra_callbacks=[StopAfter()])
    reader = Reader(result["model"])
    samples, _ = list_samples(test_dir)
    texts = [r.text for r in reader.read([s.path for s in samples])]
    test = score(texts, [s.label for s in samples])
    epoch95, seconds95 = first_reaching(os.path.join(cfg.out, "history.csv"), 0.95)
    misses = [(s.label, t) for s, t in zip(samples, texts) if s.label != t]

    summary = {
        **header(),
        "setup": "captcha_break" if args.captcha_break else "default",
        "training_images": "fresh every epoch" if args.fresh else "one fixed set",
        "minutes_limit": args.minutes,
        "train_images": args.train,
        "test_images": args.test,
        "generation_seconds": round(generation_s, 1),
        "train_seconds": result["seconds"],
        "epochs": result["epochs_run"],
        "best_epoch": result["best_epoch"],
        "epochs_to_val_0.95": epoch95,
        "seconds_to_val_0.95": seconds95,
        "test_sequence_accuracy": test["sequence_accuracy"],
        "test_correct": test["correct"],
        "test_character_error_rate": test["character_error_rate"],
        "misses_first_20": misses[:20],
    }
    lines = [
        f"# Synthetic captchas {summary['date']}: {summary['machine']['cores']} cores, {summary['machine']['cpu']}",
        "",
        (f"`{summary['command']}`: default recipe, {args.train} train"
         + (" drawn afresh every epoch" if args.fresh else "") + f" / {args.test} test (captcha package, "
         + ("captcha_break's setup: 128x64, 4 of 0-9A-Z, read at 64x128" if args.captcha_break else
            "lengths 4–6, a–z0–9") + "; train seed 0, test seed 1)"),
        "",
        "| measure | value |",
        "|---|---|",
        f"| test sequence accuracy | {test['sequence_accuracy']:.4f} ({test['correct']}/{test['count']}) |",
        f"| test character error rate | {test['character_error_rate']:.4f} |",
        (f"| training wall time (s) | {result['seconds']:.0f} "
         f"({result['epochs_run']} epochs, best {result['best_epoch']}) |"),
        f"| epochs / s to val accuracy 0.95 | {epoch95} / {seconds95} |",
        f"| generation (s) | {generation_s:.0f} |",
        "",
        "First misses (truth → read): " + ", ".join(f"`{a}` → `{b}`" for a, b in misses[:20]),
    ]
    write_results(args.out, "captcha-break-" if args.captcha_break else "synthetic-", summary, "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
