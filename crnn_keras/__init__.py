"""crnn_keras: read the text in captcha and short text-line images (Keras 3 CRNN + CTC).

`import crnn_keras` registers the custom layers, so `keras.saving.load_model`
reads our `.keras` files with no `custom_objects`. Where TensorFlow is not
installed (a TFLite-only reader), the package still imports and
`crnn_keras.reader.Reader("model.tflite")` works with NumPy, Pillow and LiteRT.
"""

import importlib.util
import os

from crnn_keras._quiet import native_stderr_silenced

# TensorFlow's C++ start-up lines (CUDA probing on CPU machines, oneDNN notes) are
# noise for users; set TF_CPP_MIN_LOG_LEVEL yourself (0 shows all) to see them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"

if importlib.util.find_spec("tensorflow") is not None:
    with native_stderr_silenced():
        import tensorflow as _tf

        _tf.config.list_physical_devices()  # the CUDA probe logs here, inside the silence
        from crnn_keras.ctc import CTCLoss  # noqa: F401  (registers the layer)
        from crnn_keras.decode import CTCDecoder  # noqa: F401

from crnn_keras.reader import Reader, Reading, read_text  # noqa: E402

__all__ = ["Reader", "Reading", "read_text", "__version__"]
