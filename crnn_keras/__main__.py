import sys

from crnn_keras.cli import main

sys.exit(main())
