"""Recurrent layers traced for export use only builtin ops, wherever the model was trained."""

from __future__ import annotations

import keras


def without_cudnn(model: keras.Model) -> keras.Model:
    """Turns the cuDNN path off in every GRU/LSTM of `model` (in place) and returns it.

    Keras chooses the recurrent kernel when a function is traced: with a GPU visible it emits
    `CudnnRNNV3`, which neither TFLite's builtin ops nor ONNX have (keras-team/keras#21799), and
    `use_cudnn` is not saved in a layer's config, so a reloaded model is back on "auto".
    """
    for layer in _all_layers(model):
        if isinstance(layer, (keras.layers.GRU, keras.layers.LSTM)):
            layer.use_cudnn = False
    return model


def _all_layers(layer):
    yield layer
    children = list(getattr(layer, "layers", []))
    if isinstance(layer, keras.layers.Bidirectional):
        children += [layer.forward_layer, layer.backward_layer]
    for child in children:
        yield from _all_layers(child)
