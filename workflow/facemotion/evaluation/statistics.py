"""Uncertainty of the cross-validated metrics: t-intervals over folds (the unit of independence),
a bootstrap of the test clips where the corpus does not name its speakers, tests against chance,
and the paired comparison of two systems. docs/statistics.md states the method, why, and the
simulated coverage that justifies it (``tests/benchmarks/bench_coverage.py``); each function here
says what it computes."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

METRIC_NAMES = ("uar", "accuracy", "f1_macro")
LEVEL = 0.95
# The fewest folds the coverage simulation checked (IEMOCAP's 5 sessions and the 5 actor folds of
# RAVDESS and CREMA-D); fewer folds get a t-interval too, and a note in summary.tsv.
SIMULATED_FOLDS = 5
PROPORTION = (0.0, 1.0)  # the range of every metric here (not of their differences)


def metrics_from_counts(counts: np.ndarray) -> dict[str, np.ndarray]:
    """accuracy, uar and f1_macro of confusion counts (..., k, k) (rows = true class).

    NaN where there are no recordings. Matches ``class_metrics.fold_metrics`` on the same counts.
    """
    counts = np.asarray(counts, dtype=np.float64)
    true = counts.sum(axis=-1)
    predicted = counts.sum(axis=-2)
    hits = np.diagonal(counts, axis1=-2, axis2=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        present = true > 0
        recall = np.where(present, hits / np.where(present, true, 1.0), 0.0)
        uar = recall.sum(axis=-1) / present.sum(axis=-1)
        # F1 of a class is 2 tp / (true + predicted), averaged over the classes present, as the UAR.
        f1 = np.where(present, 2.0 * hits / np.where(present, true + predicted, 1.0), 0.0)
        f1_macro = f1.sum(axis=-1) / present.sum(axis=-1)
        accuracy = hits.sum(axis=-1) / true.sum(axis=-1)
    return {"uar": uar, "accuracy": accuracy, "f1_macro": f1_macro}


def recall_from_counts(counts: np.ndarray) -> np.ndarray:
    """Recall per class (..., k) of confusion counts (..., k, k); NaN for a class without recordings."""
    counts = np.asarray(counts, dtype=np.float64)
    true = counts.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(true > 0, np.diagonal(counts, axis1=-2, axis2=-1) / true, np.nan)


@dataclass
class Units:
    """Confusion counts per training repeat and per speaker within a test fold."""

    folds: np.ndarray  # (u,) fold index of each unit, 0..n_folds-1
    speakers: list[str]  # (u,) speaker of each unit
    counts: np.ndarray  # (repeats, u, k, k) int64
    n_folds: int

    @property
    def repeats(self) -> int:
        return self.counts.shape[0]

    def fold_counts(self) -> np.ndarray:
        """(repeats, n_folds, k, k): the counts of each fold, per repeat."""
        k = self.counts.shape[-1]
        out = np.zeros((self.repeats, self.n_folds, k, k), dtype=np.int64)
        np.add.at(out, (slice(None), self.folds), self.counts)
        return out


def class_codes(values, classes: Sequence[str], what: str) -> np.ndarray:
    """Class names -> indices into ``classes``; an unknown name is an error naming it."""
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(v) for v in values} - set(index))
    if unknown:
        raise ValueError(f"{what}: classes {unknown} are not among {list(classes)}")
    return np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))


def units_from_predictions(frame: pd.DataFrame, classes: Sequence[str], folds: Sequence[str]) -> Units:
    """Units of a predictions table with ``fold``, ``speaker``, ``y_true``, ``y_pred`` and optional
    ``repeat`` columns.

    ``folds`` lists every fold in order, including folds without test recordings (they hold no
    units and drop out of the fold means). Every repeat must test the same recordings.
    """
    k = len(classes)
    fold_index = {f: i for i, f in enumerate(folds)}
    repeat = frame["repeat"].astype(int).to_numpy() if "repeat" in frame else np.zeros(len(frame), np.int64)
    repeat_values = np.unique(repeat) if len(frame) else np.zeros(1, np.int64)
    repeat_index = np.searchsorted(repeat_values, repeat)
    keys = frame[["fold", "speaker"]].astype(str).drop_duplicates().sort_values(["fold", "speaker"])
    unit_of = {key: i for i, key in enumerate(map(tuple, keys.to_numpy()))}
    unit = np.fromiter((unit_of[key] for key in zip(frame["fold"].astype(str), frame["speaker"].astype(str))),
                       dtype=np.int64, count=len(frame))
    true = class_codes(frame["y_true"].tolist(), classes, "y_true")
    predicted = class_codes(frame["y_pred"].tolist(), classes, "y_pred")
    u, r = len(unit_of), len(repeat_values)
    cells = ((repeat_index * u + unit) * k + true) * k + predicted
    counts = np.bincount(cells, minlength=r * u * k * k).reshape(r, u, k, k)
    true_per_repeat = counts.sum(axis=-1)
    if (true_per_repeat != true_per_repeat[:1]).any():
        raise ValueError(f"repeats {repeat_values.tolist()} do not test the same recordings: every repeat of a "
                         "fold must predict the same test set")
    return Units(folds=np.array([fold_index[f] for f, _ in unit_of], dtype=np.int64),
                 speakers=[s for _, s in unit_of], counts=counts, n_folds=len(folds))


def _nanmean(values: np.ndarray, axis) -> np.ndarray:
    # Folds without test recordings are NaN and left out, as in metrics.tsv's mean row (a target
    # without any test recording stays NaN, which nanmean would warn about).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)




def t_interval(values: np.ndarray, bounds: tuple[float, float] = (-np.inf, np.inf)) -> tuple[float, float, float, int]:
    """Mean of the finite ``values`` and its t-interval at ``LEVEL``: (mean, low, high, n), the
    interval cut to ``bounds`` (a proportion's (0, 1): cutting changes no coverage, as the true
    value lies within them).

    With fewer than two values there is no spread to estimate: the bounds are NaN.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    n = len(values)
    if n == 0:
        return np.nan, np.nan, np.nan, 0
    mean = float(values.mean())
    if n < 2:
        return mean, np.nan, np.nan, n
    half = stats.t.ppf(0.5 + LEVEL / 2, n - 1) * values.std(ddof=1) / np.sqrt(n)
    return mean, float(max(mean - half, bounds[0])), float(min(mean + half, bounds[1])), n


def t_test_p(values: np.ndarray, alternative: str) -> float:
    """p-value of the one-sample t-test of "mean 0" (``alternative``: ``greater`` or ``two-sided``)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return np.nan
    sd = values.std(ddof=1)
    if sd == 0:  # every fold the same: the sign of the mean decides
        mean = values.mean()
        return float(mean == 0) if alternative == "two-sided" else float(mean <= 0)
    return float(stats.ttest_1samp(values, 0.0, alternative=alternative).pvalue)


def interval_summary(units: Units, classes: Sequence[str]) -> dict[str, float]:
    """Per metric: the fold mean, its interval (``_ci_low``, ``_ci_high``) and the standard deviation
    across repeats of the fold mean (``_repeat_sd``, NaN with one repeat); ``ci_folds``, the folds
    the intervals rest on; per class the recall and its interval; ``p_chance_speakers``."""
    fold_counts = units.fold_counts()
    per_repeat = metrics_from_counts(fold_counts)  # {metric: (repeats, n_folds)}, NaN for untested folds
    summary: dict[str, float] = {"repeats": units.repeats}
    n_folds = 0
    for name in METRIC_NAMES:
        mean, low, high, n_folds = t_interval(_nanmean(per_repeat[name], axis=0), PROPORTION)
        repeat_means = _nanmean(per_repeat[name], axis=1)
        repeat_sd = float(np.std(repeat_means, ddof=1)) if units.repeats > 1 and n_folds else np.nan
        summary.update({name: mean, f"{name}_ci_low": low, f"{name}_ci_high": high, f"{name}_repeat_sd": repeat_sd})
    summary["ci_folds"] = n_folds
    recall = _nanmean(recall_from_counts(fold_counts), axis=0)  # (n_folds, k)
    for c, name in enumerate(classes):
        mean, low, high, _ = t_interval(recall[:, c], PROPORTION)
        summary.update({f"recall_{name}": mean, f"recall_{name}_ci_low": low, f"recall_{name}_ci_high": high})
    # A fold's chance UAR is 1 / the classes present in its test set (the UAR averages those).
    present = (fold_counts[0].sum(axis=-1) > 0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        above_chance = _nanmean(per_repeat["uar"], axis=0) - np.where(present > 0, 1.0 / present, np.nan)
    summary["p_chance_speakers"] = t_test_p(above_chance, "greater")
    return summary


def clip_bootstrap(true: np.ndarray, predicted: np.ndarray, folds: np.ndarray, n_classes: int,
                   resamples: int, seed: int) -> np.ndarray:
    """Confusion counts (resamples, repeats, folds, k, k) of a bootstrap of test clips within each fold.

    ``true`` (n,), ``folds`` (n,) and ``predicted`` (repeats, n) class and fold codes; each clip
    carries its prediction from every repeat. Each resample draws as many clips as the fold has,
    with replacement: drawing the counts of the distinct (true, predicted per repeat) combinations
    from a multinomial, which costs the same for any number of clips.
    """
    rng = np.random.default_rng(seed)
    k = n_classes
    predicted = np.atleast_2d(predicted)
    fold_ids = np.unique(folds)
    counts = np.zeros((resamples, len(predicted), len(fold_ids), k * k))
    for column, fold in enumerate(fold_ids):
        in_fold = folds == fold
        combinations, frequency = np.unique(np.vstack([true[in_fold], predicted[:, in_fold]]).T, axis=0,
                                            return_counts=True)
        draws = rng.multinomial(int(in_fold.sum()), frequency / frequency.sum(), size=resamples)
        for r in range(len(predicted)):
            # Each confusion cell of this repeat sums the draws of the combinations that fall in it.
            cell = combinations[:, 0] * k + combinations[:, 1 + r]
            order = np.argsort(cell, kind="stable")
            starts = np.flatnonzero(np.r_[True, np.diff(cell[order]) != 0])
            counts[:, r, column, cell[order][starts]] = np.add.reduceat(draws[:, order], starts, axis=1)
    return counts.reshape(resamples, len(predicted), len(fold_ids), k, k)


def _fold_mean(values: np.ndarray) -> np.ndarray:
    """(resamples, repeats, folds) -> (resamples,): the mean over folds of the repeat means."""
    return _nanmean(_nanmean(values, axis=1), axis=1)


def _percentile_interval(statistic: np.ndarray) -> tuple[float, float]:
    statistic = statistic[np.isfinite(statistic)]
    if not len(statistic):
        return np.nan, np.nan
    low, high = np.percentile(statistic, [50 * (1 - LEVEL), 50 * (1 + LEVEL)])
    return float(low), float(high)


def _clip_values(counts: np.ndarray, classes: Sequence[str]) -> dict[str, np.ndarray]:
    """Every metric and each class's recall (``recall_<class>``) of confusion counts (..., k, k)."""
    values = dict(metrics_from_counts(counts))
    recall = recall_from_counts(counts)
    values.update({f"recall_{name}": recall[..., c] for c, name in enumerate(classes)})
    return values


def _repeat_variance(values: np.ndarray) -> float:
    """The variance between training repeats of the fold-mean statistic: ``values`` (repeats, folds)."""
    per_repeat = _nanmean(values, axis=1)
    per_repeat = per_repeat[np.isfinite(per_repeat)]
    return float(np.var(per_repeat, ddof=1)) if len(per_repeat) > 1 else np.nan


def fewest_df_se(parts: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Standard error and degrees of freedom of an estimate whose variance is a sum of estimated
    parts, for a t-interval: ``parts`` holds (variance of the estimate's part, the degrees of
    freedom it rests on; ``np.inf`` for a part taken as known, as a bootstrap variance of
    thousands of resamples is). The degrees of freedom are the fewest of the parts' (Hsu's
    conservative answer to the Behrens-Fisher problem): (estimate - truth) / se is then no more
    spread than t(fewest) whatever the ratio of the parts, and exactly t(fewest) where that
    part dominates. Welch-Satterthwaite degrees of freedom, estimated from the parts themselves,
    fall short where one part rests on 1 or 2 degrees of freedom (a small variance by chance also
    raises them): the runs' part of the clip interval and of a cross-corpus test's interval
    (docs/cross_corpus.md#one-rule-for-the-degrees-of-freedom) is the project's one rule."""
    return float(np.sqrt(sum(variance for variance, _ in parts))), min(df for _, df in parts)


def runs_se(bootstrap_variance: float, repeat_variances: Sequence[tuple[float, int]]) -> tuple[float, int]:
    """Standard error and degrees of freedom of a mean over training runs, for a t-interval.

    The variance is ``bootstrap_variance`` (of the test clips, given the trained models: thousands
    of resamples behind it, so taken as known) plus, per system, s_r^2 / R: ``repeat_variances``
    holds (s_r^2, R), the variance between that system's R runs. The degrees of freedom are the
    fewest runs' R - 1 (:func:`fewest_df_se`; for two systems, Hsu's conservative solution of the
    Behrens-Fisher problem).
    """
    se, df = fewest_df_se([(bootstrap_variance, np.inf),
                           *((spread / repeats, repeats - 1) for spread, repeats in repeat_variances)])
    return se, int(df)


def clip_intervals(true: np.ndarray, predicted: np.ndarray, folds: np.ndarray, classes: Sequence[str],
                   resamples: int, seed: int) -> dict[str, float]:
    """Intervals at ``LEVEL`` of every metric and each class's recall (``<name>_ci_low``,
    ``<name>_ci_high``) of the statistic :func:`interval_summary` reports: the mean over folds of the
    repeat-mean fold value. ``predicted`` (repeats, n).

    With one repeat, the percentile interval of :func:`clip_bootstrap`: about these trained models
    on more clips like these. With R >= 2 repeats, about the expected value of a training run: the
    statistic +- t(R - 1) * sqrt(its bootstrap variance + s_r^2 / R), s_r^2 the variance between
    the repeats' fold means (:func:`runs_se`), cut to [0, 1].
    """
    predicted = np.atleast_2d(predicted)
    repeats = len(predicted)
    resampled = _clip_values(clip_bootstrap(true, predicted, folds, len(classes), resamples, seed), classes)
    as_tested = _clip_values(_counts(true, predicted, folds, len(classes)), classes)
    out = {}
    for name, values in resampled.items():
        statistic = _fold_mean(values)
        if repeats == 1:
            out[f"{name}_ci_low"], out[f"{name}_ci_high"] = _percentile_interval(statistic)
            continue
        estimate = float(_fold_mean(as_tested[name][None])[0])
        statistic = statistic[np.isfinite(statistic)]
        if not np.isfinite(estimate) or len(statistic) < 2:
            out[f"{name}_ci_low"] = out[f"{name}_ci_high"] = np.nan
            continue
        se, df = runs_se(float(np.var(statistic, ddof=1)), [(_repeat_variance(as_tested[name]), repeats)])
        half = stats.t.ppf(0.5 + LEVEL / 2, df) * se
        out[f"{name}_ci_low"] = float(max(estimate - half, PROPORTION[0]))
        out[f"{name}_ci_high"] = float(min(estimate + half, PROPORTION[1]))
    return out


def paired_clip_comparison(true: np.ndarray, reference: np.ndarray, other: np.ndarray, folds: np.ndarray,
                           n_classes: int, resamples: int, seed: int) -> dict[str, float]:
    """:func:`paired_comparison` where the unit is the clip: the same resampled clips score both
    systems (``reference`` and ``other``: (repeats, n) predicted codes).

    With R >= 2 repeats on both sides, about the expected UARs of training runs: the variance of
    the difference is its bootstrap variance plus s_A^2 / R_A + s_B^2 / R_B (each system's variance
    between its runs), the interval and the two-sided p-value from t with the fewer runs' R - 1
    degrees of freedom (:func:`runs_se`). With one repeat on either side, about these trained models only: the
    percentile interval, and the p-value twice the smaller share of resampled differences on
    either side of 0.
    """
    reference, other = np.atleast_2d(reference), np.atleast_2d(other)
    both = np.vstack([reference, other])
    uar = metrics_from_counts(clip_bootstrap(true, both, folds, n_classes, resamples, seed))["uar"]
    differences = _fold_mean(uar[:, len(reference):]) - _fold_mean(uar[:, :len(reference)])
    reference_uar = metrics_from_counts(_counts(true, reference, folds, n_classes))["uar"]
    other_uar = metrics_from_counts(_counts(true, other, folds, n_classes))["uar"]
    observed = float((_fold_mean(other_uar[None]) - _fold_mean(reference_uar[None]))[0])
    row = {"delta_uar": observed, "ci_folds": len(np.unique(folds))}
    differences = differences[np.isfinite(differences)]
    if len(reference) >= 2 and len(other) >= 2 and len(differences) > 1 and np.isfinite(observed):
        se, df = runs_se(float(np.var(differences, ddof=1)), [(_repeat_variance(reference_uar), len(reference)),
                                                               (_repeat_variance(other_uar), len(other))])
        half = stats.t.ppf(0.5 + LEVEL / 2, df) * se
        p_value = 2 * stats.t.sf(abs(observed) / se, df) if se > 0 else float(observed == 0)
        # a difference of two UARs lies in [-1, 1]
        return {**row, "delta_ci_low": max(observed - half, -1.0), "delta_ci_high": min(observed + half, 1.0),
                "p_value": float(min(1.0, p_value))}
    low, high = _percentile_interval(differences)
    share_below = float(np.mean(differences <= 0)) if len(differences) else np.nan
    share_above = float(np.mean(differences >= 0)) if len(differences) else np.nan
    return {**row, "delta_ci_low": low, "delta_ci_high": high, "p_value": min(1.0, 2 * min(share_below, share_above))}


def _counts(true: np.ndarray, predicted: np.ndarray, folds: np.ndarray, k: int) -> np.ndarray:
    """(repeats, folds, k, k) confusion counts of the clips as they are."""
    fold_ids = np.unique(folds)
    fold_index = np.searchsorted(fold_ids, folds)
    out = np.zeros((len(predicted), len(fold_ids), k * k))
    for r, repeat in enumerate(predicted):
        np.add.at(out[r], (fold_index, true * k + repeat), 1)
    return out.reshape(len(predicted), len(fold_ids), k, k)


def permutation_p_chance(true: np.ndarray, predicted: np.ndarray, folds: np.ndarray, n_classes: int,
                         n_permutations: int, seed: int) -> float:
    """p-value of "UAR no better than chance": class codes permuted within folds, predictions fixed.

    ``true`` (n,), ``folds`` (n,); ``predicted`` (n,) or (repeats, n): each permutation of the
    labels is applied to every repeat, and the statistic is the repeat-mean of the fold-mean UAR.
    """
    rng = np.random.default_rng(seed)
    k = n_classes
    predicted = np.atleast_2d(predicted)
    fold_ids = np.unique(folds)
    if not len(fold_ids):
        return np.nan
    observed = np.empty((len(predicted), len(fold_ids)))
    permuted = np.empty((len(predicted), n_permutations, len(fold_ids)))
    for column, fold in enumerate(fold_ids):
        fold_true = true[folds == fold]
        shuffled = rng.permuted(np.tile(fold_true, (n_permutations, 1)), axis=1)
        for r, repeat_predicted in enumerate(predicted):
            fold_predicted = repeat_predicted[folds == fold]
            observed[r, column] = metrics_from_counts(
                np.bincount(fold_true * k + fold_predicted, minlength=k * k).reshape(k, k))["uar"]
            cells = np.arange(n_permutations)[:, None] * k * k + shuffled * k + fold_predicted
            counts = np.bincount(cells.ravel(), minlength=n_permutations * k * k).reshape(n_permutations, k, k)
            permuted[r, :, column] = metrics_from_counts(counts)["uar"]
    # A small tolerance, so that a permutation equal to the observed value counts as reaching it.
    reached = permuted.mean(axis=(0, 2)) >= observed.mean() - 1e-12
    return float((1 + reached.sum()) / (1 + n_permutations))


def paired_comparison(reference: Units, other: Units) -> dict[str, float]:
    """UAR of ``other`` minus ``reference`` on the same test recordings: the fold mean of the per-fold
    differences (each system's UAR averaged over its repeats), its t-interval over folds and the
    two-sided paired t-test's p-value."""
    reference_counts, other_counts = reference.fold_counts(), other.fold_counts()
    if reference.n_folds != other.n_folds or not np.array_equal(reference_counts[0].sum(axis=-1),
                                                                 other_counts[0].sum(axis=-1)):
        raise ValueError("a paired comparison needs the same test recordings in the same folds")
    differences = (_nanmean(metrics_from_counts(other_counts)["uar"], axis=0)
                   - _nanmean(metrics_from_counts(reference_counts)["uar"], axis=0))
    delta, low, high, n_folds = t_interval(differences, (-1.0, 1.0))  # a difference of two UARs
    return {"delta_uar": delta, "delta_ci_low": low, "delta_ci_high": high, "ci_folds": n_folds,
            "p_value": t_test_p(differences, "two-sided")}


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN stays NaN and is not counted)."""
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = len(order)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted
