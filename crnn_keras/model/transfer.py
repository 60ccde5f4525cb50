"""Starting a run from a reader you have (`train --init-from MODEL`).

The new backbone has the source's shape; every layer takes the source's weights. The logits
layer grows by one column per new character: known characters (and the blank) keep their
columns, new ones start from the fresh initialisation. A source saved for reading has its batch
norm folded into the convolutions: it is unfolded into an identity batch norm (γ = 1, β = the
folded bias, mean 0, variance 1 − ε), which computes the same function at inference.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers

from crnn_keras.model.config import ModelConfig


def config_of(backbone: keras.Model) -> ModelConfig:
    """The ModelConfig a crnn_keras backbone was built with, read from its layers.

    Raises:
        ValueError: a backbone of another architecture (the Keras example, say).
    """
    try:
        _, height, width, channels = backbone.input_shape
        blocks = sorted((l for l in backbone.layers if l.name.startswith("block") and l.name.endswith("_conv1")),
                        key=lambda l: int(l.name[5:].split("_")[0]))
        return ModelConfig(height=height, width=width, channels=channels,
                           stem_stride=backbone.get_layer("stem_conv").strides[0],
                           block_widths=tuple(l.filters for l in blocks),
                           width_halvings=int(round(math.log2(width / backbone.output.shape[1]))),
                           rnn_units=backbone.get_layer("bigru").forward_layer.units,
                           dropout=float(backbone.get_layer("dropout").rate))
    except ValueError as error:
        raise ValueError(f"--init-from: expected a crnn_keras CRNN reader, received another model ({error})") from None


def warm_start(source: keras.Model, target: keras.Model) -> None:
    """Copies the source backbone's weights into the (unfolded) target, growing the logits."""
    for layer in target.layers:
        if not layer.weights or isinstance(layer, layers.BatchNormalization):
            continue
        origin = source.get_layer(layer.name)
        if isinstance(layer, layers.Conv2D):
            _copy_conv(origin, layer, source, target)
        elif layer.name == "logits":
            kernel, bias = (ops_numpy(w) for w in layer.weights)
            old_kernel, old_bias = origin.get_weights()
            kernel[:, : old_kernel.shape[1]], bias[: old_bias.shape[0]] = old_kernel, old_bias
            layer.set_weights([kernel, bias])
        else:
            layer.set_weights(origin.get_weights())


def ops_numpy(weight) -> np.ndarray:
    return np.array(keras.ops.convert_to_numpy(weight))


def _copy_conv(origin, layer, source: keras.Model, target: keras.Model) -> None:
    norm_name = f"{layer.name}_bn"
    layer.kernel.assign(origin.kernel)
    norm = target.get_layer(norm_name)
    if any(l.name == norm_name for l in source.layers):  # an unfolded source: batch norm as it was
        norm.set_weights(source.get_layer(norm_name).get_weights())
        return
    channels = ops_numpy(origin.bias).shape[0]
    norm.set_weights([np.ones(channels), ops_numpy(origin.bias), np.zeros(channels),
                      np.full(channels, 1.0 - norm.epsilon)])
