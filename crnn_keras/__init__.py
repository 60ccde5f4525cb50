"""crnn_keras: read the text in captcha and short text-line images (Keras 3 CRNN + CTC).

`import crnn_keras` registers the custom layers, so `keras.saving.load_model`
reads our `.keras` files with no `custom_objects`. Where TensorFlow is not
installed (a TFLite-only reader), the package still imports and
`crnn_keras.reader.Reader("model.tflite")` works with NumPy, Pillow and LiteRT.
"""

import importlib.util
import os

# Importing _quiet sets TF_CPP_MIN_LOG_LEVEL=3 unless the user set it (0 shows everything).
from crnn_keras._quiet import native_stderr_silenced

__version__ = "0.1.0"

# Image-decoding worker processes need Pillow only, not seconds and hundreds of MB of TensorFlow.
_DECODING_WORKER = os.environ.get("CRNN_KERAS_DECODING_WORKER") == "1"

if importlib.util.find_spec("tensorflow") is not None and not _DECODING_WORKER:
    with native_stderr_silenced():
        import tensorflow as _tf

        _tf.config.list_physical_devices()  # the CUDA probe logs here, inside the silence
        from crnn_keras.ctc import CTCLoss  # noqa: F401  (registers the layer)
        from crnn_keras.decode import CTCDecoder  # noqa: F401

from crnn_keras.reader import Reader, Reading, read_text  # noqa: E402

__all__ = ["Reader", "Reading", "read_text", "__version__"]
