"""Training in leave-one-session-out folds: the seed's networks (``networks``), the folds and their
validation recordings (``folds``), the device a job trains on (``device``), the training options
(``params``: read without TensorFlow, so a job whose fold is skipped never starts it), the one training core
(``fitting``: TensorFlow's start, the data pipeline, the repeats, the epoch choice, the metadata)
and the two tasks it fits (``tasks``: classes, ratings), and the saved model that z-scores its own
input (``model``: saving, loading and applying it, which prediction uses without the fitting code).

May import from ``common``, ``corpora`` and ``extraction``."""
