"""Ctrl-C during training: finish the batch, save, and say how to continue."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading


class TrainingStopped(Exception):
    """Training ended early for a reason the user must hear (NaN loss, Ctrl-C)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


@contextlib.contextmanager
def stop_on_sigint(model):
    """Within the block, Ctrl-C sets `model.stop_training`; a second Ctrl-C stops at once.

    Yields a list that holds True once Ctrl-C was pressed. A KeyboardInterrupt raised inside
    TensorFlow or a save can be lost (a test saw one run to the end); a flag Keras checks
    after each batch cannot.
    """
    interrupted: list[bool] = []

    def on_sigint(signum, frame):
        if interrupted:
            raise KeyboardInterrupt
        interrupted.append(True)
        model.stop_training = True
        print("\nCtrl-C: stopping after this batch, then saving (Ctrl-C again to stop now)", file=sys.stderr)

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if main_thread else None
    try:
        yield interrupted
    except KeyboardInterrupt:
        interrupted.append(True)
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
