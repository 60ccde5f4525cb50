"""A version-guarded fix that lets `model.fit` run under MultiWorkerMirroredStrategy.

Keras 3.15.1's TensorFlow trainer fails there (keras-team/keras#20585, tensorflow/tensorflow#72388)
in two places of `keras/src/backend/tensorflow/trainer.py`:

- `_maybe_symbolic_build` reduces the first distributed input batch with a cross-worker
  `strategy.reduce("MEAN", batch)` only to learn its shapes: under MultiWorkerMirroredStrategy
  that is a collective over uint8 images and int32 labels.
- `reduce_per_replica` reduces every log with `strategy.reduce("MEAN", v, axis=0)`, and a
  scalar loss has no axis 0.

`apply()` replaces both with versions that take the shapes from the local replica and reduce
scalars with `axis=None`. It is the smallest change that keeps Keras' own `fit`, callbacks and
resume path; a hand-written loop under `strategy.run` would duplicate all of them. It applies
to Keras 3.15.x only; `tests/test_distribute.py` checks the code it replaces is still there, so
an upgrade that fixes Keras fails that test and this module can go.
"""

from __future__ import annotations

import keras

FIXED_VERSIONS = ("3.15.",)
_applied = False


def needed() -> bool:
    return keras.__version__.startswith(FIXED_VERSIONS) and keras.backend.backend() == "tensorflow"


def apply() -> None:
    """Patches Keras' TensorFlow trainer once; does nothing on other Keras versions."""
    global _applied
    if _applied or not needed():
        return
    import tensorflow as tf
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    original = tf_trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if tf_trainer._collective_all_reduce_multi_worker(strategy) and reduction in ("auto", "mean"):
            def reduce(value):
                if not isinstance(value, tf.distribute.DistributedValues):
                    return value
                rank = strategy.experimental_local_results(value)[0].shape.rank
                return strategy.reduce("MEAN", value, axis=None if rank == 0 else 0)

            return tree.map_structure(reduce, values)
        return original(values, strategy, reduction)

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None:
            return
        if iterator is not None:
            for _, _, it in iterator:
                local = self.distribute_strategy.experimental_local_results
                data_batch = tree.map_structure(
                    lambda x: local(x)[0] if isinstance(x, tf.distribute.DistributedValues) else x, next(it))
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    tf_trainer.reduce_per_replica = reduce_per_replica
    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    _applied = True
