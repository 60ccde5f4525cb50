"""Export a trained model.keras to TFLite: `python export_tflite.py --help`."""

import sys

from crnn_keras.cli import export_main

if __name__ == "__main__":
    sys.exit(export_main())
