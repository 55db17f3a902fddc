"""The tables a publication needs, over every experiment (rule summarise, ``python -m facemotion summarise``).

- ``summary.tsv``: per experiment and target, the fold means of ``metrics.tsv`` (averaged over
  training repeats) with 95 % t-intervals over folds (over test clips where the corpus does not
  name its speakers: ``ci_note`` says what they are about), the spread between repeats, the
  baselines, tests against chance and each class's recall with its interval;
- ``speakers.tsv``: per experiment, target and speaker, the speaker's own metrics and recalls;
- ``comparison.tsv``: every experiment after the first against the first (the reference), paired
  on the test recordings both predicted, with Holm-corrected p-values over the file and a
  ``note`` where a p-value ignores training randomness (over test clips, one training run);
- ``plots/comparison.png``: UAR with its interval per experiment and target (a forest plot).

The statistics are in :mod:`facemotion.evaluation.statistics`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from facemotion.common.files import read_json
from facemotion.common.targets import BINNED_CLASSES, is_rating, target_classes
from facemotion.common.values import natural_key
from facemotion.corpora.manifest import speaker_independent as speakers_in_one_fold
from facemotion.corpora.manifest import speakers_known
from facemotion.evaluation.class_metrics import OFFICIAL_COLUMNS, aggregate, official_fold_scores
from facemotion.evaluation.cross_corpus import (
    SPEAKER_NOTE,
    SPEAKER_ONE_RUN_NOTE,
    by_speaker,
    compare_across_folds,
    fold_groups,
    speaker_intervals,
    tested_in_other_folds,
)
from facemotion.evaluation.predictions import (
    classes_from_predictions,
    fold_files,
    one_repeat,
    read_predictions,
    repeats_of,
)
from facemotion.evaluation.rating_metrics import binned, ccc_summary, fold_ccc, repeat_mean_metrics
from facemotion.evaluation.statistics import (
    LEVEL,
    METRIC_NAMES,
    SIMULATED_FOLDS,
    class_codes,
    clip_intervals,
    holm,
    interval_summary,
    metrics_from_counts,
    paired_clip_comparison,
    paired_comparison,
    permutation_p_chance,
    t_interval,
    t_test_p,
    units_from_predictions,
)

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ["experiment", "target", "n_test", "repeats",
                   *(f"{m}{suffix}" for m in METRIC_NAMES for suffix in ("", "_ci_low", "_ci_high", "_repeat_sd")),
                   "ci_folds", "ci_over", "ci_note", "majority_accuracy", "majority_uar", "chance_uar", "p_chance",
                   "p_chance_speakers"]  # then recall_<class>, recall_<class>_ci_low, _ci_high per class
COMPARISON_COLUMNS = ["experiment", "reference", "target", "n_test", "delta_uar", "delta_ci_low",
                      "delta_ci_high", "ci_folds", "p_value", "p_holm", "note"]
# With rating targets (dimensions: regression) only.
RATING_COLUMNS = ["ccc", "ccc_ci_low", "ccc_ci_high", "ccc_fold_mean", "ccc_fold_mean_ci_low", "ccc_fold_mean_ci_high",
                  "pearson", "rmse", "mae", "uar_binned", "uar_binned_ci_low", "uar_binned_ci_high"]
CCC_COMPARISON_COLUMNS = ["delta_ccc", "delta_ccc_ci_low", "delta_ccc_ci_high", "p_value_ccc", "p_holm_ccc"]
PREDICTION_COLUMNS = ("recording", "speaker", "y_true", "y_pred")


@dataclass
class TargetResults:
    """One target's test predictions of one experiment, fold by fold (in fold order)."""

    folds: dict[str, pd.DataFrame]  # fold -> predictions (recording, speaker, y_true, y_pred, repeat ...)
    classes: list[str]
    train_counts: dict[str, Sequence[int]] | None = None  # fold -> training counts per class (majority baseline)
    # A rating target (dimensions: regression): y_true and y_pred are ratings, binned at these (low, high)
    # into ``classes`` for the binned UAR; None for classes.
    thresholds: tuple[float, float] | None = None

    def binned(self, target: str) -> TargetResults:
        """The predictions as classes: a rating target's binned, a class target's as they are."""
        if self.thresholds is None:
            return self
        return TargetResults({fold: binned(frame, target, *self.thresholds) for fold, frame in self.folds.items()},
                             self.classes, self.train_counts)


def pooled(folds: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One target's fold predictions as one table with a ``fold`` column."""
    frames = [frame.assign(fold=str(fold)) for fold, frame in folds.items()]
    return pd.concat(frames, ignore_index=True)


CLIP_NOTE = ("speakers unknown: intervals from a bootstrap of the test clips, about these trained models only "
             "(on more clips like these), not about training again, nor about new speakers")
CLIP_RUNS_NOTE = ("speakers unknown: intervals from a bootstrap of the test clips and the spread between the {repeats} "
                  "training runs, about the expected result of a training run (on more clips like these); not about "
                  "new speakers")
# comparison.tsv's note where a p-value over clips rests on one training run of either experiment.
ONE_RUN_COMPARISON_NOTE = ("one training run: the p-value and interval are about these trained models only and ignore "
                           "training randomness (a seed's luck can make it small); use training.repeats >= 2 in both")


# ci_note's part where the folds share speakers (the front page reads it to say what the interval is about).
SPANNING_NOTE = "speakers span folds: the interval is about new recordings of these speakers, not new speakers"


def ci_note(n_folds: int, speaker_independent: bool, clips: bool = False, repeats: int = 1) -> str:
    """Where the intervals do not keep their stated level, or mean something else, say so."""
    if clips:
        return CLIP_NOTE if repeats < 2 else CLIP_RUNS_NOTE.format(repeats=repeats)
    notes = []
    if n_folds < 2:
        notes.append(f"{n_folds} fold(s) with test recordings: no interval")
    elif n_folds < SIMULATED_FOLDS:
        notes.append(f"only {n_folds} folds: coverage was simulated from {SIMULATED_FOLDS} folds up, and the "
                     f"interval rests on {n_folds - 1} degree(s) of freedom")
    if not speaker_independent:
        notes.append(SPANNING_NOTE)
    return "; ".join(notes)


def summarise_target(experiment: str, target: str, results: TargetResults, resamples: int, seed: int,
                     speaker_independent: bool = True) -> dict:
    """One row of summary.tsv."""
    if results.thresholds is not None:
        return summarise_ratings(experiment, target, results, resamples, seed, speaker_independent)
    classes, folds = results.classes, results.folds
    table = pooled(folds)
    units = units_from_predictions(table, classes, list(folds))
    by_repeat = repeats_of(table, order=("fold", "recording"))
    tested = by_repeat[0]
    baselines = aggregate({(target, fold): frame for fold, frame in folds.items()},
                          {(target, fold): counts for fold, counts in (results.train_counts or {}).items()},
                          classes=classes)
    mean = baselines[baselines["fold"] == "mean"].iloc[0]
    fold_index = {fold: i for i, fold in enumerate(folds)}
    predicted = np.stack([class_codes(rows["y_pred"].tolist(), classes, "y_pred") for rows in by_repeat])
    p_chance = permutation_p_chance(class_codes(tested["y_true"].tolist(), classes, "y_true"), predicted,
                                    tested["fold"].map(fold_index).to_numpy(dtype=np.int64), len(classes),
                                    resamples, seed)
    intervals = interval_summary(units, classes)
    clips = not speakers_known(table)
    # Also where the folds given share a speaker (prediction folders from elsewhere); without
    # speaker ids the clip note applies instead.
    speaker_independent = speaker_independent and speakers_in_one_fold(table, "fold")
    if clips:
        intervals.update(clip_intervals(class_codes(tested["y_true"].tolist(), classes, "y_true"), predicted,
                                        tested["fold"].map(fold_index).to_numpy(dtype=np.int64), classes,
                                        resamples, seed))
    if clips or not speaker_independent:
        intervals["p_chance_speakers"] = np.nan  # a test about new speakers: there are none to generalise to
    over = ("clips and runs" if units.repeats > 1 else "clips") if clips else "folds"
    return {"experiment": experiment, "target": target, "n_test": len(tested), **intervals, "ci_over": over,
            "ci_note": ci_note(intervals["ci_folds"], speaker_independent, clips, units.repeats),
            "majority_accuracy": mean["majority_accuracy"], "majority_uar": mean["majority_uar"],
            "chance_uar": 1.0 / len(classes), "p_chance": p_chance}


def corpus_summary_rows(experiment: str, target: str, results: TargetResults,
                        fold_corpora: Mapping[str, Mapping[str, str]], resamples: int, seed: int,
                        speaker_independent: bool = True,
                        official: Mapping[str, Mapping[str, int]] | None = None) -> list[dict]:
    """Several corpora: the rows of one target, one per test corpus with the corpora it trained on;
    a test corpus of one fold with its speakers as the units (:mod:`facemotion.evaluation.cross_corpus`).
    ``official`` ({fold: {class: test recordings}}): each row scores its own folds' official lists."""
    rows = []
    for corpora, folds in fold_groups(list(results.folds), fold_corpora):
        part = TargetResults({fold: results.folds[fold] for fold in folds}, results.classes,
                             {fold: counts for fold, counts in (results.train_counts or {}).items() if fold in folds},
                             results.thresholds)
        scored = official_scores(part, {fold: official[fold] for fold in folds if fold in official}) \
            if official else {}
        frame = results.folds[folds[0]]
        if len(folds) == 1 and part.thresholds is None and frame["speaker"].astype(str).ne("").all():
            speaker_folds = by_speaker(frame)
            counts = (part.train_counts or {}).get(folds[0])
            part = TargetResults(speaker_folds, part.classes,
                                 None if counts is None else dict.fromkeys(speaker_folds, counts))
            row = summarise_target(experiment, target, part, resamples, seed, speaker_independent)
            runs = row["repeats"] > 1
            row.update(speaker_intervals(speaker_folds, part.classes),
                       ci_over="speakers and runs" if runs else "speakers",
                       ci_note=SPEAKER_NOTE if runs else SPEAKER_ONE_RUN_NOTE)
        else:
            row = summarise_target(experiment, target, part, resamples, seed, speaker_independent)
        rows.append({**corpora, **row, **scored})
    return rows


def official_scores(results: TargetResults, counts: Mapping[str, Mapping[str, int]]) -> dict:
    """UAR and WAR over every test recording of ``counts`` ({fold: {class: recordings}}), a recording
    without a prediction (dropped by the extraction) counted as a miss (:func:`official_fold_scores`),
    averaged over the folds with test recordings; with n_official and n_dropped summed over them."""
    empty = pd.DataFrame(columns=["y_true", "y_pred"])
    folds = [official_fold_scores(results.folds.get(fold, empty), per_class, results.classes)
             for fold, per_class in counts.items()]
    tested = [scores for scores in folds if scores["n_official"]]
    return {"n_official": sum(f["n_official"] for f in folds), "n_dropped": sum(f["n_dropped"] for f in folds),
            "uar_official": float(np.mean([f["uar_official"] for f in tested])) if tested else np.nan,
            "war_official": float(np.mean([f["war_official"] for f in tested])) if tested else np.nan}


def speaker_rows(experiment: str, target: str, results: TargetResults) -> list[dict]:
    """Rows of speakers.tsv: per speaker of each fold, n_test, uar, accuracy and recall per class
    (over the repeats' predictions together); for a rating target n_test, ccc and rmse (averaged over
    the repeats). None where the corpus does not name its speakers."""
    if not speakers_known(pooled(results.folds)):
        return []
    if results.thresholds is not None:
        return [{"experiment": experiment, "target": target, "speaker": speaker, "fold": fold,
                 "n_test": len(one_repeat(rows)),
                 **{name: value for name, value in repeat_mean_metrics(rows).items() if name in ("ccc", "rmse")}}
                for fold, frame in results.folds.items() for speaker, rows in frame.groupby("speaker", sort=True)]
    classes = results.classes
    units = units_from_predictions(pooled(results.folds), classes, list(results.folds))
    fold_names = list(results.folds)
    rows = []
    for fold, speaker, counts in zip(units.folds, units.speakers, units.counts.sum(axis=0)):
        metrics = metrics_from_counts(counts)
        true = counts.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = np.where(true > 0, np.diag(counts) / true, np.nan)
        rows.append({"experiment": experiment, "target": target, "speaker": speaker, "fold": fold_names[fold],
                     "n_test": int(counts.sum()) // units.repeats, "uar": float(metrics["uar"]),
                     "accuracy": float(metrics["accuracy"]), **{f"recall_{c}": r for c, r in zip(classes, recall)}})
    return rows


def compare_target(reference: str, experiment: str, target: str, reference_results: TargetResults,
                   results: TargetResults, resamples: int = 2000, seed: int = 0) -> dict:
    """One row of comparison.tsv: ``experiment`` against ``reference`` on the recordings both tested.

    Pairs need the same true class: recordings the two label differently (other classes or
    binning) are left out, and so are recordings only one of them tested. A rating target is
    compared on its binned predictions (``delta_uar``); two rating targets also on the CCC
    (:func:`compare_ccc`).
    """
    if reference_results.thresholds is not None or results.thresholds is not None:
        row = compare_target(reference, experiment, target, reference_results.binned(target), results.binned(target),
                             resamples, seed)
        if reference_results.thresholds is not None and results.thresholds is not None:
            row.update(compare_ccc(reference_results, results))
        return row
    ours, theirs = pooled(reference_results.folds), pooled(results.folds)
    if tested_in_other_folds(ours, theirs):  # a within-corpus and a cross-corpus experiment, say
        return {"experiment": experiment, "reference": reference, "target": target,
                **compare_across_folds(ours, theirs, list(dict.fromkeys(reference_results.classes + results.classes)))}
    common = (one_repeat(ours)[["fold", "recording", "y_true"]]
              .merge(one_repeat(theirs)[["fold", "recording", "y_true"]], on=["fold", "recording", "y_true"]))
    classes = list(dict.fromkeys(reference_results.classes + results.classes))
    fold_names = list(reference_results.folds)
    keys = ["fold", "recording", "y_true"]
    row = {"experiment": experiment, "reference": reference, "target": target, "n_test": len(common)}
    if not speakers_known(ours):
        common = common.sort_values(["fold", "recording"], kind="stable")
        folds = common["fold"].map({f: i for i, f in enumerate(fold_names)}).to_numpy(dtype=np.int64)
        true = class_codes(common["y_true"].tolist(), classes, "y_true")
        reference_codes, codes = _repeat_codes(ours, common, classes), _repeat_codes(theirs, common, classes)
        note = ONE_RUN_COMPARISON_NOTE if min(len(reference_codes), len(codes)) < 2 else ""
        return {**row, **paired_clip_comparison(true, reference_codes, codes, folds, len(classes), resamples, seed),
                "note": note}
    reference_units = units_from_predictions(ours.merge(common, on=keys), classes, fold_names)
    units = units_from_predictions(theirs.merge(common, on=keys), classes, fold_names)
    return {**row, **paired_comparison(reference_units, units), "note": ""}


def _repeat_codes(table: pd.DataFrame, common: pd.DataFrame, classes: Sequence[str]) -> np.ndarray:
    """(repeats, n) predicted class codes of ``table``'s repeats for ``common``'s rows, in its order."""
    order = common[["fold", "recording"]]
    return np.stack([class_codes(order.merge(rows, on=["fold", "recording"], how="left")["y_pred"].tolist(),
                                 classes, "y_pred") for rows in repeats_of(table, order=("fold", "recording"))])


def write_summary(experiments: Mapping[str, Mapping[str, TargetResults]], summary_path, speakers_path,
                  comparison_path, resamples: int, seed: int, speaker_independent: bool = True,
                  protocols: Mapping[str, str] | None = None,
                  official: Mapping[str, Mapping[str, Mapping[str, int]]] | None = None,
                  fold_corpora: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None) -> pd.DataFrame:
    """Write the three tables. ``experiments``: name -> {target: results}, the reference first.
    Returns the summary table (:func:`forest_table` turns it into the forest plot's).
    ``protocols``: a benchmark run's experiment -> "official N-class protocol" or "not the official
    ..." (corpora.reading.protocol_of), written as a ``protocol`` column after ``target`` and said
    in the log, and ``war`` (weighted average recall: the accuracy) before ``accuracy``; without
    it (every other corpus) the table has neither column. ``official``: experiment -> {fold: {class:
    test recordings}} (cv.dropped_test_clips miss): its ``label`` row adds n_official, n_dropped,
    uar_official and war_official after ``n_test`` (:func:`official_scores`). ``fold_corpora``:
    several corpora, experiment -> fold -> its train_corpora and test_corpus: a summary row per test
    corpus, both named after ``target`` in summary.tsv and speakers.tsv
    (:mod:`facemotion.evaluation.cross_corpus`)."""
    summary, speakers, comparisons = [], [], []
    protocols = protocols or {}
    for name, targets in experiments.items():
        if protocols.get(name, "").startswith("not "):
            log.warning("%s: %s; these numbers cannot be put beside the benchmark's published results "
                        "(classes: all runs the official protocol)", name, protocols[name])
        for target, results in targets.items():
            counts = (official or {}).get(name) if target == "label" else None
            if fold_corpora:  # a row per test corpus, each scoring its own folds' official lists
                summary.extend(corpus_summary_rows(name, target, results, fold_corpora.get(name, {}), resamples,
                                                   seed, speaker_independent, counts))
            else:
                summary.append(summarise_target(name, target, results, resamples, seed, speaker_independent))
                if counts:
                    summary[-1].update(official_scores(results, counts))
            speakers.extend(speaker_rows(name, target, results))
    reference, *others = list(experiments)
    for name in others:
        for target, results in experiments[name].items():
            if target in experiments[reference]:
                comparisons.append(compare_target(reference, name, target, experiments[reference][target], results,
                                                  resamples, seed))
    recall_columns = list(dict.fromkeys(key for row in summary for key in row if key.startswith("recall_")))
    # The rating targets' columns only where there are some: a run of classes has no empty CCC columns.
    rating_columns = RATING_COLUMNS if any("ccc" in row for row in summary) else []
    columns = SUMMARY_COLUMNS + rating_columns + recall_columns
    if official:
        columns[columns.index("n_test") + 1:columns.index("n_test") + 1] = OFFICIAL_COLUMNS
    summary_rows, summary = summary, pd.DataFrame(summary, columns=columns)
    if protocols:  # a benchmark run: its protocol, and the accuracy under the name papers print it by
        summary.insert(2, "protocol", summary["experiment"].map(protocols).fillna(""))
        summary.insert(summary.columns.get_loc("accuracy"), "war", summary["accuracy"])
    speakers = pd.DataFrame(speakers)
    if fold_corpora:  # several corpora: the corpora each row's models trained on and tested
        for position, column in enumerate(("train_corpora", "test_corpus"), start=2):
            summary.insert(position, column, [row.get(column, "") for row in summary_rows])
            if len(speakers):
                speakers.insert(position, column, [fold_corpora[experiment][fold][column] for experiment, fold
                                                   in zip(speakers["experiment"], speakers["fold"])])
    summary.round(4).to_csv(summary_path, sep="\t", index=False)
    speakers.round(4).to_csv(speakers_path, sep="\t", index=False)
    ccc_columns = CCC_COMPARISON_COLUMNS if any("delta_ccc" in row for row in comparisons) else []
    comparison = pd.DataFrame(comparisons, columns=COMPARISON_COLUMNS[:-1] + ccc_columns + COMPARISON_COLUMNS[-1:])
    # One family: every p-value of the file, the CCC's too.
    p_values = comparison[["p_value", *ccc_columns[3:4]]].to_numpy(dtype=np.float64)
    adjusted = holm(p_values.ravel()).reshape(p_values.shape)
    comparison["p_holm"] = adjusted[:, 0]
    if ccc_columns:
        comparison["p_holm_ccc"] = adjusted[:, 1]
    comparison.round(4).to_csv(comparison_path, sep="\t", index=False)
    for row in summary.itertuples():
        if official and getattr(row, "n_dropped", 0) > 0:
            log.warning("%s %s: %d of the %d test recordings were dropped by the extraction and are scored as misses "
                        "(cv.dropped_test_clips): UAR %.3f, WAR %.3f over all of them (uar_official, war_official); "
                        "the other columns are over the %d scored", row.experiment, row.target, row.n_dropped,
                        row.n_official, row.uar_official, row.war_official, row.n_test)
        note = f" ({row.ci_note})" if row.ci_note else ""
        if rating_columns and np.isfinite(row.ccc):
            log.info("%s %s (ratings): CCC %.3f (%s), fold mean %.3f (%s) over %d folds, binned UAR %.3f%s",
                     row.experiment, row.target, row.ccc, _interval(row.ccc_ci_low, row.ccc_ci_high),
                     row.ccc_fold_mean, _interval(row.ccc_fold_mean_ci_low, row.ccc_fold_mean_ci_high), row.ci_folds,
                     row.uar_binned, note)
            continue
        over = {"folds": "folds", "clips": "folds' test clips", "clips and runs": "folds' test clips",
                "speakers": "test speakers", "speakers and runs": "test speakers"}[row.ci_over]
        log.info("%s %s: UAR %.3f (%s over %d %s, %d repeat(s)), p against chance %.4f, over speakers %.4f%s",
                 row.experiment, row.target, row.uar, _interval(row.uar_ci_low, row.uar_ci_high), row.ci_folds,
                 over, row.repeats, row.p_chance, row.p_chance_speakers, note)
    for row in comparison.itertuples():
        log.info("%s - %s, %s: UAR difference %.3f (%s), p %.4f (Holm %.4f)%s", row.experiment, row.reference,
                 row.target, row.delta_uar, _interval(row.delta_ci_low, row.delta_ci_high, " to "), row.p_value,
                 row.p_holm, f" ({row.note})" if row.note else "")
        if ccc_columns and np.isfinite(row.delta_ccc):
            log.info("%s - %s, %s: CCC difference %.3f (%s), p %.4f (Holm %.4f)", row.experiment, row.reference,
                     row.target, row.delta_ccc, _interval(row.delta_ccc_ci_low, row.delta_ccc_ci_high, " to "),
                     row.p_value_ccc, row.p_holm_ccc)
    return summary


def _interval(low: float, high: float, between: str = "-") -> str:
    """An interval as the log says it; "no interval" where the folds give none (NaN bounds)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "no interval"
    return f"{100 * LEVEL:.0f}% CI {low:.3f}{between}{high:.3f}"


def forest_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary as the forest plot shows it: a rating target shows its binned UAR, the one number
    a binned and a regression experiment share."""
    forest = summary.copy()
    if "test_corpus" in forest:  # several corpora: a point per experiment and test corpus
        forest["experiment"] = forest["experiment"] + ": " + forest["train_corpora"] + " -> " + forest["test_corpus"]
    if "uar_binned" in forest:
        for suffix in ("", "_ci_low", "_ci_high"):
            forest[f"uar{suffix}"] = forest[f"uar{suffix}"].fillna(forest[f"uar_binned{suffix}"])
    return forest


# --------------------------------------------------------------------------- rating targets


def summarise_ratings(experiment: str, target: str, results: TargetResults, resamples: int, seed: int,
                      speaker_independent: bool = True) -> dict:
    """One row of summary.tsv for a rating target: the pooled CCC and the folds' mean CCC with their
    intervals (:mod:`facemotion.evaluation.rating_metrics`), the other metrics' fold means, and the binned
    predictions' UAR with its interval and baselines (as a class target's ``uar``)."""
    table = pooled(results.folds).astype({"y_true": float, "y_pred": float})
    classes_row = summarise_target(experiment, target, results.binned(target), resamples, seed, speaker_independent)
    kept = ("experiment", "target", "n_test", "repeats", "ci_folds", "ci_over", "ci_note", "majority_accuracy",
            "majority_uar", "chance_uar")
    row = {**{key: classes_row[key] for key in kept}, **ccc_summary(table, list(results.folds)),
           **{f"uar_binned{suffix}": classes_row[f"uar{suffix}"] for suffix in ("", "_ci_low", "_ci_high")}}
    if classes_row["ci_over"] != "folds":  # the clips' interval is the binned UAR's
        row["ci_note"] = f"{classes_row['ci_note']}: for uar_binned; the CCC intervals are t-intervals over folds"
    return row


def compare_ccc(reference_results: TargetResults, results: TargetResults) -> dict:
    """The CCC of two rating experiments on the recordings both tested (same fold, same rating): per
    fold the difference of their CCCs (each averaged over its repeats), its t-interval over folds
    and the paired t-test's two-sided p-value, as ``delta_uar``'s."""
    ours, theirs = (pooled(r.folds).astype({"y_true": float, "y_pred": float}) for r in (reference_results, results))
    keys = ["fold", "recording", "y_true"]
    common = one_repeat(ours)[keys].merge(one_repeat(theirs)[keys], on=keys)
    folds = list(reference_results.folds)
    differences = fold_ccc(theirs.merge(common, on=keys), folds) - fold_ccc(ours.merge(common, on=keys), folds)
    delta, low, high, _ = t_interval(differences, (-2.0, 2.0))  # a difference of two CCCs
    return {"delta_ccc": delta, "delta_ccc_ci_low": low, "delta_ccc_ci_high": high,
            "p_value_ccc": t_test_p(differences, "two-sided")}


# --------------------------------------------------------------------------- reading the inputs


def results_from_files(files: Mapping[tuple[str, str], tuple[str, str]]) -> dict[str, TargetResults]:
    """{(target, fold): (predictions file, info file)} as train_fold writes them -> {target: results}."""
    predictions = read_predictions({key: paths[0] for key, paths in files.items()})
    by_target: dict[str, TargetResults] = {}
    for (target, fold), frame in predictions.items():
        info = read_json(files[(target, fold)][1])
        results = by_target.setdefault(target, _empty_results(target, frame, info))
        results.folds[fold] = _typed(frame, results)
        results.train_counts[fold] = info["train_class_counts"]
    return by_target


def _empty_results(target: str, frame: pd.DataFrame, info: Mapping) -> TargetResults:
    """A target's results before its folds are added: classes from the predictions' ``p_<class>``
    columns, or for a rating target (its fold info's ``task``) the bins and their thresholds."""
    if is_rating(info):
        return TargetResults({}, target_classes(target), {},
                             (info["thresholds"]["low"], info["thresholds"]["high"]))
    return TargetResults({}, classes_from_predictions(frame), {})


def _typed(frame: pd.DataFrame, results: TargetResults) -> pd.DataFrame:
    """A rating target's predictions with numeric ``y_true`` and ``y_pred``."""
    return frame if results.thresholds is None else frame.astype({"y_true": float, "y_pred": float})


def summary_inputs(prediction_dirs: Mapping[str, str], prediction_files: Sequence[str],
                   info_files: Sequence[str]) -> dict:
    """Regroup the rule's flat input lists into {experiment: {(target, session): (predictions, info)}}.

    ``prediction_dirs``: experiment name -> its predictions folder, the reference first. A file
    belongs to the experiment whose folder holds its target folder; its key comes from its path
    (:func:`facemotion.evaluation.class_metrics.fold_files`), never from its place in the lists.
    """
    grouped: dict[str, dict] = {}
    for name, folder in prediction_dirs.items():
        predictions, infos = (fold_files(path for path in paths if Path(path).parent.parent == Path(folder))
                              for paths in (prediction_files, info_files))
        if predictions.keys() != infos.keys():
            raise ValueError(f"experiment {name}: predictions and training infos are not of the same folds")
        grouped[name] = {key: (path, infos[key]) for key, path in predictions.items()}
    return grouped


class PredictionsError(ValueError):
    """A folder of predictions that cannot be summarised; the message names the file and the problem."""


def repeated_recording(frame: pd.DataFrame) -> tuple[str, int, int] | None:
    """The first recording a predictions table lists twice in one training repeat, as (recording,
    its first line, the line repeating it), lines of the file (the header is line 1); else None.
    Each recording counts once: a copied row would add a test recording."""
    keys = ["repeat", "recording"] if "repeat" in frame else ["recording"]
    repeated = frame.duplicated(keys).to_numpy()
    if not repeated.any():
        return None
    at = int(np.argmax(repeated))
    first = int(np.argmax((frame[keys] == frame.iloc[at][keys]).all(axis=1).to_numpy()))
    return frame["recording"].iloc[at], first + 2, at + 2


def repeat_testing_other_recordings(frame: pd.DataFrame) -> int | None:
    """The first training repeat of a predictions table whose recordings differ from the first
    repeat's; None where every repeat tests the same ones."""
    first, *others = repeats_of(frame)
    for rows in others:
        if set(rows["recording"]) != set(first["recording"]):
            return int(rows["repeat"].iloc[0])
    return None


def _numbers(values: pd.Series) -> bool:
    """Whether every value of a text column reads as a number: ratings, not class names."""
    return bool(len(values)) and pd.to_numeric(values, errors="coerce").notna().all()


def read_prediction_dir(folder: str | Path, target: str, classes: Sequence[str] | None = None) -> TargetResults:
    """A folder's ``fold_<name>.tsv`` files in the project's prediction format (``recording``,
    ``speaker``, ``y_true``, ``y_pred``, optional ``repeat``; other columns ignored), folds in
    natural order. A ``fold_<name>.info.json`` beside a fold (as train_fold writes it) gives the
    majority baseline, and where it says ``task: regression`` the folder is a rating target's
    (numeric ``y_true``, ``y_pred``). Classes: ``classes`` in that order, else the ``p_<class>``
    columns, else the sorted names in the data."""
    folder = Path(folder)
    paths = sorted(folder.glob("fold_*.tsv"), key=lambda p: natural_key(p.stem[len("fold_"):]))
    if not paths:
        raise PredictionsError(f"{folder}: no fold_*.tsv prediction files")
    folds, train_counts, fold_of = {}, {}, {}
    for path in paths:
        fold = path.stem[len("fold_"):]
        try:
            frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            raise PredictionsError(f"{path}: not a tab-separated table ({error})") from None
        missing = [c for c in PREDICTION_COLUMNS if c not in frame]
        if missing:
            raise PredictionsError(f"{path}: missing column(s) {', '.join(missing)} "
                                   f"(needs {', '.join(PREDICTION_COLUMNS)}, optional repeat)")
        if "repeat" in frame and not frame["repeat"].str.fullmatch(r"\d+").all():
            raise PredictionsError(f"{path}: column repeat holds values that are not whole numbers")
        twice = repeated_recording(frame)
        if twice:
            raise PredictionsError(f"{path}: line {twice[2]}: recording {twice[0]} is already on line {twice[1]}"
                                   f"{' in the same repeat' if 'repeat' in frame else ''}; list each recording "
                                   "once per repeat")
        differing = repeat_testing_other_recordings(frame)
        if differing is not None:
            first = frame["repeat"].astype(int).min()
            raise PredictionsError(f"{path}: repeat {differing} tests other recordings than repeat {first}; every "
                                   "repeat of a fold predicts the same test recordings")
        for recording in one_repeat(frame)["recording"]:
            if fold_of.setdefault(recording, fold) != fold:
                raise PredictionsError(f"{path}: recording {recording} is also in fold {fold_of[recording]}; "
                                       "a recording is tested in one fold only")
        folds[fold] = frame
        info = path.with_name(f"fold_{fold}.info.json")
        if info.exists():
            train_counts[fold] = read_json(info)["train_class_counts"]
    infos = {info: read_json(info) for info in sorted(folder.glob("fold_*.info.json"))}
    rating = next((info for info, content in infos.items() if is_rating(content)), None)
    if rating is not None:  # a rating target's folder, as train_fold writes it
        if target not in BINNED_CLASSES:
            raise PredictionsError(f"{rating}: a rating target's predictions (task regression), but the target is "
                                   f"{target!r}; name theirs with --target activation or --target valence")
        results = _empty_results(target, pd.DataFrame(), infos[rating])
        results.folds = {fold: _typed(frame.replace("", np.nan), results) for fold, frame in folds.items()}
        for fold, frame in results.folds.items():
            missing = np.flatnonzero(~np.isfinite(frame[["y_true", "y_pred"]].to_numpy(dtype=float)).all(axis=1))
            if len(missing):
                raise PredictionsError(f"{folder / f'fold_{fold}.tsv'}: line {missing[0] + 2}: y_true or y_pred is "
                                       "empty or not a number; a rating target needs both on every line")
        results.train_counts = train_counts if len(train_counts) == len(folds) else None
        return results
    if classes is None:
        first = next(iter(folds.values()))
        if not classes_from_predictions(first) and all(_numbers(frame["y_true"]) for frame in folds.values()):
            raise PredictionsError(f"{paths[0]}: y_true holds only numbers, as a rating target's predictions do; "
                                   "put each fold's fold_<name>.info.json beside it (as train_fold writes it: task "
                                   "regression and the thresholds), or give --classes if these numbers name classes")
        classes = classes_from_predictions(first) or sorted(
            set().union(*(set(f["y_true"]) | set(f["y_pred"]) for f in folds.values())))
    for fold, frame in folds.items():
        unknown = sorted((set(frame["y_true"]) | set(frame["y_pred"])) - set(classes))
        if unknown:
            raise PredictionsError(f"{folder / f'fold_{fold}.tsv'}: classes {unknown} are not among {list(classes)}")
    return TargetResults(folds, list(classes), train_counts if len(train_counts) == len(folds) else None)
