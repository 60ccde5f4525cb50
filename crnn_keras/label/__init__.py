"""Labelling: a local web page where the model pre-labels and a person corrects."""
