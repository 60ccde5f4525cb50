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
