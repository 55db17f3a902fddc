"""metrics.tsv: every fold of every target of one experiment, the class targets' metrics and
baselines (:mod:`facemotion.evaluation.class_metrics`) and the rating targets' beside them
(:mod:`facemotion.evaluation.rating_metrics`, with the UAR of their binned predictions)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from facemotion.common.files import read_json
from facemotion.common.logs import JobError
from facemotion.common.targets import is_rating, target_classes
from facemotion.evaluation import rating_metrics
from facemotion.evaluation.class_metrics import aggregate, by_target
from facemotion.evaluation.predictions import read_predictions

log = logging.getLogger(__name__)


def write_metrics(prediction_files: Mapping[tuple[str, str], Path], info_files: Mapping[tuple[str, str], Path],
                  metrics_path: Path) -> pd.DataFrame:
    """Evaluate every (target, fold) of one experiment into metrics.tsv; returns the metrics table.

    ``prediction_files`` and ``info_files``: {(target, fold): path} (see :func:`fold_files`),
    with the same keys. Targets are listed in the mapping's order, folds in natural order.
    """
    if set(prediction_files) != set(info_files):
        unpaired = sorted(set(prediction_files) ^ set(info_files))
        raise ValueError(f"predictions and training infos are not of the same folds: (target, fold) {unpaired} "
                         "has only one of them")
    predictions = read_predictions(prediction_files)
    infos = {key: read_json(path) for key, path in info_files.items()}
    train_counts = {key: info["train_class_counts"] for key, info in infos.items()}
    skipped = {key: info["skipped"] for key, info in infos.items() if info.get("skipped")}
    for (target, fold), reason in skipped.items():
        log.warning("%s fold %s skipped: %s", target, fold, reason)
    for target in dict.fromkeys(target for target, _ in infos):
        reasons = [reason for (t, _), reason in skipped.items() if t == target]
        if len(reasons) == sum(t == target for t, _ in infos):
            # An empty UAR and "Done" would pass for a result: the run fails, after the extraction
            # report and plots that show why were written (the rule waits for them).
            raise JobError(f"nothing learnt for {target}: every one of its {len(reasons)} folds was skipped "
                           f"({reasons[0]}{f'; and {len(reasons) - 1} more' if len(reasons) > 1 else ''}); "
                           "see results/plots/extraction_status.png")
    ratings = {key: info for key, info in infos.items() if is_rating(info)}
    metrics = aggregate({key: frame for key, frame in predictions.items() if key not in ratings}, train_counts,
                        skipped)
    if ratings:
        order = list(dict.fromkeys(target for target, _ in prediction_files))
        rated = aggregate_regression({key: predictions[key] for key in ratings}, ratings, train_counts, skipped)
        # infer_objects: without a class target the first table is empty, of object columns.
        metrics = pd.concat([metrics, rated], ignore_index=True).infer_objects()
        metrics = metrics.iloc[np.argsort(metrics["target"].map(order.index).to_numpy(), kind="stable")]
        predictions = {key: frame for key, frame in predictions.items() if key not in ratings}
    written = metrics.round(4)
    # Fold rows count recordings; mean and std rows may be fractional.
    written["n_test"] = [f"{n:.0f}" if fold not in ("mean", "std") else f"{n:.2f}"
                         for fold, n in zip(written["fold"], metrics["n_test"])]
    written.to_csv(metrics_path, sep="\t", index=False)
    for target, folds in by_target(predictions).items():
        mean = metrics[(metrics["target"] == target) & (metrics["fold"] == "mean")].iloc[0]
        evaluated = sum((target, fold) not in skipped for fold in folds)
        log.info("%s: UAR %.3f (majority baseline %.3f, chance %.3f), accuracy %.3f over %d folds",
                 target, mean["uar"], mean["majority_uar"], mean["chance_uar"], mean["accuracy"], evaluated)
    for target in dict.fromkeys(target for target, _ in ratings):
        mean = metrics[(metrics["target"] == target) & (metrics["fold"] == "mean")].iloc[0]
        log.info("%s (ratings): CCC %.3f (fold mean), RMSE %.3f, binned UAR %.3f (chance %.3f)", target,
                 mean["ccc"], mean["rmse"], mean["uar_binned"], mean["chance_uar"])
    return metrics


def aggregate_regression(predictions: Mapping[tuple[str, str], pd.DataFrame], infos: Mapping[tuple[str, str], Mapping],
                         train_counts: Mapping | None = None, skipped: Mapping | None = None) -> pd.DataFrame:
    """metrics.tsv's rows of rating targets: per fold ``ccc``, ``pearson``, ``rmse``, ``mae`` (averaged
    over repeats) and ``uar_binned``, the UAR of the predictions binned at the fold's thresholds
    (``infos``: {(target, fold): info.json}), with its baselines; ``mean`` and ``std`` rows as
    :func:`aggregate`'s. ``predictions`` as read by :func:`read_predictions`."""
    tables = []
    for target, folds in by_target(predictions).items():
        frames = {fold: frame.astype({"y_true": float, "y_pred": float}) for fold, frame in folds.items()}
        binned_frames = {(target, fold): rating_metrics.binned(frame, target, **infos[(target, fold)]["thresholds"])
                         for fold, frame in frames.items()}
        table = aggregate(binned_frames, train_counts, skipped, classes=target_classes(target))
        table = table[["target", "fold", "n_test", "uar", "chance_uar", "majority_accuracy", "majority_uar",
                       "skipped"]].rename(columns={"uar": "uar_binned"})
        per_fold = pd.DataFrame([rating_metrics.repeat_mean_metrics(frame) for frame in frames.values()],
                                index=list(frames), columns=list(rating_metrics.METRICS))
        trained = per_fold[[(target, fold) not in (skipped or {}) for fold in per_fold.index]]
        per_fold.loc["mean"], per_fold.loc["std"] = trained.mean(), trained.std(ddof=1)
        tables.append(table.join(per_fold, on="fold"))
    return pd.concat(tables, ignore_index=True)
