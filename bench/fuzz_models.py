"""Seeded damage to an exported model, and what the loaders make of it.

    python bench/fuzz_models.py --model reader.tflite --seeds 2 3 4 5 7 --count 100
    python bench/fuzz_models.py --model reader.tflite --unsealed --name unsealed

Each seed writes `--count` damaged copies (`mutate`: flipped bytes, a cut, a repeated or zeroed
run, a lying length field, as `tests/test_fuzz.py` makes them) and loads them one after the
other in a worker process (`tests/fuzz_models_worker.py`: load, then read one blank image),
under a 16 GB address-space limit so a runaway case cannot take the machine. Counts how each
ended (read / refused / unexpected), how many the seal refused, the worker's peak RSS, and every
case that grew it by over 100 MB. `--unsealed` first removes the seal's tag and entry name, so
the copies stand for exports from before 0.3.13. Writes
bench/results/fuzz-models-[<name>-]<date>-<host>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.machine import header, write_results  # noqa: E402

ADDRESS_SPACE_LIMIT = 16 * 2**30


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One seeded damage: flipped bytes, a cut, a repeated or zeroed run, or a lying length field."""
    data = bytearray(data)
    kind = rng.randrange(5)
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1:
        data = data[: rng.randrange(1, len(data))]
    elif kind == 2:
        start = rng.randrange(len(data))
        data[start:start] = data[start : start + rng.randint(1, 64)] * rng.randint(1, 4)
    elif kind == 3:
        start = rng.randrange(len(data))
        data[start : start + rng.randint(1, 32)] = bytes(min(32, len(data) - start))
    else:
        start = rng.randrange(max(1, len(data) - 4))
        data[start : start + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\xff\xff"])
    return bytes(data)


def unsealed(data: bytes) -> bytes:
    """The same model as an export from before the seal (0.3.12 and older) would carry it."""
    from crnn_keras import integrity

    name = integrity.METADATA_NAME.encode()
    return data.replace(integrity.TAG, b"x" * len(integrity.TAG)).replace(name, b"y" * len(name))


def refused_by_seal(row: dict) -> bool:
    """Whether the worker's row for one copy says the seal refused it (crnn_keras.integrity's messages)."""
    return row["outcome"] == "refused" and ("seal" in row["detail"] or "SHA-256" in row["detail"])


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def load_each(paths: list[str]) -> tuple[list[dict], int]:
    """The worker's one JSON line per path, and its exit status."""
    worker = os.path.join(ROOT, "tests", "fuzz_models_worker.py")
    done = subprocess.run([sys.executable, worker, *paths], capture_output=True, text=True, preexec_fn=_limit_memory,
                          env=dict(os.environ, PYTHONPATH=ROOT), check=False)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")], done.returncode


def fuzz_seed(original: bytes, suffix: str, seed: int, count: int, folder: str) -> dict:
    rng = random.Random(seed)
    paths = []
    for i in range(count):
        paths.append(os.path.join(folder, f"s{seed}_{i}{suffix}"))
        with open(paths[-1], "wb") as file:
            file.write(mutate(original, rng))
    rows, status = load_each(paths)
    outcomes = Counter(r["outcome"] for r in rows)
    growth, before = [], None
    for row in rows:
        if before is not None and row["rss_mb"] - before > 100:
            growth.append({"case": os.path.basename(row["path"]), "outcome": row["outcome"],
                           "rss_mb": row["rss_mb"], "grew_mb": row["rss_mb"] - before})
        before = row["rss_mb"]
    return {"seed": seed, "cases": count, "answered": len(rows), "worker_status": status,
            "read": outcomes["read"], "refused": outcomes["refused"], "unexpected": outcomes["unexpected"],
            "refused_by_seal": sum(map(refused_by_seal, rows)),
            "peak_rss_mb": max((r["rss_mb"] for r in rows), default=None), "growth": growth,
            "unexpected_details": [r["detail"] for r in rows if r["outcome"] == "unexpected"]}


def markdown(result: dict) -> str:
    lines = [f"# Damaged copies of `{result['model']}`{' (seal removed)' if result['unsealed'] else ''}", "",
             f"{result['date']}, `{result['command']}`, {result['machine']['cpu']} ({result['machine']['cores']} cores)",
             "", "| seed | cases | read | refused (by the seal) | unexpected | peak RSS MB | cases growing RSS > 100 MB |",
             "|---|---|---|---|---|---|---|"]
    for row in result["seeds"]:
        growth = ", ".join(f"{g['case']} {g['outcome']} +{g['grew_mb']}" for g in row["growth"]) or "none"
        lines.append(f"| {row['seed']} | {row['cases']} | {row['read']} | {row['refused']} ({row['refused_by_seal']}) "
                     f"| {row['unexpected']} | {row['peak_rss_mb']} | {growth} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="an exported .tflite or .onnx")
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 3, 4, 5, 7])
    parser.add_argument("--count", type=int, default=100, help="damaged copies per seed")
    parser.add_argument("--unsealed", action="store_true", help="remove the seal first (an export before 0.3.13)")
    parser.add_argument("--name", default="")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    args = parser.parse_args(argv)
    original = open(args.model, "rb").read()
    if args.unsealed:
        original = unsealed(original)
    with tempfile.TemporaryDirectory() as folder:
        seeds = [fuzz_seed(original, os.path.splitext(args.model)[1], seed, args.count, folder) for seed in args.seeds]
    result = {**header(), "model": os.path.basename(args.model), "bytes": len(original), "unsealed": args.unsealed,
              "seeds": seeds}
    prefix = f"fuzz-models-{args.name}-" if args.name else "fuzz-models-"
    write_results(args.out, prefix, result, markdown(result))
    return result


if __name__ == "__main__":
    main()
