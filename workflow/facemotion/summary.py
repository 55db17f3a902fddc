"""The tables a publication needs, over every experiment (rule summarise).

- ``summary.tsv``: per experiment and target, the fold means of ``metrics.tsv`` with 95 %
  speaker-bootstrap intervals, the baselines and a permutation p-value against chance;
- ``speakers.tsv``: per experiment, target and speaker, the speaker's own metrics and recalls;
- ``comparison.tsv``: every experiment after the first against the first (the reference), paired
  on the test recordings both predicted;
- ``plots/comparison.png``: UAR with its interval per experiment and target (a forest plot).

The statistics are in :mod:`facemotion.statistics`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .evaluation import TARGET_TITLES, aggregate, classes_from_predictions, fold_files, read_predictions
from .files import read_json
from .plots import _pyplot
from .statistics import (
    METRIC_NAMES,
    bootstrap_summary,
    class_codes,
    metrics_from_counts,
    paired_comparison,
    permutation_p_chance,
    units_from_predictions,
)

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ["experiment", "target", "n_test",
                   *(f"{m}{suffix}" for m in METRIC_NAMES for suffix in ("", "_ci_low", "_ci_high")),
                   "majority_uar", "chance", "p_chance"]
COMPARISON_COLUMNS = ["experiment", "reference", "target", "n_test", "delta_uar", "delta_ci_low",
                      "delta_ci_high", "p_value"]


def pooled(folds: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One target's fold predictions as one table with a ``fold`` column."""
    frames = [frame.assign(fold=str(fold)) for fold, frame in folds.items()]
    return pd.concat(frames, ignore_index=True)


def summarise_target(experiment: str, target: str, folds: Mapping[str, pd.DataFrame], train_counts: Mapping,
                     resamples: int, seed: int) -> dict:
    """One row of summary.tsv. ``train_counts``: {fold: per-class training counts} (majority baseline)."""
    classes = classes_from_predictions(next(iter(folds.values())))
    table = pooled(folds)
    units = units_from_predictions(table, classes, list(folds))
    baselines = aggregate({(target, fold): frame for fold, frame in folds.items()},
                          {(target, fold): counts for fold, counts in train_counts.items()})
    mean = baselines[baselines["fold"] == "mean"].iloc[0]
    fold_index = {fold: i for i, fold in enumerate(folds)}
    p_chance = permutation_p_chance(class_codes(table["y_true"].tolist(), classes, "y_true"),
                                    class_codes(table["y_pred"].tolist(), classes, "y_pred"),
                                    table["fold"].map(fold_index).to_numpy(dtype=np.int64), len(classes),
                                    resamples, seed)
    return {"experiment": experiment, "target": target, "n_test": len(table),
            **bootstrap_summary(units, resamples, seed),
            "majority_uar": mean["majority_uar"], "chance": 1.0 / len(classes), "p_chance": p_chance}


def speaker_rows(experiment: str, target: str, folds: Mapping[str, pd.DataFrame]) -> list[dict]:
    """Rows of speakers.tsv: per speaker of each fold, n_test, uar, accuracy and recall per class."""
    classes = classes_from_predictions(next(iter(folds.values())))
    units = units_from_predictions(pooled(folds), classes, list(folds))
    fold_names = list(folds)
    rows = []
    for fold, speaker, counts in zip(units.folds, units.speakers, units.counts):
        metrics = metrics_from_counts(counts)
        true = counts.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = np.where(true > 0, np.diag(counts) / true, np.nan)
        rows.append({"experiment": experiment, "target": target, "speaker": speaker, "fold": fold_names[fold],
                     "n_test": int(counts.sum()), "uar": float(metrics["uar"]), "accuracy": float(metrics["accuracy"]),
                     **{f"recall_{c}": r for c, r in zip(classes, recall)}})
    return rows


def compare_target(reference: str, experiment: str, target: str, reference_folds: Mapping[str, pd.DataFrame],
                   folds: Mapping[str, pd.DataFrame], resamples: int, seed: int) -> dict:
    """One row of comparison.tsv: ``experiment`` against ``reference`` on the recordings both tested.

    Pairs need the same true class: recordings the two label differently (other classes or
    binning) are left out, and so are recordings only one of them tested.
    """
    ours, theirs = pooled(reference_folds), pooled(folds)
    paired = ours.merge(theirs[["recording", "y_true", "y_pred"]], on=["recording", "y_true"],
                        suffixes=("_reference", ""))
    classes = list(dict.fromkeys(classes_from_predictions(ours) + classes_from_predictions(theirs)))
    fold_names = list(reference_folds)
    reference_units = units_from_predictions(paired.assign(y_pred=paired["y_pred_reference"]), classes, fold_names)
    units = units_from_predictions(paired, classes, fold_names)
    return {"experiment": experiment, "reference": reference, "target": target, "n_test": len(paired),
            **paired_comparison(reference_units, units, resamples, seed)}


def plot_forest(summary: pd.DataFrame, path: Path | str, dpi: int = 150) -> Path:
    """UAR and its 95 % interval per experiment, one panel per target, chance as a dashed line."""
    plt = _pyplot()
    targets = list(dict.fromkeys(summary["target"]))
    experiments = list(dict.fromkeys(summary["experiment"]))
    fig, axes = plt.subplots(1, len(targets), figsize=(3.2 * len(targets) + 1.5, 0.45 * len(experiments) + 1.6),
                             sharey=True, squeeze=False)
    for ax, target in zip(axes[0], targets):
        rows = summary[summary["target"] == target].set_index("experiment").reindex(experiments)
        y = np.arange(len(experiments))
        ax.errorbar(rows["uar"], y, xerr=[rows["uar"] - rows["uar_ci_low"], rows["uar_ci_high"] - rows["uar"]],
                    fmt="o", color="black", capsize=3)
        ax.axvline(rows["chance"].dropna().iloc[0] if rows["chance"].notna().any() else np.nan,
                   color="grey", linestyle="--", linewidth=1)
        ax.set_title(TARGET_TITLES.get(target, target))
        ax.set_xlabel("UAR (95 % CI)")
        ax.set_xlim(0.0, 1.0)
        ax.set_yticks(y, experiments)
        ax.invert_yaxis()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def write_summary(experiments: Mapping[str, Mapping[tuple[str, str], tuple[str, str]]], summary_path, speakers_path,
                  comparison_path, plot_path, resamples: int, seed: int, dpi: int = 150) -> pd.DataFrame:
    """Write the four outputs. ``experiments``: name -> {(target, fold): (predictions file, info file)},
    the reference first. Returns the summary table."""
    summary, speakers, comparisons = [], [], []
    by_experiment = {}
    for name, files in experiments.items():
        predictions = read_predictions({key: paths[0] for key, paths in files.items()})
        by_target: dict[str, dict[str, pd.DataFrame]] = {}
        for (target, fold), frame in predictions.items():
            by_target.setdefault(target, {})[fold] = frame
        by_experiment[name] = by_target
        for target, folds in by_target.items():
            counts = {fold: read_json(files[(target, fold)][1])["train_class_counts"]
                      for fold in folds}
            summary.append(summarise_target(name, target, folds, counts, resamples, seed))
            speakers.extend(speaker_rows(name, target, folds))
    reference, *others = list(by_experiment)
    for name in others:
        for target, folds in by_experiment[name].items():
            if target in by_experiment[reference]:
                comparisons.append(compare_target(reference, name, target, by_experiment[reference][target], folds,
                                                  resamples, seed))
    summary = pd.DataFrame(summary, columns=SUMMARY_COLUMNS)
    summary.round(4).to_csv(summary_path, sep="\t", index=False)
    pd.DataFrame(speakers).round(4).to_csv(speakers_path, sep="\t", index=False)
    pd.DataFrame(comparisons, columns=COMPARISON_COLUMNS).round(4).to_csv(comparison_path, sep="\t", index=False)
    plot_forest(summary, plot_path, dpi=dpi)
    for row in summary.itertuples():
        log.info("%s %s: UAR %.3f (95%% CI %.3f-%.3f), p against chance %.4f", row.experiment, row.target,
                 row.uar, row.uar_ci_low, row.uar_ci_high, row.p_chance)
    for row in comparisons:
        log.info("%s - %s, %s: UAR difference %.3f (95%% CI %.3f to %.3f), p %.4f", row["experiment"],
                 row["reference"], row["target"], row["delta_uar"], row["delta_ci_low"], row["delta_ci_high"],
                 row["p_value"])
    return summary


def summary_inputs(prediction_dirs: Mapping[str, str], prediction_files: Sequence[str],
                   info_files: Sequence[str]) -> dict:
    """Regroup the rule's flat input lists into {experiment: {(target, session): (predictions, info)}}.

    ``prediction_dirs``: experiment name -> its predictions folder, the reference first. A file
    belongs to the experiment whose folder holds its target folder; its key comes from its path
    (:func:`facemotion.evaluation.fold_files`), never from its place in the lists.
    """
    grouped: dict[str, dict] = {}
    for name, folder in prediction_dirs.items():
        predictions, infos = (fold_files(path for path in paths if Path(path).parent.parent == Path(folder))
                              for paths in (prediction_files, info_files))
        if predictions.keys() != infos.keys():
            raise ValueError(f"experiment {name}: predictions and training infos are not of the same folds")
        grouped[name] = {key: (path, infos[key]) for key, path in predictions.items()}
    return grouped
