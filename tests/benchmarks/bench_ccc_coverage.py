"""Coverage of the pooled CCC's 95 % interval (rating targets, summary.tsv `ccc_ci_low/high`), with
the misses above and below the truth counted apart, and the bias of the estimates it may be centred
on: the interval of summary.tsv (facemotion.evaluation.rating_metrics.pooled_ccc_interval: a
jackknife on Fisher's z of the moment-corrected pooled CCC, corrected_pooled_ccc), the same
jackknife centred on the plain pooled CCC or on its jackknife bias-corrected value; and of the
folds' mean CCC's t-interval (``ccc_fold_mean``).

Folds differ in their rating level and in how well their model does (as in
tests/test_regression.py); the truth is the CCC of the population the folds are drawn from.
Run: PYTHONPATH=workflow python tests/benchmarks/bench_ccc_coverage.py [--datasets 2000]
"""

import argparse
import time

import numpy as np
import pandas as pd
from facemotion.evaluation.rating_metrics import corrected_pooled_ccc, pooled_ccc_interval
from scipy import stats

SHAPES = {  # name: (sd of the folds' rating level, mean slope of the predictions, their noise)
    "folds differ a little, good model": (0.35, 0.6, 0.5),
    "folds differ much, weak model": (0.7, 0.3, 0.6),
}
METHODS = ("summary.tsv: moment-corrected centre", "plain centre", "jackknife bias-corrected centre",
           "folds' mean, t")


def draw(rng, n_folds, per_fold, level_sd=0.35, slope=0.6, noise=0.5):
    level = rng.normal(3, level_sd, n_folds)
    slopes, bias = rng.normal(slope, 0.15, n_folds), rng.normal(0, 0.25, n_folds)
    y = level[:, None] + rng.normal(0, 0.8, (n_folds, per_fold))
    return y, 3 + slopes[:, None] * (y - 3) + bias[:, None] + rng.normal(0, noise, (n_folds, per_fold))


def ccc(y, p):
    covariance = np.mean((y - y.mean()) * (p - p.mean()))
    return 2 * covariance / (y.var() + p.var() + (y.mean() - p.mean()) ** 2)


def intervals(y, p):
    """The intervals of METHODS, in that order."""
    n = len(y)
    table = pd.DataFrame({"fold": np.repeat(np.arange(n), y.shape[1]).astype(str),
                          "recording": np.arange(y.size).astype(str), "y_true": y.ravel(), "y_pred": p.ravel()})
    _, low, high, _ = pooled_ccc_interval(table)
    z = np.arctanh(ccc(y.ravel(), p.ravel()))
    z_out = np.arctanh([ccc(np.delete(y, f, 0).ravel(), np.delete(p, f, 0).ravel()) for f in range(n)])
    half = stats.t.ppf(0.975, n - 1) * np.sqrt((n - 1) / n * np.sum((z_out - z_out.mean()) ** 2))
    corrected = n * z - (n - 1) * z_out.mean()
    folds = np.array([ccc(a, b) for a, b in zip(y, p)])
    fold_half = stats.t.ppf(0.975, n - 1) * folds.std(ddof=1) / np.sqrt(n)
    return ((low, high), (np.tanh(z - half), np.tanh(z + half)), (np.tanh(corrected - half), np.tanh(corrected + half)),
            (folds.mean() - fold_half, min(folds.mean() + fold_half, 1.0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=2000)
    args = parser.parse_args()
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    margin = 1.96 * np.sqrt(0.95 * 0.05 / args.datasets)
    for shape, parameters in SHAPES.items():
        # The population: many folds, each large enough that its CCC is its population value.
        y, p = draw(rng, 4000, 2000, *parameters)
        truth_pooled, truth_folds = ccc(y.ravel(), p.ravel()), np.mean([ccc(a, b) for a, b in zip(y, p)])
        print(f"{shape}: pooled CCC {truth_pooled:.3f}, folds' mean {truth_folds:.3f}; {args.datasets} data sets a "
              f"row (Monte Carlo error of a coverage near 0.95: +-{margin:.3f})")
        run(rng, parameters, truth_pooled, truth_folds, args.datasets)
    print(f"{time.perf_counter() - started:.0f} s")


def run(rng, parameters, truth_pooled, truth_folds, datasets) -> None:
    print("folds  per fold  interval                              coverage  misses below  misses above  "
          "(bias: plain, moment-corrected)")
    for n_folds, per_fold in ((4, 40), (6, 40), (6, 200), (12, 40)):
        counts = np.zeros((len(METHODS), 2))
        plain, corrected = [], []
        for _ in range(datasets):
            y, p = draw(rng, n_folds, per_fold, *parameters)
            plain.append(ccc(y.ravel(), p.ravel()))
            corrected.append(corrected_pooled_ccc(y.ravel(), p.ravel(), np.repeat(np.arange(n_folds), per_fold)))
            for row, (low, high) in enumerate(intervals(y, p)):
                truth = truth_folds if METHODS[row].startswith("folds'") else truth_pooled
                counts[row] += [truth < low, truth > high]
        for row, name in enumerate(METHODS):
            below, above = counts[row] / datasets
            bias = (f"  ({np.mean(plain) - truth_pooled:+.4f}, {np.mean(corrected) - truth_pooled:+.4f})"
                    if row == 0 else "")
            print(f"{n_folds:5d}  {per_fold:8d}  {name:36s}  {1 - below - above:8.3f}  {below:12.3f}  {above:12.3f}"
                  f"{bias}", flush=True)


if __name__ == "__main__":
    main()
