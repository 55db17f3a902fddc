"""The rating targets' loss and calibration (dimensions: regression), measured on every held-out
session of a feature table, with repeats, against the binned classifier.

Per target, fold (loso, the next session validates) and repeat (seeds 0, 1, 2) it trains, with the
demo's settings (config/config.yaml):

- ``mse``: the MSE of the z-scored ratings (one linear output), predictions mapped back with the
  training ratings' mean and standard deviation;
- ``ccc_loss``: 1 - the batch's CCC, the same network and scaling;
- ``binned``: the class task on the ratings binned at 2.5 / 3.5 (class weights, epoch by UAR).

Calibrations are post hoc, so they reuse the ``mse`` models: ``mse+train_sd`` matches the mean and
standard deviation of the training rows' predictions to those of their ratings, ``mse+train_linear``
is the least-squares line of the training ratings on the training predictions, ``mse+val_sd``
matches on the validation rows (the fold's epoch-choosing rows: training data, never test).

Scores: pooled Pearson r and pooled CCC (per repeat over all folds' test recordings, then the
repeats' mean; the pooled CCC's 95 % interval is the project's delete-one-fold jackknife on
Fisher's z, and both show the range over repeats), the fold mean CCC and the binned UAR (fold
value = mean over repeats; t-interval over folds), and the standard deviation of the pooled
predictions over that of the ratings.

Run: PYTHONPATH=workflow python tests/benchmarks/bench_regression_loss.py FEATURES.parquet
     [--repeats 3] [--targets activation,valence] [--sessions 1,3,5] [--methods mse,ccc_loss]
     [--classifier RUN/results/predictions] [--json out.jsonl]
     or re-score a saved run: ... --scores out.jsonl [--classifier ...]
``--classifier`` takes the binned classifier's predictions of a workflow run (its fold files of the
same sessions) instead of training it here.
"""

import argparse
import json
import time
from dataclasses import replace

import numpy as np
import pandas as pd

RATING_METHODS = ("mse", "ccc_loss", "mse+train_sd", "mse+train_linear", "mse+val_sd")


def ccc_loss(y_true, y_pred):
    """1 - the CCC of the batch: the loss that optimises the reported metric directly."""
    import keras

    y_true = keras.ops.reshape(keras.ops.cast(y_true, "float32"), (-1,))
    y_pred = keras.ops.reshape(keras.ops.cast(y_pred, "float32"), (-1,))
    mean_true, mean_pred = keras.ops.mean(y_true), keras.ops.mean(y_pred)
    covariance = keras.ops.mean((y_true - mean_true) * (y_pred - mean_pred))
    denominator = keras.ops.var(y_true) + keras.ops.var(y_pred) + (mean_true - mean_pred) ** 2
    return 1.0 - 2.0 * covariance / (denominator + keras.backend.epsilon())


def match_sd(fit_y, fit_p, p):
    """``p`` moved and stretched so that ``fit_p`` would have the mean and sd of ``fit_y``."""
    fit_y, fit_p = np.asarray(fit_y, float), np.asarray(fit_p, float)
    scale = fit_y.std() / fit_p.std() if fit_p.std() > 0 else 1.0
    return (np.asarray(p, float) - fit_p.mean()) * scale + fit_y.mean()


def linear_fit(fit_y, fit_p, p):
    slope, intercept = np.polyfit(np.asarray(fit_p, float), np.asarray(fit_y, float), 1)
    return intercept + slope * np.asarray(p, float)


def train(features_path, targets, repeats, sessions=None, methods=("mse", "ccc_loss", "binned"),
          log=None) -> list[dict]:
    """Every model's test predictions (mse models': also those of their training and validation
    rows), one dict a model, each also appended to ``log`` (JSON lines) as it is done."""
    from facemotion.common.scores import uar
    from facemotion.common.targets import bin_ratings
    from facemotion.extraction.feature_table import model_input, read_feature_table
    from facemotion.learning.fitting import configure_tensorflow, fit
    from facemotion.learning.folds import sorted_sessions, split_fold
    from facemotion.learning.params import TrainParams
    from facemotion.learning.tasks import ClassTask, RatingTask

    # rating_calibration none: the calibrations are computed here from the mse models' predictions.
    demo = TrainParams(learning_rate=0.0005, batch_size=8, epochs=26, seed=0, threads=1, verbose=0,
                       dimensions="regression", rating_calibration="none")
    table = read_feature_table(features_path)
    features, meta = model_input(table, "pixels"), table.meta
    results = []
    for target in targets:
        ratings = meta[target].to_numpy(dtype=float)
        rows = np.flatnonzero(~np.isnan(ratings))
        y = ratings[rows]
        row_sessions = meta["session"].astype(str).to_numpy()[rows]
        for session in sessions or sorted_sessions(row_sessions):
            split = split_fold(row_sessions, bin_ratings(y), session, "loso")
            parts = {"train": split.train, "val": split.val, "test": split.test}
            for repeat in range(repeats):
                p = replace(demo, seed=demo.seed + repeat)
                tasks = {"mse": RatingTask(target, p), "ccc_loss": RatingTask(target, p, loss=ccc_loss),
                         "binned": ClassTask(target, replace(p, dimensions="binned"))}
                for name in methods:
                    task = tasks[name]
                    configure_tensorflow(p.threads, p.seed)
                    started = time.perf_counter()
                    y_fit = bin_ratings(y) if name == "binned" else y
                    fitted = fit(task, features, rows[split.train], y_fit[split.train], rows[split.val],
                                 y_fit[split.val], p, select=True)
                    run = {"target": target, "fold": session, "repeat": repeat, "method": name,
                           "best_epoch": fitted.info["best_epoch"], "y": y[split.test].tolist()}
                    if name == "binned":
                        proba = task.predict(fitted.model, features, rows[split.test], fitted.state, p.batch_size)
                        run["class"] = proba.argmax(axis=1).tolist()
                        score = f"UAR {uar(bin_ratings(y[split.test]), proba.argmax(axis=1)):.3f}"
                    else:
                        wanted = parts if name == "mse" else {"test": split.test}
                        for part, positions in wanted.items():
                            run[f"p_{part}"] = task.predict(fitted.model, features, rows[positions], fitted.state,
                                                            p.batch_size).tolist()
                            run[f"y_{part}"] = y[positions].tolist()
                        score = f"CCC {ccc_of(run['y_test'], run['p_test']):.3f}"
                    results.append(run)
                    if log:
                        with open(log, "a") as handle:
                            handle.write(json.dumps(run) + "\n")
                    print(f"{target} fold {session} repeat {repeat} {name}: {score}, epoch {run['best_epoch']}, "
                          f"{time.perf_counter() - started:.0f} s", flush=True)
    return results


def ccc_of(y, p) -> float:
    from facemotion.common.scores import ccc

    return ccc(y, p)


def classifier_runs(folder, results: list[dict]) -> list[dict]:
    """The binned classifier's test predictions of a workflow run, for the targets and folds of
    ``results`` (its repeats as they are)."""
    runs = []
    for target, fold in sorted({(r["target"], r["fold"]) for r in results}):
        frame = pd.read_csv(f"{folder}/{target}/fold_{fold}.tsv", sep="\t", dtype={"session": str})
        names = list(frame.filter(like="p_").columns.str[2:])
        for repeat, rows in frame.groupby("repeat"):
            runs.append({"target": target, "fold": fold, "repeat": int(repeat), "method": "binned",
                         "y": rows["y_true"].map(names.index).tolist(),
                         "true_class": rows["y_true"].map(names.index).tolist(),
                         "class": rows["y_pred"].map(names.index).tolist()})
    return runs


def rating_runs(results: list[dict]) -> list[dict]:
    """Each model's test predictions under every method (calibrations from the mse models)."""
    runs = []
    for run in results:
        if run["method"] == "ccc_loss":
            runs.append({**run, "p": run["p_test"]})
        elif run["method"] == "mse":
            calibrated = {
                "mse": run["p_test"],
                "mse+train_sd": match_sd(run["y_train"], run["p_train"], run["p_test"]),
                "mse+train_linear": linear_fit(run["y_train"], run["p_train"], run["p_test"]),
                "mse+val_sd": match_sd(run["y_val"], run["p_val"], run["p_test"]),
            }
            runs.extend({**run, "method": method, "p": p} for method, p in calibrated.items())
    return runs


def scores(results: list[dict], classifier: list[dict] = (), low: float = 2.5, high: float = 3.5) -> pd.DataFrame:
    """One row per target and method: the metrics with their intervals (see the module's doc)."""
    from facemotion.common.scores import uar
    from facemotion.common.targets import bin_ratings
    from facemotion.evaluation.rating_metrics import pooled_ccc_interval
    from facemotion.evaluation.statistics import t_interval

    frames = []
    classifier = list(classifier) or [r for r in results if r["method"] == "binned"]
    for run in rating_runs(results) + classifier:
        frame = pd.DataFrame({"y_true": run["y"], "fold": run["fold"], "repeat": run["repeat"]})
        frame["recording"] = np.arange(len(frame)).astype(str)
        frame["y_pred"] = np.asarray(run["p"], float) if "p" in run else np.nan
        frame["true_class"] = run.get("true_class", bin_ratings(frame["y_true"], low, high))
        frame["class"] = run.get("class", bin_ratings(frame["y_pred"], low, high))
        frames.append(frame.assign(target=run["target"], method=run["method"]))
    table = pd.concat(frames, ignore_index=True)
    rows = []
    for (target, method), runs in table.groupby(["target", "method"], sort=False):
        by_repeat = [r for _, r in runs.groupby("repeat")]
        fold_uar = [np.mean([uar(r["true_class"], r["class"])
                             for _, r in fold.groupby("repeat")]) for _, fold in runs.groupby("fold")]
        row = {"target": target, "method": method}
        row["uar_binned"], row["uar_low"], row["uar_high"], _ = t_interval(np.array(fold_uar), (0, 1))
        if method != "binned":
            pearson = [np.corrcoef(r["y_true"], r["y_pred"])[0, 1] for r in by_repeat]
            pooled = [ccc_of(r["y_true"], r["y_pred"]) for r in by_repeat]
            fold_ccc = [np.mean([ccc_of(r["y_true"], r["y_pred"]) for _, r in fold.groupby("repeat")])
                        for _, fold in runs.groupby("fold")]
            row.update(pearson=np.mean(pearson), pearson_min=min(pearson), pearson_max=max(pearson))
            row["ccc"], row["ccc_low"], row["ccc_high"], _ = pooled_ccc_interval(runs)
            row.update(ccc_min=min(pooled), ccc_max=max(pooled))
            row["ccc_fold_mean"], row["ccc_fold_low"], row["ccc_fold_high"], _ = t_interval(np.array(fold_ccc), (-1, 1))
            row["sd_ratio"] = np.mean([r["y_pred"].std() / r["y_true"].std() for r in by_repeat])
        rows.append(row)
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    """The table as docs/ratings.md shows it."""
    lines = ["| target | method | Pearson r (pooled) | CCC (pooled) | CCC (fold mean) | UAR binned | sd ratio |",
             "|---|---|---|---|---|---|---|"]
    for row in table.itertuples():
        uar_text = f"{row.uar_binned:.3f} ({row.uar_low:.3f}-{row.uar_high:.3f})"
        if row.method == "binned":
            lines.append(f"| {row.target} | binned classifier | | | | {uar_text} | |")
            continue
        lines.append(
            f"| {row.target} | {row.method} | {row.pearson:.3f} [{row.pearson_min:.3f}, {row.pearson_max:.3f}] "
            f"| {row.ccc:.3f} ({row.ccc_low:.3f}-{row.ccc_high:.3f}) [{row.ccc_min:.3f}, {row.ccc_max:.3f}] "
            f"| {row.ccc_fold_mean:.3f} ({row.ccc_fold_low:.3f}-{row.ccc_fold_high:.3f}) | {uar_text} "
            f"| {row.sd_ratio:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("features", nargs="?", help="a feature table of pixels (results/features.parquet)")
    parser.add_argument("--targets", default="activation,valence")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sessions", help="held-out sessions, comma-separated (default: all)")
    parser.add_argument("--methods", default="mse,ccc_loss,binned", help="models to train: mse, ccc_loss, binned")
    parser.add_argument("--classifier", help="a run's results/predictions: its binned classifier, not trained here")
    parser.add_argument("--json", help="append every model's ratings and predictions here (JSON lines)")
    parser.add_argument("--scores", help="score the --json file of an earlier run instead of training")
    args = parser.parse_args()
    if args.scores:
        with open(args.scores) as handle:
            results = [json.loads(line) for line in handle]
    else:
        results = train(args.features, args.targets.split(","), args.repeats,
                        args.sessions.split(",") if args.sessions else None, args.methods.split(","), args.json)
    classifier = classifier_runs(args.classifier, results) if args.classifier else ()
    print(markdown(scores(results, classifier)))


if __name__ == "__main__":
    main()
