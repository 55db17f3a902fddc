"""The final models applied to new recordings (``predict``): faces extracted as in training, then
the saved models (``facemotion.learning.model``); the fitting code is never imported.

May import from ``common``, ``corpora``, ``extraction`` and ``learning.model``."""
