"""The CRNN: residual CNN that squeezes the height to 1, a GRU over the width, CTC.

    image (B, H, W, C) uint8
      → Rescaling, stem conv 3x3 (stride 2: half the height and width)
      → BasicBlock × n, each with stride 2 in height (the first few also in width)
      → height is now 2 → Conv 2x5 (valid in height) → height exactly 1
      → Reshape (B, T, F): width becomes time, channels become features
      → bidirectional GRU → Dense: logits (B, T, vocabulary + 1)

Class 0 of the logits is the CTC blank; class i ≥ 1 is `vocabulary[i - 1]`.
"""

from __future__ import annotations

import dataclasses
import json
import math

import keras
import numpy as np
from keras import layers, ops

from crnn_keras.ctc import CTCLoss
from crnn_keras.decode import CTCDecoder

BLANK_INDEX = 0
BACKBONE_NAME = "crnn"


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The shape of a CRNN; saved as JSON in each run folder.

    Attributes:
        height: input height; a power of two ≥ 8 so the blocks reach height 2.
        width: input width; a multiple of 2**width_halvings.
        stem_stride: 2 halves height and width in the stem, so no layer runs at
            the full input size (the costliest part of predict); 1 keeps them.
        channels: 1 (grayscale) or 3 (RGB).
        block_widths: filters of the last four BasicBlocks; for a taller input
            the first width repeats, for a shorter one the first blocks go.
        width_halvings: how many times the width is halved, the stem's included;
            time steps = width / 2**width_halvings. Training lowers it when the
            longest label needs more steps (`fit_labels`).
        rnn_units: GRU units per direction.
        dropout: before the GRU, during training only.
    """

    height: int = 64
    width: int = 160
    channels: int = 1
    stem_stride: int = 2
    block_widths: tuple[int, ...] = (16, 32, 64, 96)
    width_halvings: int = 3
    rnn_units: int = 96
    dropout: float = 0.2

    @property
    def time_steps(self) -> int:
        return self.width // 2**self.width_halvings

    @property
    def stem_halvings(self) -> int:
        return 1 if self.stem_stride == 2 else 0

    @property
    def num_blocks(self) -> int:
        return int(math.log2(self.height)) - 1 - self.stem_halvings

    @property
    def block_width_halvings(self) -> int:
        return self.width_halvings - self.stem_halvings

    def validate(self) -> None:
        if self.height < 8 or 2 ** int(math.log2(self.height)) != self.height:
            raise ValueError(
                f"height {self.height}: must be a power of two ≥ 8 (8, 16, 32, 64, …) so that "
                "halving blocks reach height 2 for the final 2x5 convolution"
            )
        if self.channels not in (1, 3):
            raise ValueError(f"channels {self.channels}: must be 1 (grayscale) or 3 (RGB)")
        if self.stem_stride not in (1, 2):
            raise ValueError(f"stem_stride {self.stem_stride}: must be 1 or 2")
        if not self.stem_halvings <= self.width_halvings <= self.num_blocks + self.stem_halvings:
            raise ValueError(
                f"width_halvings {self.width_halvings}: between {self.stem_halvings} (the stem) and "
                f"{self.num_blocks + self.stem_halvings} (the stem and {self.num_blocks} blocks)"
            )
        step = 2**self.width_halvings
        if self.width < 8 or self.width % step:
            raise ValueError(f"width {self.width}: must be a multiple of {step} and ≥ 8")

    def fit_labels(self, max_label_length: int) -> ModelConfig:
        """This config with the most width halvings (≤ width_halvings) whose time
        steps still hold 2·max_label_length+1 frames; none when no count does (the
        most time steps, so the error then names what the width allows).

        CTC needs 2·len+1 frames for a label of doubled letters, but more frames
        than that make its all-blank start last longer: on captcha_images_v2 with
        5-letter labels, 32 steps sat at the all-blank loss for up to 20 epochs and
        16 steps never did (bench/NOTES.md).
        """
        needed = 2 * max_label_length + 1
        fewest = self.stem_halvings
        for halvings in range(min(self.width_halvings, self.num_blocks + fewest), fewest - 1, -1):
            if self.width % 2**halvings == 0 and self.width // 2**halvings >= needed:
                return dataclasses.replace(self, width_halvings=halvings)
        return dataclasses.replace(self, width_halvings=fewest)

    def block_filters(self) -> list[int]:
        widths = list(self.block_widths)
        n = self.num_blocks
        return widths[-n:] if n <= len(widths) else [widths[0]] * (n - len(widths)) + widths

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        data = {k: v for k, v in data.items() if k in fields}
        data.setdefault("stem_stride", 1)  # run.json from before the strided stem
        if "block_widths" in data:
            data["block_widths"] = tuple(data["block_widths"])
        return cls(**data)


def _conv_bn(x, filters: int, kernel, strides=(1, 1), padding: str = "same", *, name: str, folded: bool):
    """Conv2D then BatchNormalization (named `name` and `name_bn`); with `folded`, one Conv2D
    with a bias that stands for both (see `fold_batch_norm`)."""
    x = layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=folded, name=name)(x)
    if folded:
        return x
    # Keras' default momentum 0.99 suits long runs; captcha sets give ~30 steps an epoch, and
    # moving statistics that lag that far make validation loss spike for many epochs.
    return layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)


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


def build_backbone(num_classes: int, config: ModelConfig = ModelConfig(), folded: bool = False) -> keras.Model:
    """The CRNN proper: uint8 image (B, H, W, C) → logits (B, T, num_classes).

    `folded` builds the inference form, with no BatchNormalization layers; `fold_batch_norm`
    fills it from a trained backbone.
    """
    config.validate()
    image = keras.Input((config.height, config.width, config.channels), dtype="uint8", name="image")
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
    x = layers.Bidirectional(layers.GRU(config.rnn_units, return_sequences=True), name="bigru")(x)
    logits = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(image, logits, name=BACKBONE_NAME)


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


def build_reader(backbone: keras.Model, vocabulary: list[str]) -> keras.Model:
    """Wraps the backbone with greedy decoding: the model users save and load.

    Output: {"text": (B,) string, "confidence": (B,) float32, "logits": (B, T, V + 1)}.
    """
    image = keras.Input(backbone.input_shape[1:], dtype="uint8", name="image")
    outputs = CTCDecoder(vocabulary, blank_index=BLANK_INDEX, name="decoder")(backbone(image))
    return keras.Model(image, outputs, name="crnn_reader")


def build_trainer(backbone: keras.Model, max_label_length: int) -> keras.Model:
    """The backbone with the CTC cost attached; inputs {"image", "labels"}.

    `labels` is (B, max_label_length) int32, padded with the blank index 0.
    """
    image = keras.Input(backbone.input_shape[1:], dtype="uint8", name="image")
    labels = keras.Input((max_label_length,), dtype="int32", name="labels")
    logits = CTCLoss(blank_index=BLANK_INDEX, name="ctc_loss")(labels, backbone(image))
    return keras.Model({"image": image, "labels": labels}, logits, name="crnn_trainer")


def find_backbone(model: keras.Model) -> keras.Model:
    """The shared CRNN inside a reader or trainer model."""
    for layer in model.layers:
        if isinstance(layer, keras.Model) and layer.name == BACKBONE_NAME:
            return layer
    raise ValueError(f"model {model.name!r} holds no {BACKBONE_NAME!r} backbone: not a crnn_keras model")


def find_decoder(model: keras.Model) -> CTCDecoder:
    """The decoder layer of a reader model, which carries the vocabulary."""
    for layer in model.layers:
        if isinstance(layer, CTCDecoder):
            return layer
    raise ValueError(f"model {model.name!r} holds no CTCDecoder: not a crnn_keras reader model")
