"""Best-path CTC decoding bounded to the label lengths seen in training, as a TensorFlow graph.

Greedy decoding reads each frame's most likely class; when two frames of a doubled letter
merge, or a noise stroke adds a character, the read has a length no training label had. On
fixed-length captchas every such read is wrong. This graph finds the most likely frame path
whose collapsed text has `shortest`..`longest` characters: where greedy's read is already in
range it is the same path (greedy's is the best of all paths), so only reads that cannot be
right change.

The search is a Viterbi pass over states (characters emitted so far, last frame's class), then
a trace back: two `tf.scan` loops of built-in TFLite ops (top-k, where, one-hot, sums), WHILE
loops inside an IF that runs only when some read is out of range, so the Keras reader, TFLite
and ONNX run the same graph. Scores are log-probabilities in fixed-point int32: int8
quantization rounds floats, not integers.
"""

from __future__ import annotations

import numpy as np

from crnn_keras.contract import BLANK_INDEX, collapse_path_graph, greedy_collapse_graph

SCALE = 1024  # log-probability units a score counts: ties below 1/1024 nat are ties
FLOOR = -(2**30)  # the score of unreachable states; kept above int32's minimum by clamping


def decode_graph(logits, label_lengths=None):
    """What a reader's graph decodes: (ids (B, T) int32, padded with -1; confidence (B,), the
    probability of the path read). Greedy's collapse, or with `label_lengths` the collapse of
    `reader_path_graph`'s path."""
    import tensorflow as tf

    if not label_lengths:
        return greedy_collapse_graph(logits)
    path = reader_path_graph(logits, label_lengths)
    log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
    confidence = tf.exp(tf.reduce_sum(tf.one_hot(path, logits.shape[2]) * log_probs, axis=[1, 2]))
    return collapse_path_graph(path), confidence


def reader_path_graph(logits, label_lengths):
    """(B, T, K) logits → the frame path (B, T) int32 a reader with `label_lengths` reads.

    The greedy path (each frame's most likely class), except in rows whose greedy read is not
    empty and has a length outside (shortest, longest): those take `bounded_path_graph`'s path.
    The search runs only when a batch holds such a row (a cond: most batches need none).
    """
    import tensorflow as tf

    greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
    length = tf.reduce_sum(tf.cast(collapse_path_graph(greedy) >= 0, tf.int32), axis=1)
    # An empty read stays empty: it says "no text here", which no length bound should overrule.
    inside = (length == 0) | ((length >= label_lengths[0]) & (length <= label_lengths[1]))

    def bounded():
        return tf.where(inside[:, None], greedy, bounded_path_graph(logits, *label_lengths))

    return tf.cond(tf.reduce_all(inside), lambda: greedy, bounded)


def bounded_path_graph(logits, shortest: int, longest: int):
    """(B, T, K) logits, static T and K → the most likely frame path (B, T) int32 whose
    collapse has `shortest`..`longest` characters.

    Example:
    >>> logits = tf.constant([[[0., 5., 0.], [4., 5., 0.], [0., 5., 0.]]])  # blank, "a", "b"
    >>> bounded_path_graph(logits, 2, 2).numpy()  # greedy: a·a·a → "a"; bounded: a·blank·a → "aa"
    array([[1, 0, 1]], dtype=int32)
    """
    import tensorflow as tf

    if not 1 <= shortest <= longest:
        raise ValueError(f"label lengths: expected 1 ≤ shortest ≤ longest, received {shortest}, {longest}")
    log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
    scores = tf.cast(tf.round(log_probs * SCALE), tf.int32)
    classes = logits.shape[2]
    emitted, last = np.meshgrid(np.arange(longest + 1), np.arange(classes), indexing="ij")
    start = ((emitted == 0) & (last == BLANK_INDEX)) | ((emitted == 1) & (last != BLANK_INDEX))
    state = tf.where(tf.constant(start), scores[:, :1, :], FLOOR)  # (B, longest + 1, K)
    # Time first by unstack and stack: an int32 transpose makes oneDNN print an error line on
    # CPUs without AVX-512, and a float one before the cast lets int8 quantization round scores.
    frames = tf.stack(tf.unstack(scores[:, 1:], axis=1))  # (T - 1, B, K)
    states, pointers = tf.scan(lambda carried, frame: _step(carried[0], frame), frames,
                               initializer=(state, tf.zeros_like(state)))
    allowed = tf.constant((np.arange(longest + 1) >= shortest)[:, None])
    return _trace_back(tf.where(allowed, states[-1], FLOOR), pointers, classes)


def _step(state, frame):
    """One frame: state (B, N, K) scores of (emitted n, last class c); frame (B, K) scores.
    Returns the next state and, for each next state, the class its best predecessor ended on."""
    import tensorflow as tf

    best = tf.math.top_k(state, k=2)  # the best and second-best previous class at each n
    value, index = best.values, best.indices
    symbols = tf.range(1, state.shape[2])
    to_blank = value[..., :1] + frame[:, None, :1]
    stay = state[..., 1:] + frame[:, None, 1:]  # the same character's run goes on
    # A new character s follows the best previous class other than s, one emission earlier.
    top_is_s = tf.equal(index[..., :1], symbols)
    from_class = tf.where(top_is_s, index[..., 1:], index[..., :1])
    from_value = tf.where(top_is_s, value[..., 1:], value[..., :1])
    emit = tf.concat([tf.zeros_like(from_value[:, :1]) + FLOOR, from_value[:, :-1]], axis=1) + frame[:, None, 1:]
    from_emit = tf.concat([tf.zeros_like(from_class[:, :1]), from_class[:, :-1]], axis=1)
    keep_run = stay >= emit
    state = tf.maximum(tf.concat([to_blank, tf.where(keep_run, stay, emit)], axis=-1), FLOOR)
    pointer = tf.concat([index[..., :1], tf.where(keep_run, symbols + tf.zeros_like(from_emit), from_emit)], -1)
    return state, pointer


def _trace_back(state, pointers, classes: int):
    """The best final state's path of classes, (B, T) int32, followed back through `pointers`
    ((T - 1, B, N, K): each frame's best predecessor class)."""
    import tensorflow as tf

    size = state.shape[1] * classes
    best = tf.argmax(tf.reshape(state, [-1, size]), axis=-1, output_type=tf.int32)
    emitted, last = best // classes, best % classes

    def back(carried, pointer):
        emitted, last = carried
        flat = tf.reshape(pointer, [-1, size])
        previous = tf.reduce_sum(tf.one_hot(emitted * classes + last, size, dtype=tf.int32) * flat, axis=-1)
        began = tf.logical_and(tf.not_equal(last, BLANK_INDEX), tf.not_equal(previous, last))
        return emitted - tf.cast(began, tf.int32), previous

    # Backwards by reversing the input: tf2onnx keeps scan(reverse=True)'s outputs in loop order.
    _, previous = tf.scan(back, tf.reverse(pointers, [0]), initializer=(emitted, last))  # (T - 1, B)
    return tf.stack([*tf.unstack(tf.reverse(previous, [0])), last], axis=1)
