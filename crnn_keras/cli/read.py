"""`python -m crnn_keras evaluate` and `predict`: read images with a `.keras` or `.tflite` model."""

from __future__ import annotations

import argparse
import json
import sys
import time

from crnn_keras import atomic
from crnn_keras.cli.common import UserError, error_line
from crnn_keras.data.files import list_image_files
from crnn_keras.data.manifest import list_labelled
from crnn_keras.metrics import coverage, score
from crnn_keras.runtime.reader import Reader, read_paths


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model.keras, .tflite or .onnx")
    p.add_argument("--beam-width", type=int, help="beam search with this width (default: greedy; .keras only)")


def add_evaluate_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="folder of images named by their labels")
    source.add_argument("--labels", metavar="FILE", help="CSV or TSV of path,label rows (paths relative to FILE)")
    source.add_argument("--tfds", metavar="DATA_DIR", help="a TFDS dataset made by `dataset build` (see --split)")
    p.add_argument("--split", default="test", help="with --tfds: the split to score (TFDS slicing works: train[:10%%])")
    p.add_argument("--label-regex", help="label = first capture group of this regex on the file name")
    p.add_argument("--ignore-case", action="store_true", help="compare in lower case")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--errors", metavar="FILE", help="write each misread image as a JSON line "
                   "(path, truth, reading, confidence)")


def add_predict_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    p.add_argument("--json", action="store_true", help="JSON lines (path, text, confidence) instead of TSV")
    p.add_argument("--min-confidence", type=float, metavar="T",
                   help="reads below T go to stderr as rejected, not stdout (pick T with evaluate's coverage)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")


def tsv_field(text: str) -> str:
    r"""One TSV field on one line: `\`, tab, LF and CR as `\\`, `\t`, `\n`, `\r`; bytes of a
    file name that are not UTF-8 as `\xNN`.

    >>> tsv_field("a\tb\\c\udcff")
    'a\\tb\\\\c\\xff'
    """
    escaped = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return escaped.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def json_text(text: str) -> str:
    r"""Text for JSON: bytes of a file name that are not UTF-8 as `\xNN` (JSON cannot hold them)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def beam_width(args) -> int | None:
    if args.beam_width is not None and args.beam_width < 1:
        raise UserError(f"--beam-width: expected an integer ≥ 1, received {args.beam_width}")
    return args.beam_width


def read_labelled(args, reader: Reader) -> tuple[list[str], list[str], list[float], list[str], int]:
    """(readings, truths, confidences, paths, files skipped) for the labelled folder args.data,
    the labels file args.labels or the split of the TFDS dataset args.tfds."""
    if args.tfds:
        return read_dataset_split(args, reader)
    samples, problems = list_labelled(args.data, args.labels, args.label_regex, args.ignore_case)
    for problem in problems:
        print(f"skipped: {problem}", file=sys.stderr)
    texts, truths, confidences, paths = [], [], [], []
    by_path = {s.path: s.label for s in samples}
    for path, reading, error in read_paths(reader, [s.path for s in samples], beam_width(args)):
        if error:
            print(f"skipped: {error}", file=sys.stderr)
            problems.append(error)
            continue
        texts.append(reading.text.lower() if args.ignore_case else reading.text)
        truths.append(by_path[path])
        confidences.append(reading.confidence)
        paths.append(path)
    if not texts:
        raise UserError(f"{args.labels or args.data}: no image could be read")
    return texts, truths, confidences, paths, len(problems)


def read_dataset_split(args, reader: Reader, batch: int = 256):
    """Like read_labelled for a TFDS split, read in batches (never all in memory)."""
    import tensorflow_datasets as tfds

    from crnn_keras.data.streamed import check_stored_size, find_dataset_dir

    builder = tfds.builder_from_directory(find_dataset_dir(args.tfds))
    check_stored_size(builder, (reader.height, reader.width, reader.channels))
    try:
        ds = builder.as_dataset(split=args.split, shuffle_files=False).batch(batch)
    except (ValueError, KeyError, AssertionError) as error:
        raise UserError(f"{args.tfds}: no split {args.split!r} (it has {', '.join(builder.info.splits)}): "
                        f"{error_line(error)}") from None
    texts, truths, confidences = [], [], []
    for examples in tfds.as_numpy(ds):
        for reading, label in zip(reader.read_arrays(examples["image"], beam_width(args)), examples["label"]):
            texts.append(reading.text.lower() if args.ignore_case else reading.text)
            truths.append(label.decode("utf-8"))
            confidences.append(reading.confidence)
    if not texts:
        raise UserError(f"{args.tfds}: split {args.split!r} is empty")
    return texts, truths, confidences, [f"{args.split}#{i}" for i in range(len(texts))], 0


def evaluate(args) -> int:
    started = time.time()
    reader = Reader(args.model)
    texts, truths, confidences, paths, skipped = read_labelled(args, reader)
    unknown = [t for t in truths if not set(t) <= set(reader.vocabulary)]
    if unknown:
        print(f"warning: {len(unknown)} label(s) use characters the model never learned "
              f"(e.g. {unknown[0]!r}); they count as errors", file=sys.stderr)
    beam = beam_width(args)
    result = score(texts, truths)
    result.update(skipped=skipped, unknown_character_labels=len(unknown),
                  mean_confidence=float(sum(confidences) / len(confidences)),
                  decoder=f"beam({beam})" if beam else "greedy", length_bound=reader.label_lengths, model=args.model, data=args.labels or args.data or f"{args.tfds} ({args.split})",
                  seconds=round(time.time() - started, 2),
                  coverage=coverage(confidences, [t == y for t, y in zip(texts, truths)]))
    if args.errors:
        write_errors(args.errors, paths, truths, texts, confidences)
    if args.json:
        print(json.dumps(result))
    else:
        for key in ("sequence_accuracy", "character_error_rate", "count", "correct", "skipped"):
            value = result[key]
            print(f"{key}\t{value:.4f}" if isinstance(value, float) else f"{key}\t{value}")
        for row in result["coverage"]:
            print(f"coverage_{row['coverage']:.2f}\taccuracy {row['accuracy']:.4f} at confidence ≥ {row['threshold']:.4f}")
    return 0


def write_errors(path: str, paths, truths, texts, confidences) -> None:
    """One JSON line per misread image, least confident first."""
    rows = sorted((c, p, t, r) for p, t, r, c in zip(paths, truths, texts, confidences) if t != r)
    lines = "".join(json.dumps({"path": json_text(p), "truth": t, "reading": r, "confidence": round(float(c), 4)},
                               ensure_ascii=False) + "\n" for c, p, t, r in rows)
    atomic.write_text(path, lines)
    print(f"{len(rows)} misread image(s) written to {path}", file=sys.stderr)


def predict(args) -> int:
    reader = Reader(args.model)
    beam = beam_width(args)
    files, problems = list_image_files(args.paths)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if args.min_confidence is not None and not 0.0 <= args.min_confidence <= 1.0:
        raise UserError(f"--min-confidence: expected a number between 0 and 1, received {args.min_confidence}")
    read = 0
    for path, reading, error in read_paths(reader, files, beam):
        if error:
            print(f"error: {error}", file=sys.stderr)
        elif args.min_confidence is not None and reading.confidence < args.min_confidence:
            read += 1
            print(f"rejected: {tsv_field(path)}\t{tsv_field(reading.text)}\t{reading.confidence:.4f}", file=sys.stderr)
        else:
            read += 1
            if args.json:
                record = {"path": json_text(path), "text": reading.text, "confidence": round(reading.confidence, 4)}
                print(json.dumps(record, ensure_ascii=False), flush=True)
            else:
                print(f"{tsv_field(path)}\t{tsv_field(reading.text)}\t{reading.confidence:.4f}", flush=True)
    if read == 0:
        print("error: no image could be read", file=sys.stderr)
        return 1
    return 0
