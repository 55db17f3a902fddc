"""Activation and valence as continuous ratings (``dimensions: regression``): the concordance
correlation coefficient and the other regression metrics, their intervals over folds, and the
ratings binned as the classification targets bin them.

- CCC (Lin 1989) = 2 cov(y, p) / (var(y) + var(p) + (mean(y) - mean(p))^2), with population
  (ddof 0) moments. It is 1 for perfect agreement and falls with any bias in location or scale,
  where Pearson's r does not.
- A fold's value is the metric of its test recordings, averaged over its training repeats (as for
  the UAR). ``ccc_fold_mean`` is the mean over folds, with the t-interval over folds of
  :mod:`facemotion.evaluation.statistics`.
- ``ccc`` is the CCC of all test recordings pooled over folds (the MSP-Podcast convention; per
  repeat, then averaged over repeats). Folds differ in their rating means, so it differs from
  the fold mean. Its interval is a delete-one-fold jackknife on Fisher's z = atanh(CCC) with
  t(F - 1), mapped back: the fold stays the unit of independence, as for every other interval,
  and z keeps the bounds inside (-1, 1) (Lin's own inference for the CCC is on z).
  ``tests/test_regression.py`` checks its coverage in a simulation with folds that differ.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from facemotion.common.scores import ccc
from facemotion.common.targets import BINNED_CLASSES, bin_ratings
from facemotion.evaluation.predictions import repeats_of
from facemotion.evaluation.statistics import LEVEL, t_interval

METRICS = ("ccc", "pearson", "rmse", "mae")


def fold_metrics(y_true, y_pred) -> dict[str, float]:
    """ccc, pearson (NaN where either side is constant), rmse and mae of one set of predictions."""
    y, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if len(y) == 0:
        return dict.fromkeys(METRICS, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        pearson = float(np.corrcoef(y, p)[0, 1]) if len(y) > 1 and y.std() > 0 and p.std() > 0 else np.nan
    return {"ccc": ccc(y, p), "pearson": pearson, "rmse": float(np.sqrt(np.mean((y - p) ** 2))),
            "mae": float(np.mean(np.abs(y - p)))}


def repeat_mean_metrics(frame: pd.DataFrame) -> dict[str, float]:
    """:func:`fold_metrics` of a fold's predictions, averaged over its training repeats."""
    per_repeat = [fold_metrics(rows["y_true"], rows["y_pred"]) for rows in repeats_of(frame)]
    return {name: float(np.mean([m[name] for m in per_repeat])) for name in METRICS}


def binned(frame: pd.DataFrame, target: str, low: float, high: float) -> pd.DataFrame:
    """The predictions with ``y_true`` and ``y_pred`` binned into ``target``'s classes, as the
    classification targets bin the ratings (<= low, between, >= high)."""
    names = np.asarray(BINNED_CLASSES[target], dtype=object)
    return frame.assign(y_true=names[bin_ratings(frame["y_true"].astype(float), low, high)],
                        y_pred=names[bin_ratings(frame["y_pred"].astype(float), low, high)])


def fold_ccc(table: pd.DataFrame, folds: Sequence[str]) -> np.ndarray:
    """(n_folds,) each fold's CCC averaged over repeats; NaN for a fold without test recordings."""
    values = np.full(len(folds), np.nan)
    for i, fold in enumerate(folds):
        rows = table[table["fold"].astype(str) == str(fold)]
        if len(rows):
            values[i] = repeat_mean_metrics(rows)["ccc"]
    return values


def pooled_ccc_interval(table: pd.DataFrame) -> tuple[float, float, float, int]:
    """The pooled CCC of a table of every fold's predictions (``fold``, ``recording``, ``y_true``,
    ``y_pred``, optional ``repeat``), averaged over repeats, and its delete-one-fold jackknife
    t-interval on Fisher's z: (ccc, low, high, folds)."""
    repeats = repeats_of(table, order=("fold", "recording"))
    folds = list(dict.fromkeys(repeats[0]["fold"].astype(str)))
    if not len(repeats[0]):
        return np.nan, np.nan, np.nan, 0
    full = float(np.mean([ccc(r["y_true"], r["y_pred"]) for r in repeats]))
    if len(folds) < 2:
        return full, np.nan, np.nan, len(folds)
    # Leaving out one fold at a time; each value is the repeats' mean, like the point estimate.
    left_out = np.array([np.mean([ccc(r.loc[r["fold"].astype(str) != fold, "y_true"],
                                      r.loc[r["fold"].astype(str) != fold, "y_pred"]) for r in repeats])
                         for fold in folds])
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        z, z_left_out = np.arctanh(np.clip(full, -1 + 1e-12, 1 - 1e-12)), np.arctanh(
            np.clip(left_out, -1 + 1e-12, 1 - 1e-12))
    n = len(folds)
    se = np.sqrt((n - 1) / n * np.sum((z_left_out - z_left_out.mean()) ** 2))
    half = stats.t.ppf(0.5 + LEVEL / 2, n - 1) * se
    return full, float(np.tanh(z - half)), float(np.tanh(z + half)), n


def ccc_summary(table: pd.DataFrame, folds: Sequence[str]) -> dict[str, float]:
    """summary.tsv's CCC columns of one target: ``ccc`` (pooled) and ``ccc_fold_mean``, each with
    its interval, and the other metrics' fold means."""
    ccc_pooled, low, high, _ = pooled_ccc_interval(table)
    fold_mean, fold_low, fold_high, _ = t_interval(fold_ccc(table, folds), (-1.0, 1.0))
    per_fold = [repeat_mean_metrics(table[table["fold"].astype(str) == str(f)]) for f in folds
                if (table["fold"].astype(str) == str(f)).any()]
    means = {name: float(np.mean([m[name] for m in per_fold])) if per_fold else np.nan
             for name in METRICS[1:]}
    return {"ccc": ccc_pooled, "ccc_ci_low": low, "ccc_ci_high": high, "ccc_fold_mean": fold_mean,
            "ccc_fold_mean_ci_low": fold_low, "ccc_fold_mean_ci_high": fold_high, **means}
