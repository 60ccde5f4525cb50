"""Training speed with tf.distribute on this machine: 1 vs 2 logical CPU replicas (mirrored) and
1 vs 2 local workers (multi-worker), images/s of the last epoch (the first one traces).

    python bench/distribute.py                 # 1,200 synthetic captchas, 3 epochs a setup, ~6 min
    python bench/distribute.py --images 64 --epochs 2   # smoke run

Every setup trains the default model with the same global batch (32) through the command line
(`python -m crnn_keras train`), in fresh processes; results go to
bench/results/distribute-<date>-<host>.json and .md. On 2 cores expect no speed-up: the figure
shows what splitting the batch costs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.machine import header, write_results  # noqa: E402

SETUPS = {
    "one device": ([], 1),
    "mirrored, 2 logical CPUs": (["--distribute", "mirrored", "--cpu-devices", "2"], 1),
    "multi-worker, 1 worker": (["--distribute", "multi-worker"], 1),
    "multi-worker, 2 local workers": (["--distribute", "multi-worker"], 2),
}


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run_setup(flags: list[str], workers: int, data: str, out: str, epochs: int) -> float:
    """Trains one setup; returns images/s of its last epoch."""
    command = [sys.executable, "-m", "crnn_keras", "train", "--data", data, "--out", out, "--epochs", str(epochs),
               "--batch-size", "32", "--patience", str(epochs), *flags]
    env = dict(os.environ, PYTHONPATH=ROOT)
    hosts = [f"127.0.0.1:{p}" for p in free_ports(workers)]
    processes = []
    for index in range(workers):
        if "multi-worker" in flags:
            env = dict(env, TF_CONFIG=json.dumps({"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}))
        processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                          text=True))
    for p in processes:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(flags) or 'one device'}: training failed: {err[-2000:]}")
    with open(os.path.join(out, "history.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    seconds = float(rows[-1]["elapsed_s"]) - float(rows[-2]["elapsed_s"])
    train_images = json.load(open(os.path.join(out, "run.json"), encoding="utf-8"))["train_images"]
    return train_images // 32 * 32 / seconds if flags else train_images / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1200)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    args = parser.parse_args()

    from crnn_keras.data import synthetic

    work = tempfile.mkdtemp(prefix="crnn_distribute_")
    data = synthetic.generate(os.path.join(work, "data"), args.images, seed=0)
    rows = {name: round(run_setup(flags, workers, data, os.path.join(work, f"run{i}"), args.epochs), 1)
            for i, (name, (flags, workers)) in enumerate(SETUPS.items())}
    result = {**header(), "images": args.images, "epochs": args.epochs, "images_per_second": rows}
    lines = [f"# tf.distribute on {result['machine']['cores']} cores, {result['machine']['cpu']} ({result['date']})", "",
             f"`{result['command']}`: {args.images} synthetic captchas, global batch 32, images/s of epoch "
             f"{args.epochs} (the last; the first traces)", "", "| setup | images/s | vs one device |", "|---|---|---|"]
    lines += [f"| {name} | {value:.0f} | {value / rows['one device']:.2f} |" for name, value in rows.items()]
    write_results(args.out, "distribute-", result, "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
