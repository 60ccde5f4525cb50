"""Explain how a model reads: the height shrinking to 1, each time step's vote, the CTC collapse."""
