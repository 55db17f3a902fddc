"""Facial emotion recognition from speaker videos: the logic behind the Snakemake workflow.

The package is laid out by the stages a run goes through; each folder may import only from the
folders above it in this list (tests/test_layout.py computes the import graph and holds it):

- ``common``: what every stage shares (targets, files, logs, plain values, the scores).
- ``corpora``: reading a corpus into the normalised manifest; the synthetic demo corpus.
- ``extraction``: faces from videos or frame folders, the per-recording cache, the feature table.
- ``learning``: the networks, the one training core, classes and ratings as its two tasks, the
  saved model.
- ``evaluation``: class metrics, rating metrics, statistics and the summary tables.
- ``report``: every figure and the report's front page.
- ``prediction``: the final models applied to new recordings (never the fitting code).

``config`` (the configuration checked against the JSON schema) and ``__main__`` (the command
line) sit on top and may use any stage. The folders' ``__init__`` modules import nothing, so that
importing one module of a stage loads only what that module needs.
"""

__version__ = "0.1.0"
