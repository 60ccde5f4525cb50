"""Training: configs, the run folder, callbacks, and the pipeline from data to a saved reader."""
