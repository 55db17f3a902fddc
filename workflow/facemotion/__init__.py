"""Facial emotion recognition from speaker videos: the logic behind the Snakemake workflow."""

__version__ = "0.1.0"
