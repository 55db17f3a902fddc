"""Uncertainty of the cross-validated metrics: speaker bootstrap, permutation tests, paired comparison.

Everything works on confusion counts per *unit*, a speaker within a test fold: a resample or a
swap only reweights units, and every metric is a function of the resulting confusion matrices,
so 2,000 resamples cost a few matrix products instead of 2,000 passes over the recordings.

- Metrics are fold means, as in ``metrics.tsv``: per fold, accuracy, UAR (mean recall over the
  classes present in the fold's test set) and macro F1 (over the classes present in the test set
  or the predictions, as sklearn); then the mean over the folds that have test recordings.
- Bootstrap: within each fold, its speakers are drawn with replacement (as many as it has) and
  all their test recordings taken; the 95 % interval is the 2.5th and 97.5th percentile of the
  resampled fold means. Speakers, not recordings, are the independent units of a speaker-
  independent evaluation.
- ``p_chance``: labels permuted within each test fold with the predictions fixed; under that
  null the expected UAR is exactly chance (1 / classes). p = (1 + #{permuted >= observed}) /
  (1 + permutations).
- Paired comparison of two systems on the same test recordings: the same bootstrap draws for
  both (interval of the UAR difference), and a permutation test that swaps the two systems'
  predictions speaker by speaker (two-sided p-value of the UAR difference).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

METRIC_NAMES = ("uar", "accuracy", "f1_macro")


def metrics_from_counts(counts: np.ndarray) -> dict[str, np.ndarray]:
    """accuracy, uar and f1_macro of confusion counts (..., k, k) (rows = true class).

    NaN where there are no recordings. Matches ``evaluation.fold_metrics`` on the same counts.
    """
    counts = np.asarray(counts, dtype=np.float64)
    true = counts.sum(axis=-1)
    predicted = counts.sum(axis=-2)
    hits = np.diagonal(counts, axis1=-2, axis2=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        present = true > 0
        recall = np.where(present, hits / np.where(present, true, 1.0), 0.0)
        uar = recall.sum(axis=-1) / present.sum(axis=-1)
        # F1 of a class is 2 tp / (true + predicted); sklearn averages the classes in either.
        either = (true + predicted) > 0
        f1 = np.where(either, 2.0 * hits / np.where(either, true + predicted, 1.0), 0.0)
        f1_macro = f1.sum(axis=-1) / either.sum(axis=-1)
        accuracy = hits.sum(axis=-1) / true.sum(axis=-1)
    return {"uar": uar, "accuracy": accuracy, "f1_macro": f1_macro}


@dataclass
class Units:
    """Confusion counts per speaker within a test fold."""

    folds: np.ndarray  # (u,) fold index of each unit, 0..n_folds-1
    speakers: list[str]  # (u,) speaker of each unit
    counts: np.ndarray  # (u, k, k) int64
    n_folds: int


def class_codes(values, classes: Sequence[str], what: str) -> np.ndarray:
    """Class names -> indices into ``classes``; an unknown name is an error naming it."""
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(v) for v in values} - set(index))
    if unknown:
        raise ValueError(f"{what}: classes {unknown} are not among {list(classes)}")
    return np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))


def units_from_predictions(frame: pd.DataFrame, classes: Sequence[str], folds: Sequence[str]) -> Units:
    """Units of a predictions table with ``fold``, ``speaker``, ``y_true`` and ``y_pred`` columns.

    ``folds`` lists every fold in order, including folds without test recordings (they hold no
    units and drop out of the fold means).
    """
    k = len(classes)
    fold_index = {f: i for i, f in enumerate(folds)}
    keys = frame[["fold", "speaker"]].astype(str).drop_duplicates().sort_values(["fold", "speaker"])
    unit_of = {key: i for i, key in enumerate(map(tuple, keys.to_numpy()))}
    unit = np.fromiter((unit_of[key] for key in zip(frame["fold"].astype(str), frame["speaker"].astype(str))),
                       dtype=np.int64, count=len(frame))
    true = class_codes(frame["y_true"].tolist(), classes, "y_true")
    predicted = class_codes(frame["y_pred"].tolist(), classes, "y_pred")
    counts = np.bincount(unit * k * k + true * k + predicted, minlength=len(unit_of) * k * k)
    return Units(folds=np.array([fold_index[f] for f, _ in unit_of], dtype=np.int64),
                 speakers=[s for _, s in unit_of], counts=counts.reshape(len(unit_of), k, k), n_folds=len(folds))


def fold_means(weights: np.ndarray, units: Units) -> dict[str, np.ndarray]:
    """Fold-mean metrics for each row of unit ``weights`` (r, u): one value per row."""
    k = units.counts.shape[-1]
    flat = units.counts.reshape(len(units.folds), k * k).astype(np.float64)
    fold_counts = np.stack([weights[:, units.folds == fold] @ flat[units.folds == fold]
                            for fold in range(units.n_folds)], axis=1).reshape(len(weights), units.n_folds, k, k)
    per_fold = metrics_from_counts(fold_counts)
    # Folds without test recordings are NaN and left out, as in metrics.tsv's mean row (a
    # target without any test recording stays NaN, which nanmean would warn about).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return {name: np.nanmean(values, axis=1) for name, values in per_fold.items()}


def bootstrap_weights(unit_folds: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(n_resamples, u): how often each unit is drawn when each fold's speakers are resampled."""
    weights = np.zeros((n_resamples, len(unit_folds)))
    for fold in np.unique(unit_folds):
        members = np.flatnonzero(unit_folds == fold)
        weights[:, members] = rng.multinomial(len(members), np.full(len(members), 1.0 / len(members)),
                                              size=n_resamples)
    return weights


def percentile_interval(values: np.ndarray) -> tuple[float, float]:
    if np.all(np.isnan(values)):
        return np.nan, np.nan
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return float(low), float(high)


def bootstrap_summary(units: Units, n_resamples: int, seed: int) -> dict[str, float]:
    """Fold-mean metrics with their 95 % speaker-bootstrap intervals (``uar``, ``uar_ci_low``, ...)."""
    observed = fold_means(np.ones((1, len(units.folds))), units)
    resampled = fold_means(bootstrap_weights(units.folds, n_resamples, np.random.default_rng(seed)), units)
    summary = {}
    for name in METRIC_NAMES:
        summary[name] = float(observed[name][0])
        summary[f"{name}_ci_low"], summary[f"{name}_ci_high"] = percentile_interval(resampled[name])
    return summary


def permutation_p_chance(true: np.ndarray, predicted: np.ndarray, folds: np.ndarray, n_classes: int,
                         n_permutations: int, seed: int) -> float:
    """p-value of "UAR no better than chance": class codes permuted within folds, predictions fixed."""
    rng = np.random.default_rng(seed)
    k = n_classes
    fold_ids = np.unique(folds)
    if not len(fold_ids):
        return np.nan
    observed = np.empty(len(fold_ids))
    permuted = np.empty((n_permutations, len(fold_ids)))
    for column, fold in enumerate(fold_ids):
        fold_true, fold_predicted = true[folds == fold], predicted[folds == fold]
        observed[column] = metrics_from_counts(
            np.bincount(fold_true * k + fold_predicted, minlength=k * k).reshape(k, k))["uar"]
        shuffled = rng.permuted(np.tile(fold_true, (n_permutations, 1)), axis=1)
        cells = np.arange(n_permutations)[:, None] * k * k + shuffled * k + fold_predicted
        counts = np.bincount(cells.ravel(), minlength=n_permutations * k * k).reshape(n_permutations, k, k)
        permuted[:, column] = metrics_from_counts(counts)["uar"]
    # A small tolerance, so that a permutation equal to the observed value counts as reaching it.
    reached = permuted.mean(axis=1) >= observed.mean() - 1e-12
    return float((1 + reached.sum()) / (1 + n_permutations))


def paired_comparison(reference: Units, other: Units, n_resamples: int, seed: int) -> dict[str, float]:
    """UAR of ``other`` minus ``reference`` on the same units, its 95 % interval and p-value.

    Both must hold the same units (speakers in folds, in the same order) built from the same
    test recordings and true classes.
    """
    if reference.speakers != other.speakers or not np.array_equal(reference.folds, other.folds):
        raise ValueError("a paired comparison needs the same speakers in the same folds")
    rng = np.random.default_rng(seed)
    n_units = len(reference.folds)
    ones = np.ones((1, n_units))
    delta = fold_means(ones, other)["uar"][0] - fold_means(ones, reference)["uar"][0]
    weights = bootstrap_weights(reference.folds, n_resamples, rng)
    resampled = fold_means(weights, other)["uar"] - fold_means(weights, reference)["uar"]
    # Under "no difference" the two systems are exchangeable speaker by speaker: swap each
    # speaker's predictions between them at random.
    swapped = rng.integers(0, 2, size=(n_resamples, n_units)).astype(np.float64)
    # Both systems' units side by side: weights (1 - s, s) pick the reference side, (s, 1 - s) the other.
    both = Units(np.concatenate([reference.folds, other.folds]), reference.speakers * 2,
                 np.concatenate([reference.counts, other.counts]), reference.n_folds)
    swapped_delta = (fold_means(np.concatenate([swapped, 1.0 - swapped], axis=1), both)["uar"]
                     - fold_means(np.concatenate([1.0 - swapped, swapped], axis=1), both)["uar"])
    extreme = np.abs(swapped_delta) >= abs(delta) - 1e-12
    low, high = percentile_interval(resampled)
    p_value = (1 + extreme.sum()) / (1 + n_resamples) if np.isfinite(delta) else np.nan
    return {"delta_uar": float(delta), "delta_ci_low": low, "delta_ci_high": high, "p_value": float(p_value)}
