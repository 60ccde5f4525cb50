"""The baseline we measure against: the Keras example "OCR model for reading Captchas".

Re-expressed in our code so both models share one data pipeline, CTC layer and
evaluator. Its final Dense gives logits rather than softmax probabilities: our CTC
layer applies log-softmax itself, so the loss is the same.

    image (B, 50, 200, 1) uint8 → Rescaling → Permute to (200, 50, 1): width first
      → Conv 32 3x3 ReLU + MaxPool 2 → Conv 64 3x3 ReLU + MaxPool 2    (50, 12, 64)
      → Reshape (50, 768) → Dense 64 ReLU → Dropout 0.2
      → BiLSTM 128 → BiLSTM 64 (dropout 0.25 each) → Dense(vocabulary + 1)
"""

from __future__ import annotations

import keras
from keras import layers

from crnn_keras.model.backbone import BACKBONE_NAME
from crnn_keras.model.config import ModelConfig

HEIGHT, WIDTH = 50, 200


def time_steps(width: int) -> int:
    """Two 2x2 max-pools: one time step per 4 columns."""
    return width // 4


def build_keras_example(num_classes: int, height: int = HEIGHT, width: int = WIDTH) -> keras.Model:
    """uint8 image (B, height, width, 1) → logits (B, width / 4, num_classes)."""
    image = keras.Input((height, width, 1), dtype="uint8", name="image")
    x = layers.Rescaling(1.0 / 255.0)(image)
    x = layers.Permute((2, 1, 3), name="width_first")(x)
    x = layers.Conv2D(32, 3, activation="relu", kernel_initializer="he_normal", padding="same", name="Conv1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, 3, activation="relu", kernel_initializer="he_normal", padding="same", name="Conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Reshape((time_steps(width), (height // 4) * 64), name="reshape")(x)
    x = layers.Dense(64, activation="relu", name="dense1")(x)
    x = layers.Dropout(0.2)(x)
    x = layers.Bidirectional(layers.LSTM(128, return_sequences=True, dropout=0.25))(x)
    x = layers.Bidirectional(layers.LSTM(64, return_sequences=True, dropout=0.25))(x)
    logits = layers.Dense(num_classes, name="dense2")(x)
    return keras.Model(image, logits, name=BACKBONE_NAME)


class KerasExampleBuilder:
    """Trains the Keras example through crnn_keras.train.trainer.train (its `builder`)."""

    def check(self, config: ModelConfig) -> None:
        pass

    def configure(self, config: ModelConfig, max_label_length: int, train_images: int) -> ModelConfig:
        return config

    def build(self, num_classes: int, config: ModelConfig, mean_label_length: float | None = None) -> keras.Model:
        return build_keras_example(num_classes, config.height, config.width)

    def for_inference(self, backbone: keras.Model, config: ModelConfig) -> keras.Model:
        return backbone


def constant_adam(cfg, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The example's optimizer: Adam at a constant learning rate."""
    return keras.optimizers.Adam(cfg.learning_rate)


# The example's recipe, as keyword arguments of train().
RECIPE = dict(builder=KerasExampleBuilder(), make_optimizer=constant_adam, monitor="val_loss", early_stop_after=0.0)
