"""The regression targets' loss (dimensions: regression): MSE of the z-scored ratings against a batch
CCC loss, by the test CCC each reaches on held-out sessions of a feature table.

Each fold trains as train_fold does under ``loso`` (training sessions' statistics, the validation
session's best CCC chooses the epoch), with the demo's settings (config/config.yaml) and one seed;
it prints each fold's CCC and, per loss and target, the fold mean and the pooled CCC.
Run: PYTHONPATH=workflow python tests/benchmarks/bench_regression_loss.py results/features.parquet
     [--sessions 1,3,5] [--json out.json]
"""

import argparse
import json
import time

import keras
import numpy as np
from facemotion.common.scores import ccc
from facemotion.common.targets import bin_ratings
from facemotion.extraction.feature_table import model_input, read_feature_table
from facemotion.learning.fitting import TrainParams, configure_tensorflow, fit
from facemotion.learning.folds import split_fold
from facemotion.learning.tasks import RatingTask

DEMO = TrainParams(learning_rate=0.0005, batch_size=8, epochs=26, seed=0, threads=1, verbose=0,
                   dimensions="regression")


def ccc_loss(y_true, y_pred):
    """1 - the CCC of the batch: the loss that optimises the reported metric directly."""
    y_true = keras.ops.reshape(keras.ops.cast(y_true, "float32"), (-1,))
    y_pred = keras.ops.reshape(keras.ops.cast(y_pred, "float32"), (-1,))
    mean_true, mean_pred = keras.ops.mean(y_true), keras.ops.mean(y_pred)
    covariance = keras.ops.mean((y_true - mean_true) * (y_pred - mean_pred))
    denominator = keras.ops.var(y_true) + keras.ops.var(y_pred) + (mean_true - mean_pred) ** 2
    return 1.0 - 2.0 * covariance / (denominator + keras.backend.epsilon())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("features", help="a features.parquet of pixels (the demo's: results/features.parquet)")
    parser.add_argument("--sessions", default="1,3,5", help="held-out sessions, comma-separated")
    parser.add_argument("--json", help="write every fold's ratings and predictions here")
    args = parser.parse_args()
    table = read_feature_table(args.features)
    features, meta = model_input(table, "pixels"), table.meta
    configure_tensorflow(DEMO.threads, DEMO.seed)
    results = []
    for target in ("activation", "valence"):
        ratings = meta[target].to_numpy(dtype=float)
        rows = np.flatnonzero(~np.isnan(ratings))
        y = ratings[rows]
        sessions = meta["session"].astype(str).to_numpy()[rows]
        for session in args.sessions.split(","):
            split = split_fold(sessions, bin_ratings(y), session, "loso")
            for name, loss in (("mse", "mean_squared_error"), ("ccc", ccc_loss)):
                configure_tensorflow(DEMO.threads, DEMO.seed)
                started = time.perf_counter()
                task = RatingTask(target, DEMO, loss=loss)
                fitted = fit(task, features, rows[split.train], y[split.train], rows[split.val], y[split.val], DEMO,
                             select=True)
                predicted = task.predict(fitted.model, features, rows[split.test], fitted.state, DEMO.batch_size)
                info = fitted.info
                results.append({"target": target, "session": session, "loss": name,
                                "ccc": ccc(y[split.test], predicted), "best_epoch": info["best_epoch"],
                                "y": y[split.test].tolist(), "p": predicted.tolist()})
                print(f"{target} session {session} {name}: CCC {results[-1]['ccc']:.3f}, epoch {info['best_epoch']}, "
                      f"{time.perf_counter() - started:.0f} s", flush=True)
    for target in ("activation", "valence"):
        for name in ("mse", "ccc"):
            runs = [r for r in results if r["target"] == target and r["loss"] == name]
            pooled = ccc(np.concatenate([r["y"] for r in runs]), np.concatenate([r["p"] for r in runs]))
            print(f"{target} {name}: fold mean CCC {np.mean([r['ccc'] for r in runs]):.3f}, pooled {pooled:.3f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle)


if __name__ == "__main__":
    main()
