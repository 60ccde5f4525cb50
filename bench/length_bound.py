"""The length bound (0.3.12) against greedy decoding, on one trained reader: reads, size, latency.

    python bench/length_bound.py --model runs/train/model.keras --data ../shared/data/captcha_images_v2/test
    python bench/length_bound.py --model M --data DIR --lengths 5 5 --name mixedcase --no-tflite

Both decoders sit on the same backbone, so every difference is the decoder's: the test split
read greedily (0.3.11's decoding) and bounded to the shortest–longest training label (the
model's own `label_lengths`, or `--lengths` for a reader saved before 0.3.12), with the reads
that changed; then, unless `--no-tflite`, both exported to int8 and float32 TFLite, their sizes
and batch-1 single-thread latencies (median, the four files taking turns) and whether each
file reads its Keras reader's strings. Writes bench/results/length-bound-[<name>-]<date>-<host>.json and .md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from bench.machine import header, write_results  # noqa: E402


def readers(model_path: str, lengths: list[int] | None):
    """(greedy reader, bounded reader) on the saved reader's backbone."""
    from crnn_keras.contract import Vocabulary
    from crnn_keras.model.heads import build_reader, find_backbone, find_decoder
    from crnn_keras.runtime.keras_reader import load_keras_reader

    model = load_keras_reader(model_path)
    decoder = find_decoder(model)
    bound = lengths or decoder.label_lengths
    if not bound:
        raise SystemExit(f"{model_path}: saved before 0.3.12 (no label_lengths): give --lengths MIN MAX")
    vocabulary = Vocabulary(tuple(decoder.vocabulary))
    backbone = find_backbone(model)
    return build_reader(backbone, vocabulary), build_reader(backbone, vocabulary, tuple(bound)), list(bound)


def compare_reads(greedy_texts, bounded_texts, truths) -> dict:
    from bench.styles import has_doubled

    def accuracy(texts, rows):
        return sum(texts[i] == truths[i] for i in rows) / len(rows) if rows else None

    every = range(len(truths))
    doubled = [i for i in every if has_doubled(truths[i])]
    changed = [i for i in every if greedy_texts[i] != bounded_texts[i]]
    return {"count": len(truths), "greedy": accuracy(greedy_texts, every), "bounded": accuracy(bounded_texts, every),
            "doubled_count": len(doubled), "greedy_doubled": accuracy(greedy_texts, doubled),
            "bounded_doubled": accuracy(bounded_texts, doubled), "changed": len(changed),
            "changed_to_right": sum(bounded_texts[i] == truths[i] for i in changed),
            "changed_from_right": sum(greedy_texts[i] == truths[i] for i in changed),
            "changes": [[truths[i], greedy_texts[i], bounded_texts[i]] for i in changed]}


def tflite_rows(models: dict, images: np.ndarray, keras_texts: dict, calibration, runs: int) -> list[dict]:
    """Exports each reader to int8 and float32; sizes, agreement, latencies taken in turns."""
    from crnn_keras.export.tflite import convert
    from crnn_keras.runtime.lite import LiteModel

    rows, lites = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("int8", "float32"):
            for name, reader in models.items():
                flatbuffer = convert(reader, mode, calibration if mode == "int8" else None)
                path = os.path.join(tmp, f"{name}-{mode}.tflite")
                with open(path, "wb") as f:
                    f.write(flatbuffer)
                lite = LiteModel(path, num_threads=1)
                texts, _ = lite.read_batch(images, None)
                lites[(mode, name)] = lite
                rows.append({"mode": mode, "decoder": name, "bytes": len(flatbuffer),
                             "same_strings_as_keras": float(np.mean([a == b for a, b in zip(texts, keras_texts[name])]))})
        times = {key: [] for key in lites}
        for lite in lites.values():
            for i in range(20):
                lite.run(images[i % len(images)])
        for turn in range(runs):
            for key, lite in lites.items():
                start = time.perf_counter()
                lite.run(images[turn % len(images)])
                times[key].append(time.perf_counter() - start)
    for row in rows:
        row["latency_ms"] = float(np.median(times[(row["mode"], row["decoder"])]) * 1000)
    return rows


def markdown(result: dict) -> str:
    reads = result["reads"]
    lines = [f"# The length bound against greedy decoding, {result['date']}: {result['machine']['cores']} cores, "
             f"{result['machine']['cpu']}", "", f"`{result['command']}`", "",
             f"Bound: {result['lengths'][0]}–{result['lengths'][1]} characters; {reads['count']} images.", "",
             "| decoder | sequence accuracy | doubled-letter labels |", "|---|---|---|",
             f"| greedy (0.3.11) | {reads['greedy']:.4f} | {reads['greedy_doubled'] or 0:.4f} ({reads['doubled_count']}) |",
             f"| bounded (0.3.12) | {reads['bounded']:.4f} | {reads['bounded_doubled'] or 0:.4f} |", "",
             f"Reads changed: {reads['changed']} ({reads['changed_to_right']} now right, "
             f"{reads['changed_from_right']} that were right): "
             + ", ".join(f"`{t}`: `{g}` → `{b}`" for t, g, b in reads["changes"][:30])]
    if result.get("tflite"):
        lines += ["", "| TFLite | decoder | KiB | same strings as its Keras reader | latency (ms, batch 1, one thread) |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r['mode']} | {r['decoder']} | {r['bytes'] / 1024:,.0f} | {r['same_strings_as_keras']:.4f} | "
                  f"{r['latency_ms']:.3f} |" for r in result["tflite"]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, help="a labelled folder to read (a test split)")
    parser.add_argument("--label-regex")
    parser.add_argument("--ignore-case", action="store_true")
    parser.add_argument("--lengths", type=int, nargs=2, metavar=("MIN", "MAX"),
                        help="the bound, for a reader saved before 0.3.12")
    parser.add_argument("--name", default="", help="results file name part")
    parser.add_argument("--no-tflite", action="store_true")
    parser.add_argument("--runs", type=int, default=300, help="latency samples per TFLite file")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = parser.parse_args()

    from crnn_keras.data.files import list_samples
    from crnn_keras.data.images import load_images
    from crnn_keras.export.tflite import load_calibration

    greedy, bounded, lengths = readers(args.model, args.lengths)
    samples, _ = list_samples(args.data, args.label_regex, args.ignore_case)
    images, kept, _ = load_images([s.path for s in samples], *greedy.input_shape[1:])
    truths = [samples[i].label for i in kept]
    models = {"greedy": greedy, "bounded": bounded}
    texts = {name: [t.decode("utf-8") for t in model.predict(images, batch_size=64, verbose=0)["text"]]
             for name, model in models.items()}
    scored = {name: [t.lower() for t in values] if args.ignore_case else values for name, values in texts.items()}
    result = {**header(), "lengths": lengths, "reads": compare_reads(scored["greedy"], scored["bounded"], truths)}
    if not args.no_tflite:
        calibration = load_calibration(args.model, None, greedy.input_shape[1:])
        result["tflite"] = tflite_rows(models, images, texts, calibration, args.runs)
    write_results(args.out, f"length-bound-{args.name + '-' if args.name else ''}", result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
