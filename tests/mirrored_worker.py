"""Run by tests/test_distribute.py in a fresh process (logical devices must be set up first):
trains one tiny CRNN for 8 steps on one device and the same model, from the same weights, under
MirroredStrategy on two logical CPU devices; prints the loss each then has on the training
batches and the largest weight difference as JSON.

    python tests/mirrored_worker.py
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from crnn_keras.train.distribute import split_cpu  # noqa: E402

split_cpu(2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from crnn_keras.model.builder import CRNNBuilder  # noqa: E402
from crnn_keras.model.config import ModelConfig  # noqa: E402
from crnn_keras.model.heads import build_trainer  # noqa: E402

CONFIG = ModelConfig(height=16, width=64, block_widths=(8, 16), rnn_units=16, dropout=0.0, width_halvings=2)
STEPS, BATCH = 4, 8


def batches():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (STEPS * BATCH, 16, 64, 1), dtype=np.uint8)
    labels = rng.integers(1, 6, (STEPS * BATCH, 3)).astype(np.int32)
    return tf.data.Dataset.from_tensor_slices({"image": images, "labels": labels}).batch(BATCH)


def trained(strategy, weights):
    with strategy.scope():
        trainer = build_trainer(CRNNBuilder().build(6, CONFIG, mean_label_length=3.0), 3)
        if weights is not None:
            trainer.set_weights(weights)
        trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
    start = trainer.get_weights()
    trainer.fit(batches(), epochs=2, verbose=0)
    return start, trainer.evaluate(batches(), verbose=0), trainer.get_weights()


keras.utils.set_random_seed(0)
start, one_loss, one_weights = trained(tf.distribute.get_strategy(), None)
mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
_, two_loss, two_weights = trained(mirrored, start)
moved = max(float(np.abs(a - b).max()) for a, b in zip(one_weights, start))
print(json.dumps({
    "replicas": mirrored.num_replicas_in_sync,
    "one_device_loss": one_loss, "mirrored_loss": two_loss,
    "largest_weight_change": moved,
    "largest_weight_difference": max(float(np.abs(a - b).max()) for a, b in zip(one_weights, two_weights)),
}))
