"""Writing files so that a kill never leaves half of one: write a temporary file, then rename."""

from __future__ import annotations

import os
from collections.abc import Callable


def atomic_write(path: str, write: Callable[[str], None], suffix: str = "") -> None:
    """Calls `write(tmp)` to fill a temporary file beside `path`, then renames it to `path`.

    `suffix` ends the temporary name where the writer insists on one (Keras wants `.keras`).
    The temporary name carries the process id, so two writers never share one.
    """
    tmp = f"{path}.{os.getpid()}.tmp{suffix}"
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.remove(tmp)


def write_text(path: str, text: str) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    atomic_write(path, write)


def write_bytes(path: str, data: bytes) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    atomic_write(path, write)
