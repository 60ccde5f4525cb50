"""What machine a benchmark ran on, for the results file."""

from __future__ import annotations

import os
import platform
import socket


def describe() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "system": platform.platform(), "host": socket.gethostname(),
            "python": platform.python_version()}


def header() -> dict:
    """What every results file starts with: the date, the command line and the machine."""
    import datetime
    import sys

    return {"date": datetime.date.today().isoformat(), "command": " ".join(["python", *sys.argv]),
            "machine": describe()}


def write_results(out_dir: str, prefix: str, result: dict, markdown: str) -> str:
    """Writes OUT/<prefix><date>-<host>.json and .md, prints the Markdown; returns the path stem."""
    import json

    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.join(out_dir, f"{prefix}{result['date']}-{result['machine']['host']}")
    with open(f"{stem}.json", "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    with open(f"{stem}.md", "w", encoding="utf-8") as f:
        f.write(markdown if markdown.endswith("\n") else markdown + "\n")
    print(markdown)
    print(f"results: {stem}.json, {stem}.md")
    return stem
