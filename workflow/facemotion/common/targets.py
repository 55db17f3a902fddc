"""Prediction targets: the categorical emotion ``label`` and the ``activation`` / ``valence``
ratings, binned into three classes or learnt as ratings; their class names and their integer
encoding. Whether a target is learnt as classes or as a rating is decided here and nowhere else:
before training by :func:`learnt_as_rating`, after it by :func:`is_rating` on what training wrote."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

TARGETS = ("label", "activation", "valence")
# How tables, plots and the report's front page name each target.
TARGET_TITLES = {"label": "Emotion", "activation": "Activation", "valence": "Valence"}
BINNED_CLASSES = {
    "activation": ["low", "medium", "high"],
    "valence": ["negative", "neutral", "positive"],
}
EMOTIONS = ("Angry", "Happy", "Neutral", "Sad")  # the seed's four classes: the default `classes`
DEFAULT_LOW = 2.5
DEFAULT_HIGH = 3.5
DIMENSIONS = ("binned", "regression")  # config `dimensions`: activation and valence as classes or as ratings
RATING_TASK = "regression"  # the "task" of a rating target's fold info and model sidecar; a class target has none


def learnt_as_rating(target: str, dimensions: str) -> bool:
    """Whether ``target`` is learnt as a rating under config ``dimensions``: the emotion label is
    always a class."""
    if dimensions not in DIMENSIONS:
        raise ValueError(f"dimensions must be one of {DIMENSIONS}, got {dimensions!r}")
    return dimensions == "regression" and target != "label"


def is_rating(info) -> bool:
    """Whether a fold's info (``fold_*.info.json``) or a model's sidecar is a rating target's."""
    return info.get("task") == RATING_TASK


def target_classes(target: str, classes: Sequence[str] | None = None) -> list[str]:
    """Class names of ``target`` in model-output order.

    ``classes`` is the configured list of emotion labels; it is ignored for the binned targets.
    """
    if target == "label":
        return list(classes) if classes is not None else list(EMOTIONS)
    if target in BINNED_CLASSES:
        return list(BINNED_CLASSES[target])
    raise ValueError(f"unknown target {target!r}; expected one of {TARGETS}")


def bin_ratings(ratings, low: float = DEFAULT_LOW, high: float = DEFAULT_HIGH) -> np.ndarray:
    """Rating -> 0 (<= low), 1 (low < r < high), 2 (>= high); -1 where the rating is NaN."""
    if not low < high:
        raise ValueError(f"need low < high, got low={low}, high={high}")
    r = np.asarray(ratings, dtype=np.float64)
    codes = np.where(r <= low, 0, np.where(r >= high, 2, 1))
    return np.where(np.isnan(r), -1, codes).astype(np.int64)


def encode_target(
    meta: pd.DataFrame,
    target: str,
    classes: Sequence[str] | None = None,
    low: float = DEFAULT_LOW,
    high: float = DEFAULT_HIGH,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows usable for ``target`` and their integer class codes.

    Returns ``(mask, y)``: ``mask`` is a bool array over all rows of ``meta``; ``y`` (int64) has
    one entry per *selected* row (``len(y) == mask.sum()``), indexing ``target_classes(...)``.
    Label rows outside ``classes`` and rating rows without a value are left out.
    """
    names = target_classes(target, classes)
    if target == "label":
        labels = meta["label"].astype("string")
        codes = np.array([names.index(v) if v in names else -1 for v in labels.fillna("")])
    else:
        codes = bin_ratings(meta[target].to_numpy(dtype=np.float64, na_value=np.nan), low, high)
    mask = codes >= 0
    return mask, codes[mask].astype(np.int64)
