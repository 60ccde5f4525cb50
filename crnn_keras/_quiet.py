"""Silencing native start-up chatter on stderr.

TensorFlow ≥ 2.19 writes its C++ start-up lines (oneDNN notes, CUDA probing on CPU
machines) to stderr whatever TF_CPP_MIN_LOG_LEVEL says (tensorflow#100442), and
LiteRT announces its XNNPACK delegate the same way. Users of the CLI should see
results and one-line errors, not that. A user who sets TF_CPP_MIN_LOG_LEVEL
themselves gets TensorFlow's output untouched.
"""

from __future__ import annotations

import contextlib
import os
import sys

# Ours when unset, or set by a parent crnn_keras process (which marks it), not by the user.
ENABLED = "TF_CPP_MIN_LOG_LEVEL" not in os.environ or os.environ.get("CRNN_KERAS_SET_TF_LOG") == "1"
if "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ["CRNN_KERAS_SET_TF_LOG"] = "1"


@contextlib.contextmanager
def native_stderr_silenced():
    """Points file descriptor 2 at /dev/null for the block (Python exceptions still surface)."""
    if not ENABLED:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
