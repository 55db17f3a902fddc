"""summary.tsv over several corpora (config `corpus` as a list; docs/cross_corpus.md): one row per
experiment, target and test corpus, naming the corpora its models trained on
(summary.corpus_summary_rows, with the helpers here).

A test corpus held out in several folds (cv.protocol loso or seed over several corpora, pooled)
gets the usual intervals over those folds. A test corpus that is one fold (cross_corpus,
leave_one_corpus_out) has no folds to vary: what varies in the claim "a model trained on A does
this well on new people of B" is the people of B and the training run. Its intervals are over the
test corpus's speakers, as if each were a fold: a t-interval of the speakers' metrics (each the
mean over the training repeats), its variance widened by the variance between the repeats' means
over the speakers (divided by the repeats), with Welch-Satterthwaite's degrees of freedom
(docs/statistics.md#cross-corpus-tests).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from facemotion.evaluation.statistics import (
    LEVEL,
    METRIC_NAMES,
    PROPORTION,
    metrics_from_counts,
    recall_from_counts,
    units_from_predictions,
)

SPEAKER_NOTE = ("one fold: intervals over the test corpus's speakers (each averaged over the repeats), widened by "
                "the variance between repeats; about new speakers of this corpus and retraining, not new corpora")


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
    its variance widened by the repeats' variance (see the module's docstring); cut to (0, 1).
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
    variance = between_speakers + between_repeats
    if variance == 0:
        return mean, mean
    # Welch-Satterthwaite: the two variance estimates have n - 1 and repeats - 1 degrees of freedom.
    terms = between_speakers ** 2 / (n - 1) + (between_repeats ** 2 / (repeats - 1) if repeats > 1 else 0.0)
    half = stats.t.ppf(0.5 + LEVEL / 2, variance ** 2 / terms) * np.sqrt(variance)
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
