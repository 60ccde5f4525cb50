"""Data: labelled files on disk, image decoding, data sources, and the tf.data pipeline."""
