"""Reading for many requests at once, from one thread that owns the model.

Requests that arrive within a short window join one model call. Each call is padded to one of a
few fixed batch sizes, so a model compiled for a batch shape is not traced again for every size.
One worker thread does all reading: the model is never used from two threads at once.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
import time

import numpy as np

from crnn_keras.runtime.reader import Reader, Reading

BATCH_SIZES = (1, 4, 16, 64)


def padded_size(count: int, sizes: tuple[int, ...] = BATCH_SIZES) -> int:
    """The smallest fixed size that holds `count` images (count ≤ the largest size)."""
    return next(size for size in sizes if size >= count)


class Batcher:
    """Collects (images, beam width) jobs from any thread; reads them in batches on its own thread.

    Args:
        reader: the model to read with.
        window_s: how long the first job of a batch waits for others to join.
    """

    def __init__(self, reader: Reader, window_s: float = 0.005):
        self.reader, self.window_s = reader, window_s
        self.jobs: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name="crnn-keras-batcher", daemon=True)
        self.thread.start()

    def read(self, images: list[np.ndarray], beam_width: int | None = None) -> list[Reading]:
        """Blocks until the images (each (H, W, C) uint8 at the model's size) are read."""
        if not images:
            return []
        future: concurrent.futures.Future = concurrent.futures.Future()
        self.jobs.put((images, beam_width, future))
        return future.result()

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            first = self.jobs.get()
            if first is None:
                return
            batch, deadline, stop = [first], time.monotonic() + self.window_s, False
            while sum(len(job[0]) for job in batch) < BATCH_SIZES[-1]:
                try:
                    job = self.jobs.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                batch.append(job)
            for beam_width in {job[1] for job in batch}:
                self._read([job for job in batch if job[1] == beam_width], beam_width)
            if stop:
                return

    def _read(self, jobs: list, beam_width: int | None) -> None:
        images = [image for job in jobs for image in job[0]]
        try:
            readings: list[Reading] = []
            for start in range(0, len(images), BATCH_SIZES[-1]):
                chunk = np.stack(images[start : start + BATCH_SIZES[-1]])
                size = padded_size(len(chunk))
                padded = np.concatenate([chunk, np.repeat(chunk[:1], size - len(chunk), axis=0)])
                readings += self.reader.read_arrays(padded, beam_width)[: len(chunk)]
        except Exception as error:  # noqa: BLE001  every waiting request must hear of it
            for *_, future in jobs:
                future.set_exception(error)
            return
        at = 0
        for job_images, _, future in jobs:
            future.set_result(readings[at : at + len(job_images)])
            at += len(job_images)
