"""The project's version, recorded in every run folder (`run.json`)."""

__version__ = "0.3.13"
