"""Dev suite: the default recipe on several captcha styles, trained on each style's train split
and scored on its test split (`bench/results/<prefix><date>-<host>.json`).

    python bench/suite.py                                   # every style below, seed 0
    python bench/suite.py --styles receita_br tjsp_esaj_br --seed 1
    python bench/suite.py --quick                           # smoke run: 64 train / 32 test images, 2 epochs

Styles: captcha_images_v2 (its fixed 936/104 split), the four real sets of ../shared/data/real
(see its README: labels `<label>_<n>`, two sets stored lowercase) and four generated styles
(`bench/styles.py`: captcha, wheezy.captcha and multicolorcaptcha; 1,200 train / 1,000 test,
≥ 250 doubled-character test labels; built once into --cache). Each style's row is written as
soon as it is done; a rerun skips styles already in the output file (resumable). Each row also
holds the run's validation accuracy (`val_sequence_accuracy`): choose recipes by that; the test
figures are for the final recipe and the previous default only. `greedy_sequence_accuracy` is
what the same reader reads without its length bound (0.3.12; plain greedy on its logits), so a
row shows what the bound changed. Misread grids are
`…-misreads-<style>.png` for seed 0 and `…-misreads-<style>-seed<N>.png` for other seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from bench.machine import header  # noqa: E402
from bench.styles import STYLES as GENERATED  # noqa: E402
from bench.styles import build_style, has_doubled  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(os.path.expanduser("~"), ".cache", "crnn_keras", "suite")  # generated styles, built once
REAL_REGEX = r"^(.+)_\d+$"
# style: (folder with train/ and test/ under the shared data folder, --label-regex, --ignore-case)
STYLES = {
    "captcha_images_v2": ("captcha_images_v2", None, False),
    "receita_br": (os.path.join("real", "receita_br"), REAL_REGEX, True),
    "tjsp_esaj_br": (os.path.join("real", "tjsp_esaj_br"), REAL_REGEX, True),
    "henan_digits_cn": (os.path.join("real", "henan_digits_cn"), REAL_REGEX, False),
    "pku_elective_cn": (os.path.join("real", "pku_elective_cn"), REAL_REGEX, False),
    **{style: (None, REAL_REGEX, False) for style in GENERATED},
}


def subset(src: str, dst: str, count: int) -> str:
    os.makedirs(dst, exist_ok=True)
    for name in sorted(n for n in os.listdir(src) if not n.startswith("."))[:count]:
        shutil.copy(os.path.join(src, name), dst)
    return dst


def misread_grid(samples, texts: list[str], confidences: list[float], out_png: str) -> None:
    """The first 12 test misreads, so a reader can judge which are label errors."""
    from crnn_keras.data.images import load_images
    from crnn_keras.train.plots import predictions

    misread = [i for i, (s, t) in enumerate(zip(samples, texts)) if s.label != t]
    wrong = misread[:12]
    if wrong:
        images, _, _ = load_images([samples[i].path for i in wrong], 64, 160, 1)
        predictions(images, [texts[i] for i in wrong], [samples[i].label for i in wrong],
                    [confidences[i] for i in wrong], out_png,
                    title=f"test: {len(misread)} misread of {len(samples)}; the first {len(wrong)} (file order)")


def run_style(style: str, shared: str, seed: int, quick: bool, work: str, cache: str, grid: str | None) -> dict:
    from crnn_keras.data.files import list_samples
    from crnn_keras.metrics import score
    from crnn_keras.runtime.reader import Reader
    from crnn_keras.train.config import TrainConfig
    from crnn_keras.train.trainer import train

    folder, regex, ignore_case = STYLES[style]
    if folder is None:
        folder = build_style(style, *((work, 0, (64, 32, 8)) if quick else (cache,)))
    else:
        folder = os.path.join(shared, folder)
    train_dir, test_dir = os.path.join(folder, "train"), os.path.join(folder, "test")
    if quick and style not in GENERATED:
        train_dir = subset(train_dir, os.path.join(work, style, "train"), 64)
        test_dir = subset(test_dir, os.path.join(work, style, "test"), 32)
    cfg = TrainConfig(data=train_dir, out=os.path.join(work, style, "run"), seed=seed, label_regex=regex,
                      ignore_case=ignore_case, **({"epochs": 2} if quick else {}))
    result = train(cfg)
    samples, _ = list_samples(test_dir, regex, ignore_case)
    reader = Reader(result["model"])
    readings = reader.read([s.path for s in samples])
    texts = [r.text.lower() if ignore_case else r.text for r in readings]
    truths = [s.label for s in samples]
    if grid:
        misread_grid(samples, texts, [r.confidence for r in readings], grid)
    test = score(texts, truths)
    doubled = [(t, y) for t, y in zip(texts, truths) if has_doubled(y)]
    greedy = [t.lower() if ignore_case else t for t in greedy_texts(reader, [s.path for s in samples])]
    return {"style": style, "seed": seed, "sequence_accuracy": test["sequence_accuracy"],
            "greedy_sequence_accuracy": score(greedy, truths)["sequence_accuracy"],
            "character_error_rate": test["character_error_rate"],
            "doubled_sequence_accuracy": sum(t == y for t, y in doubled) / len(doubled) if doubled else None,
            "doubled_count": len(doubled), "count": test["count"], "train_seconds": result["seconds"],
            "epochs": result["epochs_run"], "best_epoch": result["best_epoch"],
            "val_sequence_accuracy": result["val_sequence_accuracy"], "val_count": result["val_count"],
            "channels": reader.channels, "misreads": [[y, t] for t, y in zip(texts, truths) if t != y][:40]}


def greedy_texts(reader, paths: list[str]) -> list[str]:
    """What the same reader reads without its length bound (0.3.11's decoding): greedy on its logits."""
    from crnn_keras.contract import Vocabulary, greedy_decode

    logits = reader.keras_model.predict(np.stack([reader.prepare(p) for p in paths]), batch_size=64, verbose=0)
    return greedy_decode(logits["logits"], Vocabulary(tuple(reader.vocabulary)))[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--styles", nargs="+", choices=sorted(STYLES), default=list(STYLES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny subsets, 2 epochs, no figures")
    parser.add_argument("--prefix", default="suite-", help="results file name prefix")
    parser.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "data"), help="the shared data folder")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    parser.add_argument("--cache", default=CACHE,
                        help="where the generated styles are built (once)")
    args = parser.parse_args()

    info = header()
    os.makedirs(args.out, exist_ok=True)  # before training: a run that cannot save its grid is lost
    path = os.path.join(args.out, f"{'quick-' if args.quick else ''}{args.prefix}{info['date']}-{info['machine']['host']}.json")
    result = json.load(open(path, encoding="utf-8")) if os.path.exists(path) else {**info, "styles": []}
    done = {(row["style"], row["seed"]) for row in result["styles"]}
    work = tempfile.mkdtemp(prefix="crnn_suite_")
    for style in args.styles:
        if (style, args.seed) in done:
            print(f"== {style}: already in {path}", file=sys.stderr)
            continue
        seed_tag = f"-seed{args.seed}" if args.seed else ""  # seed 0's grids keep their earlier names
        grid = None if args.quick else path.replace(".json", f"-misreads-{style}{seed_tag}.png")
        row = run_style(style, args.shared, args.seed, args.quick, work, args.cache, grid)
        print(f"== {json.dumps({k: v for k, v in row.items() if k != 'misreads'})}", file=sys.stderr, flush=True)
        result["styles"].append(row)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1, ensure_ascii=False)
        os.replace(path + ".tmp", path)
    shutil.rmtree(work, ignore_errors=True)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
