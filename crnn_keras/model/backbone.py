"""The CRNN: residual CNN that squeezes the height to 1, a GRU over the width, CTC.

    image (B, H, W, C) uint8
      → Rescaling, stem conv 3x3 (stride 2: half the height and width)
      → BasicBlock × n, each with stride 2 in height (the first few also in width)
      → height is now 2 → Conv 2x5 (valid in height) → height exactly 1
      → Reshape (B, T, F): width becomes time, channels become features
      → bidirectional GRU → Dense: logits (B, T, vocabulary + 1)

Logit classes follow `crnn_keras.contract`: class 0 is the CTC blank.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from crnn_keras.model.config import ModelConfig

BACKBONE_NAME = "crnn"


def _conv_bn(x, filters: int, kernel, strides=(1, 1), padding: str = "same", *, name: str, folded: bool):
    """Conv2D then BatchNormalization (named `name` and `name_bn`); with `folded`, one Conv2D
    with a bias that stands for both (see `fold_batch_norm`)."""
    x = layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=folded, name=name)(x)
    if folded:
        return x
    # Keras' default momentum 0.99 suits long runs; captcha sets give ~30 steps an epoch, and
    # moving statistics that lag that far make validation loss spike for many epochs. Built under
    # a strategy with several replicas, the statistics cover the global batch, as on one device.
    return layers.BatchNormalization(momentum=0.9, synchronized=_replicated(), name=f"{name}_bn")(x)


def _replicated() -> bool:
    import tensorflow as tf

    return tf.distribute.has_strategy() and tf.distribute.get_strategy().num_replicas_in_sync > 1


def basic_block(x, filters: int, strides: tuple[int, int], name: str, folded: bool = False):
    """ResNet BasicBlock: conv3x3-BN-ReLU-conv3x3-BN + (projected) shortcut, ReLU.

    Input shape: (B, H, W, C). Output shape: (B, H / sh, W / sw, filters).
    """
    y = _conv_bn(x, filters, 3, strides, name=f"{name}_conv1", folded=folded)
    y = layers.ReLU(name=f"{name}_relu1")(y)
    y = _conv_bn(y, filters, 3, name=f"{name}_conv2", folded=folded)
    shortcut = x
    if strides != (1, 1) or x.shape[-1] != filters:
        shortcut = _conv_bn(x, filters, 1, strides, name=f"{name}_proj", folded=folded)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_out")(y)


def build_backbone(num_classes: int, config: ModelConfig = ModelConfig(), folded: bool = False,
                   blank_share: float | None = None) -> keras.Model:
    """The CRNN proper: uint8 image (B, H, W, C) → logits (B, T, num_classes).

    `folded` builds the inference form, with no BatchNormalization layers; `fold_batch_norm`
    fills it from a trained backbone. `blank_share` (0 < share < 1) starts the logits at that
    probability of the blank and the rest spread over the characters (`blank_prior_bias`).
    """
    config.validate()
    image = keras.Input((config.height, config.width, config.input_channels), dtype="uint8", name="image")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(image)
    filters = config.block_filters()
    x = _conv_bn(x, filters[0], 3, config.stem_stride, name="stem_conv", folded=folded)
    x = layers.ReLU(name="stem_relu")(x)
    for i, f in enumerate(filters):
        strides = (2, 2) if i < config.block_width_halvings else (2, 1)
        x = basic_block(x, f, strides, name=f"block{i + 1}", folded=folded)
    if x.shape[1] != 2:
        raise ValueError(f"height after the blocks is {x.shape[1]}, expected 2 (input height {config.height})")
    # The 2x5 kernel folds the last two rows into one and looks 2 columns to each side.
    x = layers.ZeroPadding2D(((0, 0), (2, 2)), name="final_pad")(x)
    x = _conv_bn(x, filters[-1], (2, 5), padding="valid", name="final_conv_2x5", folded=folded)
    x = layers.ReLU(name="final_relu")(x)
    if x.shape[1] != 1 or x.shape[2] != config.time_steps:
        raise ValueError(f"feature map is {tuple(x.shape[1:3])}, expected (1, {config.time_steps})")
    x = layers.Reshape((config.time_steps, filters[-1]), name="to_sequence")(x)
    x = layers.Dropout(config.dropout, name="dropout")(x)
    x = layers.Bidirectional(layers.GRU(config.gru_units, return_sequences=True), name="bigru")(x)
    # float32 even under mixed precision: softmax and CTC need its range.
    dense = layers.Dense(num_classes, dtype="float32", name="logits")
    logits = dense(x)
    if blank_share is not None:
        dense.bias.assign(blank_prior_bias(num_classes, blank_share))
    return keras.Model(image, logits, name=BACKBONE_NAME)


def blank_prior_bias(num_classes: int, blank_share: float) -> np.ndarray:
    """Logit biases (num_classes,) whose softmax is `blank_share` for the blank (class 0) and
    the rest split evenly over the characters.

    CTC's first epochs otherwise go to learning that most frames are blank; with many frames
    a character, the model then sat at the all-blank output for many epochs (bench/NOTES.md).
    Starting there costs nothing and the characters are learnt from the first steps.

    >>> np.round(np.exp(blank_prior_bias(3, 0.8)), 2)
    array([0.8, 0.1, 0.1], dtype=float32)
    """
    if not 0.0 < blank_share < 1.0 or num_classes < 2:
        raise ValueError(f"blank_share: expected 0 < share < 1 and ≥ 2 classes, received {blank_share}, {num_classes}")
    bias = np.full(num_classes, np.log((1.0 - blank_share) / (num_classes - 1)), dtype="float32")
    bias[0] = np.log(blank_share)
    return bias


def fold_batch_norm(backbone: keras.Model, config: ModelConfig) -> keras.Model:
    """The trained `backbone` for inference: each BatchNormalization merged into the Conv2D
    before it, so predict runs one op where it ran three (conv, scale, shift).

    Per output channel c: kernel'[..., c] = kernel[..., c] · γ_c / sqrt(var_c + ε) and
    bias'_c = β_c − mean_c · γ_c / sqrt(var_c + ε). Same outputs up to float rounding.
    """
    folded = build_backbone(backbone.output.shape[-1], config, folded=True)
    for layer in folded.layers:
        if not layer.weights:
            continue
        source = backbone.get_layer(layer.name)
        if isinstance(layer, layers.Conv2D):
            bn = backbone.get_layer(f"{layer.name}_bn")
            gamma, beta, mean, variance = (ops.convert_to_numpy(w) for w in
                                           (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance))
            scale = gamma / np.sqrt(variance + bn.epsilon)
            kernel = ops.convert_to_numpy(source.kernel)
            layer.set_weights([kernel * scale, beta - mean * scale])
        else:
            layer.set_weights(source.get_weights())
    return folded


class NormStatistics:
    """Sets the backbone's BatchNormalization moving statistics to those of given images.

    Training keeps moving statistics of its augmented batches (momentum 0.9: the last ten or
    so), while a reader sees clean images; measured on a real captcha set, validation read
    0.87–0.89 with those statistics and 0.93 with statistics of 200 clean training images,
    the same weights (bench/NOTES.md). `measure(images)` runs the layers up to the last
    BatchNormalization in training mode over `images`, in batches of about `pixels` pixels (100
    images at 64x160: memory stays bounded for larger inputs), with each norm's momentum set so
    that it keeps the mean of the batches' statistics, normalised as in training. Nothing is
    trained.

    Example:
    >>> stats = NormStatistics(backbone)  # doctest: +SKIP
    >>> stats.measure(clean_training_images)  # (N, H, W, C) uint8; then validate or save
    """

    def __init__(self, backbone: keras.Model, pixels: int = 100 * 64 * 160):
        self.norms = [layer for layer in backbone.layers if isinstance(layer, layers.BatchNormalization)]
        self.upto = keras.Model(backbone.input, self.norms[-1].output) if self.norms else None
        height, width = backbone.input.shape[1:3]
        # One eager call costs about a tenth of a second: few, large batches.
        self.batch_size = max(1, pixels // (height * width))

    def measure(self, images: np.ndarray) -> None:
        if self.upto is None or len(images) == 0:
            return
        momenta = [norm.momentum for norm in self.norms]
        try:
            for n, start in enumerate(range(0, len(images), self.batch_size), 1):
                for norm in self.norms:
                    norm.momentum = 1.0 - 1.0 / n  # the running mean of the batches' statistics
                self.upto(ops.convert_to_tensor(images[start:start + self.batch_size]), training=True)
        finally:
            for norm, momentum in zip(self.norms, momenta):
                norm.momentum = momentum
