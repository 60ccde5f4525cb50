"""Load test of the HTTP service: a bounded number of requests at a few concurrency levels.

    python bench/serve.py --model runs/train/model.keras --data ../shared/data/captcha_images_v2/test

Starts `python -m crnn_keras serve` on a free 127.0.0.1 port, warms it up, then sends --requests
single-image POST /read requests at each --concurrency level (threads of one httpx client) and
stops by itself. Reports throughput, p50/p99 latency, errors (must be 0), and the server's RSS
after warm-up and after each level. Client and server share this machine's cores. Writes
bench/results/serve-<date>-<host>.json and .md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from bench.machine import header, write_results  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def start_server(model: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "crnn_keras", "serve", "--model", model, "--port", str(port)],
                               cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start")


def load(client: httpx.Client, url: str, bodies: list[tuple[str, bytes]], requests: int, concurrency: int) -> dict:
    def one(i: int) -> tuple[float, bool]:
        name, data = bodies[i % len(bodies)]
        start = time.perf_counter()
        response = client.post(f"{url}/read", files={"file": (name, data, "image/png")}, timeout=60)
        ok = response.status_code == 200 and "text" in response.json()[0]
        return time.perf_counter() - start, ok

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(requests)))
    wall = time.perf_counter() - started
    latencies = np.array([r[0] for r in results]) * 1000
    return {"concurrency": concurrency, "requests": requests, "seconds": round(wall, 2),
            "requests_per_second": round(requests / wall, 1), "p50_ms": round(float(np.percentile(latencies, 50)), 2),
            "p99_ms": round(float(np.percentile(latencies, 99)), 2), "errors": sum(not r[1] for r in results)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help=".keras, .tflite or .onnx")
    parser.add_argument("--data", required=True, help="a folder of images to send")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    args = parser.parse_args()

    names = sorted(n for n in os.listdir(args.data) if n.endswith(".png"))[:50]
    bodies = [(n, open(os.path.join(args.data, n), "rb").read()) for n in names]
    process, url = start_server(args.model)
    try:
        with httpx.Client(limits=httpx.Limits(max_connections=64)) as client:
            for concurrency in args.concurrency:  # warm-up: every batch size traced, allocator, connections
                load(client, url, bodies, 200, concurrency)
            rss_warm = rss_mb(process.pid)
            rows = []
            for concurrency in args.concurrency:
                rows.append({**load(client, url, bodies, args.requests, concurrency), "rss_mb": round(rss_mb(process.pid))})
    finally:
        process.terminate()
        process.wait(timeout=30)
    result = {**header(), "model": args.model, "rss_mb_after_warmup": round(rss_warm), "rows": rows}
    lines = [f"# Serving load test {result['date']}: {result['machine']['cores']} cores, {result['machine']['cpu']}",
             "", f"`{result['command']}` (client and server share the cores; one image per request)", "",
             f"Server RSS after a warm-up of 200 requests at each level: {rss_warm:,.0f} MB.", "",
             "| concurrency | requests | requests/s | p50 ms | p99 ms | errors | server RSS after (MB) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['concurrency']} | {r['requests']} | {r['requests_per_second']:,.1f} | {r['p50_ms']} | "
                     f"{r['p99_ms']} | {r['errors']} | {r['rss_mb']:,} |")
    write_results(args.out, "serve-", result, "\n".join(lines))
    return 0 if all(r["errors"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
