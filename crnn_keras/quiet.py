"""Keeping native start-up chatter off stderr.

TensorFlow ≥ 2.19 writes its C++ start-up lines (oneDNN notes, CUDA probing on CPU machines) to
stderr whatever TF_CPP_MIN_LOG_LEVEL says (tensorflow#100442), and LiteRT announces its XNNPACK
delegate the same way. Results and one-line errors should not drown in that. A user who sets
TF_CPP_MIN_LOG_LEVEL gets TensorFlow's output untouched. Nothing here changes the environment.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys


def enabled() -> bool:
    return "TF_CPP_MIN_LOG_LEVEL" not in os.environ


@contextlib.contextmanager
def native_stderr_silenced():
    """Points file descriptor 2 at /dev/null for the block (Python exceptions still surface)."""
    if not enabled():
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


@functools.cache  # once per process, as oneDNN writes the note; later trainings in it (a notebook, the dev suite) skip it
def spend_onednn_bool_note() -> None:
    """Logs TensorFlow's once-per-process oneDNN bool note into /dev/null before training does.

    `tf.nn.ctc_loss` transposes a bool mask of the batch's time steps. On CPUs without AVX-512,
    oneDNN meets that transpose with an error-level line ("oneDNN supports DT_BOOL only on
    platforms with AVX-512. Falling back to the default Eigen-based implementation") at the first
    training step, though nothing is wrong. oneDNN writes it only once per process, so one small
    bool transpose here, silenced, spends it. With TF_CPP_MIN_LOG_LEVEL set, nothing is done.
    """
    if not enabled():
        return
    import tensorflow as tf

    lengths = tf.TensorSpec([None], tf.int32)  # a dynamic batch: nothing the optimizer can fold away
    transpose = tf.function(lambda n: tf.transpose(tf.sequence_mask(n, 2)), input_signature=[lengths])
    with native_stderr_silenced():
        transpose(tf.constant([1]))
