"""Export: a trained reader → a TFLite model with the decoder in its graph."""
