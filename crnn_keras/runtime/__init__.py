"""Reading text with a saved model: `.keras` (needs TensorFlow) or `.tflite` (NumPy, Pillow, LiteRT)."""
