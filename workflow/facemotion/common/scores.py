"""The two scores both training (to choose the epoch) and evaluation (to report) compute."""

from __future__ import annotations

import numpy as np


def uar(y_true, y_pred) -> float:
    """Unweighted average recall: the mean recall over the classes present in ``y_true``."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]))


def ccc(y_true, y_pred) -> float:
    """Lin's concordance correlation coefficient; NaN with fewer than two values or when both
    are constant at the same value (0 / 0)."""
    y, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if len(y) < 2:
        return np.nan
    covariance = np.mean((y - y.mean()) * (p - p.mean()))
    denominator = y.var() + p.var() + (y.mean() - p.mean()) ** 2
    return float(2.0 * covariance / denominator) if denominator > 0 else np.nan
