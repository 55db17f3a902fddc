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
  the fold mean. With few folds it is biased low: the spread between the folds' rating levels,
  which its moments include, is estimated from F fold means. Its interval is therefore centred on
  :func:`corrected_pooled_ccc`, the CCC of moments that correct that bias, and is a
  delete-one-fold jackknife of that estimate on Fisher's z = atanh(CCC) with t(F - 1), mapped
  back: the fold stays the unit of independence, as for every other interval, and z keeps the
  bounds inside (-1, 1) (Lin's own inference for the CCC is on z).
  ``tests/benchmarks/bench_ccc_coverage.py`` measures its coverage, and ``tests/test_regression.py``
  checks it, in simulations with folds that differ (docs/statistics.md).
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
    missing = int((~np.isfinite(frame[["y_true", "y_pred"]].to_numpy(dtype=float))).sum())
    if missing:  # bin_ratings codes NaN as -1, which would index the top bin
        raise ValueError(f"{target}: {missing} rating(s) or prediction(s) are not numbers (NaN) and cannot be binned; "
                         "a training that diverged predicts NaN (see its log's loss)")
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


def corrected_pooled_ccc(y_true, y_pred, folds) -> float:
    """The CCC of the population the folds are drawn from, with moments that correct the few-folds
    bias of the pooled CCC (the plain CCC with one fold, or with no recording left over).

    Ratings vary within folds (variance W, pooled over folds on N - F degrees of freedom) and
    between them (the folds' mean ratings, weighted by their shares w_f of the N recordings, spread
    by B). E[B] = s_b^2 (1 - sum w_f^2) + W (F - 1) / N, so s_b^2 = (B - W (F - 1) / N) / (1 - sum
    w_f^2); the variances and the covariance are W + s_b^2, and the squared difference of the mean
    rating and prediction loses its expected sampling part, s_b^2(difference) sum w_f^2 + W(difference) / N.
    """
    y, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    fold_ids, fold_index = np.unique(np.asarray(folds).astype(str), return_inverse=True)
    n_folds, n = len(fold_ids), len(y)
    if n_folds < 2 or n <= n_folds:
        return ccc(y, p)
    sizes = np.bincount(fold_index)
    weights = sizes / n

    def moment(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
        """(the population moment, its within-fold part, its between-fold part) of a and b."""
        a_means, b_means = np.bincount(fold_index, a) / sizes, np.bincount(fold_index, b) / sizes
        within = np.sum((a - a_means[fold_index]) * (b - b_means[fold_index])) / (n - n_folds)
        a_mean, b_mean = weights @ a_means, weights @ b_means
        between = weights @ ((a_means - a_mean) * (b_means - b_mean))
        spread = (between - within * (n_folds - 1) / n) / (1 - np.sum(weights**2))
        return within + spread, within, spread

    var_y, var_p, cov = moment(y, y)[0], moment(p, p)[0], moment(y, p)[0]
    _, within_difference, spread_difference = moment(y - p, y - p)
    squared_difference = ((y.mean() - p.mean()) ** 2 - spread_difference * np.sum(weights**2)
                          - within_difference / n)
    return float(2 * cov / (var_y + var_p + squared_difference))


def pooled_ccc_interval(table: pd.DataFrame) -> tuple[float, float, float, int]:
    """The pooled CCC of a table of every fold's predictions (``fold``, ``recording``, ``y_true``,
    ``y_pred``, optional ``repeat``), averaged over repeats, and the delete-one-fold jackknife
    t-interval on Fisher's z of :func:`corrected_pooled_ccc` (averaged over repeats), centred on
    that estimate: (ccc, low, high, folds)."""
    repeats = repeats_of(table, order=("fold", "recording"))
    folds = list(dict.fromkeys(repeats[0]["fold"].astype(str)))
    if not len(repeats[0]):
        return np.nan, np.nan, np.nan, 0
    full = float(np.mean([ccc(r["y_true"], r["y_pred"]) for r in repeats]))
    if len(folds) < 2:
        return full, np.nan, np.nan, len(folds)

    def corrected(kept: list[str]) -> float:
        # The repeats' mean, like the point estimate.
        return float(np.mean([corrected_pooled_ccc(r.loc[in_folds, "y_true"], r.loc[in_folds, "y_pred"],
                                                   r.loc[in_folds, "fold"])
                              for r in repeats for in_folds in [r["fold"].astype(str).isin(kept)]]))

    centre = corrected(folds)
    left_out = np.array([corrected([f for f in folds if f != fold]) for fold in folds])
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        z, z_left_out = (np.arctanh(np.clip(value, -1 + 1e-12, 1 - 1e-12)) for value in (centre, left_out))
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
    # Over the folds where a metric is defined (Pearson's r is not for constant predictions), as
    # metrics.tsv's mean row and ccc_fold_mean's interval take them.
    finite = {name: [m[name] for m in per_fold if np.isfinite(m[name])] for name in METRICS[1:]}
    means = {name: float(np.mean(values)) if values else np.nan for name, values in finite.items()}
    return {"ccc": ccc_pooled, "ccc_ci_low": low, "ccc_ci_high": high, "ccc_fold_mean": fold_mean,
            "ccc_fold_mean_ci_low": fold_low, "ccc_fold_mean_ci_high": fold_high, **means}
