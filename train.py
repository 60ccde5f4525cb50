"""Train a CRNN on a folder of images named by their labels: `python train.py --help`."""

import sys

from crnn_keras.cli import train_main

if __name__ == "__main__":
    sys.exit(train_main())
