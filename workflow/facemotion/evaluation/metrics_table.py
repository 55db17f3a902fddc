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
from facemotion.evaluation.class_metrics import OFFICIAL_COLUMNS, aggregate, by_target, official_fold_scores
from facemotion.evaluation.predictions import read_predictions

log = logging.getLogger(__name__)


def write_metrics(prediction_files: Mapping[tuple[str, str], Path], info_files: Mapping[tuple[str, str], Path],
                  metrics_path: Path, official: Mapping[str, Mapping[str, int]] | None = None,
                  war: bool = False) -> pd.DataFrame:
    """Evaluate every (target, fold) of one experiment into metrics.tsv; returns the metrics table.

    ``prediction_files`` and ``info_files``: {(target, fold): path} (see :func:`fold_files`),
    with the same keys. Targets are listed in the mapping's order, folds in natural order.
    ``official`` (cv.dropped_test_clips miss): {fold: {class: test recordings}}; the ``label`` rows
    then also score every one of them, a dropped one as a miss (:func:`official_fold_scores`).
    ``war`` (a benchmark run): a ``war`` column before ``accuracy``, the same number under the name
    the benchmark's papers print.
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
    if official:
        metrics = with_official_scores(metrics, predictions, infos, official)
    if war:
        metrics.insert(metrics.columns.get_loc("accuracy"), "war", metrics["accuracy"])
    written = metrics.round(4)
    # Fold rows count recordings; mean and std rows may be fractional.
    for column in ("n_test", *(OFFICIAL_COLUMNS[:2] if official else ())):
        written[column] = [("" if np.isnan(n) else f"{n:.0f}") if fold not in ("mean", "std") else f"{n:.2f}"
                           for fold, n in zip(written["fold"], metrics[column].astype(float))]
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


def with_official_scores(metrics: pd.DataFrame, predictions: Mapping[tuple[str, str], pd.DataFrame],
                         infos: Mapping[tuple[str, str], Mapping], official: Mapping[str, Mapping[str, int]]):
    """``metrics`` with :data:`OFFICIAL_COLUMNS` after ``n_test``, filled in the ``label`` rows: per
    fold of ``official``, with ``mean`` and ``std`` rows (the scores' over the folds with test
    recordings)."""
    rows = {}
    for fold, per_class in official.items():
        if ("label", fold) in infos:
            frame = predictions.get(("label", fold), pd.DataFrame(columns=["y_true", "y_pred"]))
            rows[fold] = official_fold_scores(frame, per_class, infos[("label", fold)]["classes"])
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(OFFICIAL_COLUMNS), dtype=float)
    tested = table[table["n_official"] > 0]
    table.loc["mean"] = [*table.iloc[:, :2].mean(), *tested.iloc[:, 2:].mean()]
    table.loc["std"] = [*table.iloc[:, :2].std(ddof=1), *tested.iloc[:, 2:].std(ddof=1)]
    scores = pd.DataFrame(np.nan, index=metrics.index, columns=list(OFFICIAL_COLUMNS))
    label = metrics["target"] == "label"
    scores.loc[label] = table.reindex(metrics.loc[label, "fold"]).to_numpy()
    at = list(metrics.columns).index("n_test") + 1
    return pd.concat([metrics.iloc[:, :at], scores, metrics.iloc[:, at:]], axis=1)


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


def benchmark_folds(metrics: pd.DataFrame, target: str = "label") -> pd.DataFrame:
    """``target``'s rows of metrics.tsv as benchmark papers print them: a column per official fold
    (set_1 ... set_5, or FERV39k's test) and their ``mean``, rows UAR and WAR in percent, then the
    test clips of each fold. Where metrics.tsv scores every official test clip (uar_official), those
    scores and counts, with the dropped clips that count as misses; else the scored clips'."""
    rows = metrics[metrics["target"] == target].set_index("fold")
    official = "uar_official" in rows and rows["uar_official"].notna().any()
    uar, war, clips = ("uar_official", "war_official", "n_official") if official else ("uar", "accuracy", "n_test")
    folds = [fold for fold in rows.index if fold not in ("mean", "std")]
    table = {"UAR (%)": 100 * rows[uar], "WAR (%)": 100 * rows[war]}
    table["test clips"] = rows[clips]
    if official:
        table["dropped, scored as misses"] = rows["n_dropped"]
    out = pd.DataFrame(table).T[[*folds, "mean"]].astype(float)
    out.iloc[2:, -1] = np.nan  # counts per fold only: their totals are summary.tsv's n_official, n_dropped
    return out.rename_axis("metric")


def write_benchmark_folds(metrics_path: Path, table_path: Path) -> pd.DataFrame:
    """:func:`benchmark_folds` of metrics.tsv, written as a TSV: percentages to 2 decimals, counts whole."""
    table = benchmark_folds(pd.read_csv(metrics_path, sep="\t", keep_default_na=False, na_values=[""]))
    written = table.astype(object)
    for metric, values in table.iterrows():
        written.loc[metric] = [("" if np.isnan(v) else f"{v:.2f}" if "%" in metric else f"{v:.0f}") for v in values]
    written.to_csv(table_path, sep="\t")
    return table
