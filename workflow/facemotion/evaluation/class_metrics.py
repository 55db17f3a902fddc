"""Class targets: fold metrics, averaged confusion matrices and baselines (a rating target's
confusion matrix is that of its binned predictions). metrics.tsv is written by
:mod:`facemotion.evaluation.metrics_table`; the seed-style heatmaps are drawn by
:func:`facemotion.report.plots.plot_confusion`.

Conventions (the seed reported confusion matrices this way):
- A fold's confusion matrix is row-normalised to percent (rows = true class). A class that is
  absent from a fold's test set has no recall there: its row is NaN and the fold-average of
  that row uses only the folds where the class occurs (other rows still average all folds).
- UAR (unweighted average recall = balanced accuracy) averages the recall of the classes present
  in the test set; with every class present in every fold, the mean of the fold UARs equals the
  mean of the diagonal of the averaged matrix. Macro F1 averages the F1 of the same classes, those
  present in the test set; weighted F1 weighs each class by its test recordings (sklearn's).
- ``std`` rows are the sample standard deviation over folds (ddof=1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from facemotion.common.files import read_json
from facemotion.common.targets import TARGET_TITLES, is_rating, target_classes
from facemotion.common.values import natural_key
from facemotion.evaluation import rating_metrics
from facemotion.evaluation.predictions import (
    classes_from_predictions,
    fold_files,
    one_repeat,
    read_predictions,
    repeats_of,
)

METRICS = ("n_test", "accuracy", "uar", "f1_macro", "f1_weighted")
BASELINES = ("chance_uar", "majority_accuracy", "majority_uar")


def confusion_counts(y_true, y_pred, classes: Sequence[str]) -> np.ndarray:
    """Counts (k, k): rows = true class, columns = predicted class, in ``classes`` order."""
    index = {c: i for i, c in enumerate(classes)}
    counts = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        counts[index[t], index[p]] += 1
    return counts


def row_percent(counts: np.ndarray) -> np.ndarray:
    """Each row as percent of its total; NaN for a class without test samples."""
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, 100.0 * counts / totals, np.nan)


def average_confusion(percent_matrices: Iterable[np.ndarray]) -> np.ndarray:
    """Mean over folds ignoring NaN rows (a row NaN in every fold stays NaN)."""
    stack = np.stack([np.asarray(m, dtype=np.float64) for m in percent_matrices])
    valid = ~np.isnan(stack)
    n = valid.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(valid, stack, 0.0).sum(axis=0) / n, np.nan)


def fold_metrics(y_true, y_pred, classes: Sequence[str]) -> dict:
    """n_test, accuracy, uar (mean recall over classes present), f1_macro, f1_weighted."""
    y_true, y_pred = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    if len(y_true) == 0:
        return {"n_test": 0, **{m: np.nan for m in METRICS[1:]}}
    recall = np.diag(row_percent(confusion_counts(y_true, y_pred, classes))) / 100.0
    return {
        "n_test": len(y_true),
        "accuracy": float(np.mean(y_true == y_pred)),
        "uar": float(np.nanmean(recall)),
        # Over the classes present in the test set, as the UAR: where a miss lands must not change
        # which classes are averaged.
        "f1_macro": float(f1_score(y_true, y_pred, labels=sorted(set(y_true)), average="macro", zero_division=0)),
        "f1_weighted": float(f1_score(y_true, y_pred, average="weighted", zero_division=0)),
    }


def repeat_mean_metrics(frame: pd.DataFrame, classes: Sequence[str]) -> dict:
    """:func:`fold_metrics` of a fold's predictions, averaged over its training repeats (column
    ``repeat``; every repeat tests the same recordings, so ``n_test`` counts one repeat's)."""
    per_repeat = [fold_metrics(rows["y_true"], rows["y_pred"], classes) for rows in repeats_of(frame)]
    return {name: per_repeat[0][name] if name == "n_test" else float(np.mean([m[name] for m in per_repeat]))
            for name in METRICS}


def majority_baseline(train_counts, y_true, classes: Sequence[str]) -> dict:
    """Always predicting the most frequent TRAINING class (ties: first in ``classes``).

    ``train_counts``: per-class counts in ``classes`` order, or a {class: count} mapping.
    """
    if isinstance(train_counts, Mapping):
        train_counts = [train_counts.get(c, 0) for c in classes]
    majority = classes[int(np.argmax(train_counts))]
    m = fold_metrics(y_true, [majority] * len(y_true), classes)
    return {"majority_class": majority, "majority_accuracy": m["accuracy"], "majority_uar": m["uar"]}


def by_target(predictions) -> dict[str, dict[str, pd.DataFrame]]:
    """{(target, fold): frame} or a long frame with target/fold columns -> {target: {fold: frame}}."""
    if isinstance(predictions, pd.DataFrame):
        predictions = {k: g for k, g in predictions.groupby(["target", "fold"], sort=False)}
    grouped: dict[str, dict[str, pd.DataFrame]] = {}
    for (target, fold), frame in predictions.items():
        grouped.setdefault(str(target), {})[str(fold)] = frame
    return {t: dict(sorted(f.items(), key=lambda kv: natural_key(kv[0]))) for t, f in grouped.items()}


def aggregate(predictions, train_counts: Mapping | None = None, skipped: Mapping | None = None,
              classes: Sequence[str] | None = None) -> pd.DataFrame:
    """Per-fold metrics plus a ``mean`` and a ``std`` row per target.

    ``predictions``: {(target, fold): predictions frame} (or one frame with ``target`` and
    ``fold`` columns). ``train_counts``: optional {(target, fold): per-class training counts}
    (``info["train_class_counts"]`` from training) for the majority-class baseline; without it
    those columns are NaN. ``skipped``: optional {(target, fold): reason} of folds without test
    data; they are listed with that reason and left out of ``mean`` and ``std``. Columns: target,
    fold, n_test, accuracy, uar, f1_macro, f1_weighted, chance_uar, majority_accuracy, majority_uar,
    skipped. With training repeats (a ``repeat`` column) a fold's metrics are the repeats' mean.
    ``classes``: the class order, when the tables have no ``p_<class>`` columns to read it from.
    """
    rows = []
    for target, folds in by_target(predictions).items():
        per_fold = []
        for fold, frame in folds.items():
            fold_classes = classes or classes_from_predictions(frame)
            row = {"target": target, "fold": fold}
            row.update(repeat_mean_metrics(frame, fold_classes))
            row["chance_uar"] = 1.0 / len(fold_classes)
            counts = (train_counts or {}).get((target, fold))
            if counts is not None:
                base = majority_baseline(counts, one_repeat(frame)["y_true"], fold_classes)
                row.update(majority_accuracy=base["majority_accuracy"], majority_uar=base["majority_uar"])
            else:
                row.update(majority_accuracy=np.nan, majority_uar=np.nan)
            row["skipped"] = (skipped or {}).get((target, fold), "")
            per_fold.append(row)
        table = pd.DataFrame(per_fold)
        numeric = table[table["skipped"] == ""].drop(columns=["target", "fold", "skipped"]).astype(float)
        summary = [
            {"target": target, "fold": "mean", **numeric.mean().to_dict()},
            {"target": target, "fold": "std", **numeric.std(ddof=1).to_dict()},
        ]
        rows.extend(per_fold + summary)
    columns = ["target", "fold", *METRICS, *BASELINES, "skipped"]
    return pd.DataFrame(rows, columns=columns).fillna({"skipped": ""})


OFFICIAL_COLUMNS = ("n_official", "n_dropped", "uar_official", "war_official")


def official_fold_scores(frame: pd.DataFrame, test_counts: Mapping[str, int], classes: Sequence[str]) -> dict:
    """One fold's UAR and WAR over every test recording of ``test_counts`` ({class: recordings}),
    a recording without a prediction (dropped by the extraction) counted as a miss: each class's
    correct predictions over its test recordings, per repeat, the repeats averaged. With
    ``n_official`` (all of them) and ``n_dropped`` (those not scored)."""
    totals = np.array([test_counts.get(c, 0) for c in classes], dtype=np.float64)
    repeats = repeats_of(frame) if len(frame) else [frame]
    n_official = int(totals.sum())
    scores = {"n_official": n_official, "n_dropped": n_official - len(repeats[0]),
              "uar_official": np.nan, "war_official": np.nan}
    if n_official:
        correct = np.array([[((rows["y_true"] == c) & (rows["y_pred"] == c)).sum() for c in classes]
                            for rows in repeats], dtype=np.float64)
        scores["uar_official"] = float(np.mean(correct[:, totals > 0] / totals[totals > 0]))
        scores["war_official"] = float(np.mean(correct.sum(axis=1) / n_official))
    return scores


@dataclass
class ConfusionSummary:
    """One target's confusion matrices as DataFrames (index = true, columns = predicted)."""

    mean_percent: pd.DataFrame  # fold-averaged row percentages (the seed's figure)
    pooled_counts: pd.DataFrame  # counts summed over all folds
    fold_uars: list[float]  # each fold's UAR in percent (a fold's repeats pooled: they test the same recordings)

    @property
    def uar(self) -> float:
        """The folds' mean UAR in percent: the UAR of metrics.tsv and summary.tsv."""
        return float(np.mean(self.fold_uars))

    @property
    def diagonal_mean(self) -> float:
        """Mean of the averaged matrix's diagonal, in percent (the seed's reported figure); it is
        the UAR when every fold tests every class."""
        return float(np.nanmean(np.diag(self.mean_percent.to_numpy())))


def confusion_summary(folds: Mapping[str, pd.DataFrame], classes: Sequence[str] | None = None):
    """The fold-averaged percent matrix and the pooled counts (every fold's and repeat's predictions) for one target."""
    frames = list(folds.values())
    classes = list(classes or classes_from_predictions(frames[0]))
    counts = {f: confusion_counts(d["y_true"], d["y_pred"], classes) for f, d in folds.items()}

    def frame(values):
        df = pd.DataFrame(values, index=pd.Index(classes, name="true"), columns=classes)
        df.columns.name = "predicted"
        return df

    tested = [c for c in counts.values() if c.sum()]
    return ConfusionSummary(
        mean_percent=frame(average_confusion(row_percent(c) for c in counts.values())),
        pooled_counts=frame(sum(counts.values())),
        fold_uars=[float(np.nanmean(np.diag(row_percent(c)))) for c in tested],
    )


def confusion_title(target: str, summary: ConfusionSummary) -> str:
    """The heatmap's title: the UAR the tables report, and the seed's diagonal mean where a fold
    that lacks a class makes it differ."""
    title = f"{TARGET_TITLES.get(target, target)}: UAR {summary.uar:.1f}%"
    if abs(summary.diagonal_mean - summary.uar) >= 0.05:
        title += f" (diagonal of the averaged matrix {summary.diagonal_mean:.1f}%)"
    return title


def write_confusion(target: str, prediction_files: Sequence[Path], confusion_path: Path) -> ConfusionSummary:
    """One target's averaged confusion matrix (tsv) from its folds' predictions files (named as
    :func:`facemotion.evaluation.predictions.fold_files` reads them); returns it for the heatmaps."""
    folds = read_predictions(fold_files(prediction_files))
    info = read_json(str(next(iter(prediction_files)))[: -len(".tsv")] + ".info.json")
    if is_rating(info):  # a rating target: the matrix of its predictions binned
        folds = {key: rating_metrics.binned(frame, target, **info["thresholds"]) for key, frame in folds.items()}
    summary = confusion_summary({fold: frame for (_, fold), frame in folds.items()},
                                target_classes(target) if is_rating(info) else None)
    confusion = pd.concat({"mean_percent": summary.mean_percent, "pooled_count": summary.pooled_counts},
                          names=["matrix"])
    confusion.to_csv(confusion_path, sep="\t", float_format="%.2f")
    return summary
