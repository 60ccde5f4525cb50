"""Export benchmark: every TFLite quantize mode and the ONNX export of one trained model, against Keras.

    python bench/tflite.py --model runs/train/model.keras --data ../shared/data/captcha_images_v2/test

For each mode: file size, test sequence accuracy, agreement with the Keras strings, and batch-1
single-thread latency (median of --runs after --warmup) next to the Keras model's. Writes
bench/results/formats-<date>-<host>.json and .md (earlier runs, TFLite only: tflite-*).
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


def median_ms(call, warmup: int, runs: int) -> float:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def onnx_row(args, path: str, images, truths, keras_texts) -> dict:
    from crnn_keras.export.onnx import export as export_onnx
    from crnn_keras.metrics import score
    from crnn_keras.runtime.onnx_model import OnnxModel

    info = export_onnx(args.model, path)
    model = OnnxModel(path, num_threads=1)
    texts, _ = model.read_batch(images, None)
    return {
        "mode": "onnx (float32, ONNX Runtime)",
        "bytes": info["bytes"],
        "sequence_accuracy": score(texts, truths)["sequence_accuracy"],
        "agreement_with_keras": float(np.mean([a == b for a, b in zip(texts, keras_texts)])),
        "latency_ms": median_ms(lambda: model.run(images[:1]), args.warmup, args.runs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--label-regex")
    parser.add_argument("--ignore-case", action="store_true", help="lower-case the labels, as `train --ignore-case`")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = parser.parse_args()

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from crnn_keras.export.tflite import QUANTIZE_MODES, export
    from crnn_keras.data.files import list_samples
    from crnn_keras.runtime.lite import LiteModel
    from crnn_keras.runtime.reader import Reader
    from crnn_keras.metrics import score

    keras_reader = Reader(args.model)
    samples, _ = list_samples(args.data, args.label_regex, args.ignore_case)
    images = np.stack([keras_reader.prepare(s.path) for s in samples])
    truths = [s.label for s in samples]
    keras_texts = [r.text for r in keras_reader.read_arrays(images)]
    model = keras_reader.keras_model
    one = images[:1]
    rows = [{
        "mode": "keras",
        "bytes": os.path.getsize(args.model),
        "sequence_accuracy": score(keras_texts, truths)["sequence_accuracy"],
        "agreement_with_keras": 1.0,
        "latency_ms": median_ms(lambda: model.predict_on_batch(one), args.warmup, args.runs),
    }]
    with tempfile.TemporaryDirectory() as tmp:
        for mode in QUANTIZE_MODES:
            path = os.path.join(tmp, f"{mode}.tflite")
            info = export(args.model, path, mode)
            lite = LiteModel(path, num_threads=1)
            texts = [r.text for r in Reader(path).read_arrays(images)]
            rows.append({
                "mode": mode,
                "bytes": info["bytes"],
                "sequence_accuracy": score(texts, truths)["sequence_accuracy"],
                "agreement_with_keras": float(np.mean([a == b for a, b in zip(texts, keras_texts)])),
                "latency_ms": median_ms(lambda lite=lite: lite.run(images[0]), args.warmup, args.runs),
            })
        rows.append(onnx_row(args, os.path.join(tmp, "reader.onnx"), images, truths, keras_texts))
    result = {
        **header(),
        "model": args.model,
        "data": args.data,
        "images": len(truths),
        "latency": f"batch 1, one thread, median of {args.runs} runs after {args.warmup} warm-up runs",
        "rows": rows,
    }
    table = [
        f"Export benchmark, {result['date']}, {result['machine']['cores']} cores, {result['machine']['cpu']}",
        f"`{result['command']}` ({result['images']} images; latency: {result['latency']})",
        "",
        "| mode | size (KiB) | sequence accuracy | same strings as Keras | latency (ms) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        table.append(f"| {r['mode']} | {r['bytes'] / 1024:,.0f} | {r['sequence_accuracy']:.4f} | "
                     f"{r['agreement_with_keras']:.4f} | {r['latency_ms']:.2f} |")
    write_results(args.out, "formats-", result, "\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
