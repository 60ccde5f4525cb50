"""--init-from measured: a reader fine-tuned on a few hundred images of a new style, against training
from scratch on the same images, both scored on that style's test split.

    python bench/init_from.py --model runs/synthetic-captcha-6000-seed0/model.keras \\
        --data ../shared/data/captcha_images_v2 --count 300

DATA holds train/ and test/; --count images are drawn (seeded) from train/, 10% of them held out
for validation as usual; test/ is only scored. Both runs use the default recipe. Writes
bench/results/init-from-<date>-<host>.json and .md.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.machine import header, write_results  # noqa: E402


def subset(src: str, dst: str, count: int, seed: int) -> str:
    names = sorted(n for n in os.listdir(src) if not n.startswith("."))
    os.makedirs(dst)
    for name in random.Random(seed).sample(names, min(count, len(names))):
        shutil.copy(os.path.join(src, name), dst)
    return dst


def run(name: str, cfg, test_dir: str) -> dict:
    from crnn_keras.data.files import list_samples
    from crnn_keras.metrics import score
    from crnn_keras.runtime.reader import Reader
    from crnn_keras.train.trainer import train

    result = train(cfg)
    samples, _ = list_samples(test_dir)
    texts = [r.text for r in Reader(result["model"]).read([s.path for s in samples])]
    test = score(texts, [s.label for s in samples])
    with open(os.path.join(cfg.out, "history.csv"), newline="", encoding="utf-8") as f:
        history = list(csv.DictReader(f))
    first = next((int(r["epoch"]) + 1 for r in history if float(r["val_accuracy"]) >= 0.9), None)
    return {"name": name, "test_correct": test["correct"], "test_count": test["count"],
            "test_sequence_accuracy": test["sequence_accuracy"], "test_character_error_rate": test["character_error_rate"],
            "train_seconds": result["seconds"], "epochs": result["epochs_run"], "best_epoch": result["best_epoch"],
            "epochs_to_val_0.9": first}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the reader to start from")
    parser.add_argument("--data", required=True, help="folder with train/ and test/")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = parser.parse_args()

    from crnn_keras.train.config import TrainConfig

    work = tempfile.mkdtemp(prefix="crnn_init_from_")
    data = subset(os.path.join(args.data, "train"), os.path.join(work, "train"), args.count, args.seed)
    test_dir = os.path.join(args.data, "test")
    rows = [run("fine-tuned (--init-from)", TrainConfig(data=data, out=os.path.join(work, "init"), seed=args.seed,
                                                        init_from=os.path.abspath(args.model)), test_dir),
            run("from scratch", TrainConfig(data=data, out=os.path.join(work, "scratch"), seed=args.seed), test_dir)]
    result = {**header(), "model": args.model, "data": args.data, "train_images": args.count, "rows": rows}
    lines = [f"# --init-from against scratch, {result['date']}: {result['machine']['cores']} cores, "
             f"{result['machine']['cpu']}", "", f"`{result['command']}`", "",
             f"{args.count} training images (10% of them validation), scored on {test_dir}.", "",
             "| run | test correct | accuracy | CER | epochs (best) | first epoch ≥ 0.9 val | train s |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['test_correct']}/{r['test_count']} | {r['test_sequence_accuracy']:.4f} | "
                     f"{r['test_character_error_rate']:.4f} | {r['epochs']} ({r['best_epoch']}) | "
                     f"{r['epochs_to_val_0.9'] or 'never'} | {r['train_seconds']:.0f} |")
    write_results(args.out, "init-from-", result, "\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
