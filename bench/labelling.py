"""Simulated labelling with pre-labels: how many labels must a person type?

    python bench/labelling.py                          # captcha_mixedcase (generated), ~15 min
    python bench/labelling.py --style tjsp_esaj_br     # a real set of ../shared/data/real

The person is simulated by the true labels. It starts from the first 200 training images
labelled by hand and a model trained on them; then, for each next batch of 200 images, the
current model pre-labels them, every pre-label that differs from the truth counts as one the
person types, and the model is fine-tuned on everything labelled so far (`--init-from`, as
`label --retrain-every 200` does, 30 epochs). Writes bench/results/labelling-<date>-<host>.json/.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.machine import header, write_results  # noqa: E402


def main() -> int:
    from bench.suite import STYLES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style", default="captcha_mixedcase", choices=sorted(STYLES))
    parser.add_argument("--start", type=int, default=200, help="images labelled by hand first")
    parser.add_argument("--batch", type=int, default=200, help="images pre-labelled between fine-tunings")
    parser.add_argument("--total", type=int, default=1000, help="images pre-labelled in all")
    parser.add_argument("--epochs", type=int, default=30, help="epochs of each fine-tuning")
    parser.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "data"))
    parser.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "crnn_keras", "suite"))
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    args = parser.parse_args()

    from bench.styles import build_style
    from crnn_keras.data.files import list_samples
    from crnn_keras.runtime.reader import Reader
    from crnn_keras.train.config import TrainConfig
    from crnn_keras.train.trainer import train

    folder, regex, ignore_case = STYLES[args.style]
    folder = build_style(args.style, args.cache) if folder is None else os.path.join(args.shared, folder)
    samples, _ = list_samples(os.path.join(folder, "train"), regex, ignore_case)
    if len(samples) < args.start + args.total:
        raise SystemExit(f"{args.style}: {len(samples)} training images, fewer than {args.start + args.total}")
    work = tempfile.mkdtemp(prefix="crnn_labelling_")
    labelled = os.path.join(work, "labelled")
    os.makedirs(labelled)

    def label(batch):
        for n, s in enumerate(batch, start=len(os.listdir(labelled))):
            shutil.copy(s.path, os.path.join(labelled, f"{s.label}_{n}{os.path.splitext(s.path)[1]}"))

    def fit(name: str, init_from: str | None, epochs: int) -> dict:
        cfg = TrainConfig(data=labelled, out=os.path.join(work, name), label_regex=r"^(.+)_\d+$", epochs=epochs,
                          init_from=init_from)
        return train(cfg)

    label(samples[:args.start])
    model = fit("start", None, TrainConfig.epochs)
    rounds = []
    for start in range(args.start, args.start + args.total, args.batch):
        batch = samples[start:start + args.batch]
        reads = [r.text.lower() if ignore_case else r.text for r in Reader(model["model"]).read([s.path for s in batch])]
        right = sum(r == s.label for r, s in zip(reads, batch))
        rounds.append({"labelled_before": start, "images": len(batch), "prelabels_right": right,
                       "typed": len(batch) - right, "prelabel_accuracy": round(right / len(batch), 4),
                       "train_seconds": model["seconds"]})
        print(f"== {rounds[-1]}", file=sys.stderr, flush=True)
        label(batch)
        if start + args.batch < args.start + args.total:
            model = fit(f"round-{len(rounds)}", model["model"], args.epochs)
    typed = sum(r["typed"] for r in rounds)
    result = {**header(), "style": args.style, "start": args.start, "batch": args.batch, "total": args.total,
              "fine_tune_epochs": args.epochs, "rounds": rounds, "typed": typed, "typed_by_hand": args.total}
    lines = [f"# Simulated labelling, {args.style} ({result['date']}, {result['machine']['cores']} cores)", "",
             f"`{result['command']}`: {args.start} labelled by hand, then {args.total} pre-labelled in batches of "
             f"{args.batch}, fine-tuning ({args.epochs} epochs, --init-from) after each", "",
             "| labelled before | pre-labeller accuracy | labels typed | training (s) |", "|---|---|---|---|"]
    lines += [f"| {r['labelled_before']} | {r['prelabel_accuracy']:.3f} | {r['typed']} of {r['images']} | "
              f"{r['train_seconds']:.0f} |" for r in rounds]
    lines += ["", f"Labels typed: **{typed}** of {args.total} (by hand: {args.total}), "
              f"{1 - typed / args.total:.0%} fewer."]
    write_results(args.out, "labelling-", result, "\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
