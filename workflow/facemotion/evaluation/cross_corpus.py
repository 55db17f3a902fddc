"""summary.tsv over several corpora (config `corpus` as a list; docs/cross_corpus.md): one row per
experiment, target and test corpus, naming the corpora its models trained on
(summary.corpus_summary_rows, with the helpers here).

A test corpus held out in several folds (cv.protocol loso or seed over several corpora, pooled)
gets the usual intervals over those folds. A test corpus that is one fold (cross_corpus,
leave_one_corpus_out) has no folds to vary: what varies in the claim "a model trained on A does
this well on new people of B" is the people of B and the training run. Its intervals are over the
test corpus's speakers, as if each were a fold: a t-interval of the speakers' metrics (each the
mean over the training repeats), its variance widened by the variance between the repeats' means
over the speakers (divided by the repeats), with the fewer degrees of freedom of the two parts,
min(speakers - 1, repeats - 1): the project's one rule (statistics.fewest_df_se), which held the
expected UAR of a training run in at least 93 % of simulated test corpora whose runs differ much,
where Welch-Satterthwaite's fell to 88 % (docs/cross_corpus.md#the-interval-of-a-test-corpus).
With one training run the runs' variance is not estimated: the interval is about the trained
model on new speakers of the corpus, and ``ci_note`` says so (:data:`SPEAKER_ONE_RUN_NOTE`).

comparison.tsv of a within-corpus and a cross-corpus experiment of the same test corpus (they test
its recordings in other folds): :func:`compare_across_folds`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from facemotion.evaluation.predictions import one_repeat
from facemotion.evaluation.statistics import (
    LEVEL,
    METRIC_NAMES,
    PROPORTION,
    fewest_df_se,
    metrics_from_counts,
    recall_from_counts,
    units_from_predictions,
)

SPEAKER_NOTE = ("one fold: intervals over the test corpus's speakers (each averaged over the repeats), widened by "
                "the variance between repeats; about new speakers of this corpus and retraining, not new corpora")
SPEAKER_ONE_RUN_NOTE = ("one fold, one training run: intervals over the test corpus's speakers, about this trained "
                        "model on new speakers of this corpus, not about training again (training.repeats >= 3 "
                        "includes it), nor new corpora")


def fold_groups(folds: Sequence[str], fold_corpora: Mapping[str, Mapping[str, str]]) \
        -> list[tuple[dict[str, str], list[str]]]:
    """The folds grouped by the corpora they train on and test, in fold order: a summary row each."""
    groups: dict[tuple[str, str], list[str]] = {}
    for fold in folds:
        corpora = fold_corpora.get(fold, {"train_corpora": "", "test_corpus": ""})
        groups.setdefault((corpora["train_corpora"], corpora["test_corpus"]), []).append(fold)
    return [({"train_corpora": train, "test_corpus": test}, members) for (train, test), members in groups.items()]


def by_speaker(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One fold's predictions split by speaker: each speaker as a fold of their own."""
    speakers = frame["speaker"].astype(str)
    return {speaker: frame[speakers == speaker] for speaker in sorted(speakers.unique())}


def _nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def speaker_repeat_interval(values: np.ndarray) -> tuple[float, float]:
    """The interval of the mean of ``values`` (repeats, speakers): over the speakers' repeat means,
    its variance widened by the repeats' variance, with min(speakers - 1, repeats - 1) degrees of
    freedom (see the module's docstring); cut to (0, 1).
    NaN with fewer than two speakers."""
    per_speaker = _nanmean(values, axis=0)
    per_speaker = per_speaker[np.isfinite(per_speaker)]
    n = len(per_speaker)
    if n < 2:
        return np.nan, np.nan
    mean = float(per_speaker.mean())
    between_speakers = per_speaker.var(ddof=1) / n
    repeats = values.shape[0]
    between_repeats = _nanmean(values, axis=1).var(ddof=1) / repeats if repeats > 1 else 0.0
    # The two variance estimates rest on n - 1 and repeats - 1 degrees of freedom: the fewer count.
    se, df = fewest_df_se([(between_speakers, n - 1), *([(between_repeats, repeats - 1)] if repeats > 1 else [])])
    if se == 0:
        return mean, mean
    half = stats.t.ppf(0.5 + LEVEL / 2, df) * se
    return max(mean - half, PROPORTION[0]), min(mean + half, PROPORTION[1])


def speaker_intervals(speaker_folds: Mapping[str, pd.DataFrame], classes: Sequence[str]) -> dict[str, float]:
    """The interval columns of a one-fold test corpus with its speakers as units (``speaker_folds``:
    as :func:`by_speaker` gives them)."""
    table = pd.concat([frame.assign(fold=speaker) for speaker, frame in speaker_folds.items()], ignore_index=True)
    fold_counts = units_from_predictions(table, classes, list(speaker_folds)).fold_counts()  # (repeats, S, k, k)
    per_repeat = metrics_from_counts(fold_counts)
    intervals = {}
    for name in METRIC_NAMES:
        intervals[f"{name}_ci_low"], intervals[f"{name}_ci_high"] = speaker_repeat_interval(per_repeat[name])
    recall = recall_from_counts(fold_counts)  # (repeats, S, k)
    for c, name in enumerate(classes):
        intervals[f"recall_{name}_ci_low"], intervals[f"recall_{name}_ci_high"] = \
            speaker_repeat_interval(recall[:, :, c])
    return intervals


# --------------------------------------------------------------------------- comparisons across folds


def tested_in_other_folds(reference: pd.DataFrame, other: pd.DataFrame) -> bool:
    """Whether recordings both experiments tested sit in folds of different names (pooled
    predictions with a ``fold`` column): a within-corpus experiment (a fold per session) beside a
    cross-corpus one (the test corpus one fold), paired by :func:`compare_across_folds`."""
    pairs = one_repeat(reference)[["recording", "fold"]].merge(one_repeat(other)[["recording", "fold"]],
                                                               on="recording")
    return bool((pairs["fold_x"].astype(str) != pairs["fold_y"].astype(str)).any())


def _group_uars(table: pd.DataFrame, common: pd.DataFrame, group: str, classes: Sequence[str]) -> np.ndarray:
    """(repeats, groups) UAR of ``table``'s predictions of ``common``'s recordings per ``group``."""
    kept = ["recording", "y_true", *([group] if group != "speaker" else [])]
    rows = table.drop(columns=["fold"]).merge(common[kept], on=["recording", "y_true"])
    rows = rows.assign(fold=rows[group].astype(str))
    groups = sorted(common[group].astype(str).unique())
    return metrics_from_counts(units_from_predictions(rows, classes, groups).fold_counts())["uar"]


def compare_across_folds(reference: pd.DataFrame, other: pd.DataFrame, classes: Sequence[str]) -> dict:
    """comparison.tsv's columns (n_test, delta_uar, its interval, ci_folds, p_value, note) of two
    experiments that test the same recordings in different folds (pooled predictions with a
    ``fold`` column, the reference first), on the recordings both tested with the same class.

    The units are the folds of the experiment with several (its folds' models vary independently),
    or the speakers where both test the corpus as one fold. Per unit, the difference of the two
    UARs on its common recordings (each averaged over its repeats); the variance of their mean is
    the differences' between the units over their number plus, for each side tested as one fold,
    the variance between its training runs' means over the units divided by its runs (its run shifts
    every unit alike, which the spread between units does not see). A t-interval and the two-sided
    p-value with the fewest degrees of freedom of those parts (statistics.fewest_df_se), as the
    interval of a test corpus tested as one fold."""
    keys = ["recording", "y_true"]
    common = one_repeat(reference)[[*keys, "fold", "speaker"]].merge(
        one_repeat(other)[[*keys, "fold"]], on=keys, suffixes=("_reference", "_other"))
    row = {"n_test": len(common), "delta_uar": np.nan, "delta_ci_low": np.nan, "delta_ci_high": np.nan,
           "ci_folds": 0, "p_value": np.nan}
    several = {side: common[f"fold_{side}"].nunique() > 1 for side in ("reference", "other")}
    if all(several.values()):
        return {**row, "note": "the two experiments test these recordings in folds that cut across each other: "
                               "no paired interval"}
    group = next((f"fold_{side}" for side, many in several.items() if many), "speaker")
    if group == "speaker" and not common["speaker"].astype(str).ne("").all():
        return {**row, "note": "both test these recordings as one fold, and the corpus does not name its speakers: "
                               "no paired interval"}
    uars = {side: _group_uars(table, common, group, classes)
            for side, table in (("reference", reference), ("other", other))}
    differences = _nanmean(uars["other"], axis=0) - _nanmean(uars["reference"], axis=0)
    differences = differences[np.isfinite(differences)]
    units = len(differences)
    if not units:
        return {**row, "note": "no recordings both tested"}
    delta = float(differences.mean())
    parts = [(differences.var(ddof=1) / units if units > 1 else np.nan, units - 1)]
    one_run = []
    for side, many in several.items():
        if many:
            continue
        runs = uars[side].shape[0]
        if runs > 1:
            parts.append((float(np.var(_nanmean(uars[side], axis=1), ddof=1)) / runs, runs - 1))
        else:
            one_run.append("the reference" if side == "reference" else "the experiment")
    unit_name = {"fold_reference": "the reference's folds", "fold_other": "the experiment's folds"}.get(group,
                                                                                                       "speakers")
    note = (f"tested in other folds: paired on the recordings both tested, over {units} of {unit_name}, each side's "
            "UAR per unit on those recordings (not summary.tsv's means), with the runs' variance of each side tested "
            "as one fold")
    if one_run:
        note += (f"; {' and '.join(one_run)} tested as one fold with one training run: its training randomness is "
                 "not in the interval (training.repeats >= 3 puts it in)")
    row.update(delta_uar=delta, ci_folds=units)
    if units < 2:
        return {**row, "note": note}
    se, df = fewest_df_se(parts)
    if se == 0:
        return {**row, "delta_ci_low": delta, "delta_ci_high": delta, "p_value": float(delta == 0), "note": note}
    half = stats.t.ppf(0.5 + LEVEL / 2, df) * se
    return {**row, "delta_ci_low": max(delta - half, -1.0), "delta_ci_high": min(delta + half, 1.0),
            "p_value": float(2 * stats.t.sf(abs(delta) / se, df)), "note": note}
