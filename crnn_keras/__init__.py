"""crnn_keras: read the text in captcha and short text-line images (Keras 3 CRNN + CTC).

    from crnn_keras import Reader
    Reader("runs/captchas/model.keras").read(["x9g3a.png"])   # [Reading(text='x9g3a', confidence=0.98)]

Where Keras is installed, `import crnn_keras` registers the custom layers, so
`keras.saving.load_model` reads our `.keras` files with no `custom_objects`. Without it (a
TFLite-only install: NumPy, Pillow and LiteRT), the package still imports and
`Reader("reader.tflite")` works. Importing sets no environment variable and queries no device.
"""

import importlib.util
import os

from crnn_keras.quiet import native_stderr_silenced
from crnn_keras.version import __version__

# Image-decoding worker processes need Pillow only, not seconds and hundreds of MB of TensorFlow.
_DECODING_WORKER = os.environ.get("CRNN_KERAS_DECODING_WORKER") == "1"

if importlib.util.find_spec("keras") is not None and not _DECODING_WORKER:
    with native_stderr_silenced():  # TensorFlow's C++ start-up lines, printed while it loads
        import crnn_keras.model.ctc  # noqa: F401  (registers CTCLoss)
        import crnn_keras.model.decoder  # noqa: F401  (registers CTCDecoder)

from crnn_keras.runtime.reader import Reader, Reading, read_text  # noqa: E402

__all__ = ["Reader", "Reading", "read_text", "__version__"]
