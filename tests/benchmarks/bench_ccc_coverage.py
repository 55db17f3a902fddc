"""Coverage of the pooled CCC's 95 % interval (rating targets, summary.tsv `ccc_ci_low/high`), with
the misses above and below the truth counted apart, and the bias of the estimates it may be centred
on. The intervals compared: summary.tsv's (facemotion.evaluation.rating_metrics.pooled_ccc_interval:
a delete-one-fold jackknife on Fisher's z of the moment-corrected pooled CCC, corrected_pooled_ccc,
with t(F - 1)); the same jackknife centred on the plain pooled CCC, or on the jackknife
bias-corrected value of the moment-corrected one; the moment-corrected jackknife on the raw CCC
scale, and on 1.25 atanh(CCC / 1.25), a scale between the two; and the folds' mean CCC's t-interval
(``ccc_fold_mean``), which has a truth of its own.

Folds differ in their rating level and in how well their model does (as in
tests/test_regression.py). The truth is the CCC of the population the folds are drawn from, from
its moments (``population_ccc``; the folds' mean from 2 million folds' parameters), not from a
simulated population: one of 4000 folds put it 0.003 off, which moved about 0.3 points of misses
from one side to the other. The intervals are computed from each fold's sufficient statistics, all
data sets at once; the first data sets of every row are checked against pooled_ccc_interval itself.
Run: PYTHONPATH=workflow python tests/benchmarks/bench_ccc_coverage.py [--datasets 40000]
"""

import argparse
import time

import numpy as np
import pandas as pd
from facemotion.evaluation.rating_metrics import pooled_ccc_interval
from scipy import stats

SHAPES = {  # name: (sd of the folds' rating level, mean slope of the predictions, their noise)
    "folds differ a little, good model": (0.35, 0.6, 0.5),
    "folds differ much, weak model": (0.7, 0.3, 0.6),
}
SIZES = ((4, 40), (6, 40), (6, 200), (12, 40))
WITHIN_SD, SLOPE_SD, BIAS_SD = 0.8, 0.15, 0.25
METHODS = ("summary.tsv: moment-corrected, z", "plain centre, z", "jackknife bias-corrected, z",
           "moment-corrected, raw scale", "moment-corrected, 1.25 atanh(x/1.25)", "folds' mean, t")
CHUNK = 1000


def population_ccc(level_sd, slope, noise):
    """The pooled CCC of infinitely many folds of infinitely many recordings: ratings and predictions
    both average 3, var(y) = level_sd^2 + WITHIN_SD^2 = V, cov = slope V and var(p) = (slope^2 +
    SLOPE_SD^2) V + BIAS_SD^2 + noise^2."""
    v = level_sd**2 + WITHIN_SD**2
    return 2 * slope * v / (v + (slope**2 + SLOPE_SD**2) * v + BIAS_SD**2 + noise**2)


def population_fold_mean(rng, level_sd, slope, noise, folds=2_000_000):
    """The mean over folds of a fold's population CCC, over 2 million folds' parameters."""
    level, slopes = rng.normal(3, level_sd, folds), rng.normal(slope, SLOPE_SD, folds)
    bias = rng.normal(0, BIAS_SD, folds)
    w = WITHIN_SD**2
    return np.mean(2 * slopes * w / (w * (1 + slopes**2) + noise**2 + ((1 - slopes) * (level - 3) - bias) ** 2))


def draw(rng, datasets, n_folds, per_fold, level_sd, slope, noise):
    """(y, p), each (datasets, n_folds, per_fold)."""
    level = rng.normal(3, level_sd, (datasets, n_folds))
    slopes, bias = rng.normal(slope, SLOPE_SD, (datasets, n_folds)), rng.normal(0, BIAS_SD, (datasets, n_folds))
    y = level[..., None] + rng.normal(0, WITHIN_SD, (datasets, n_folds, per_fold))
    return y, 3 + slopes[..., None] * (y - 3) + bias[..., None] + rng.normal(0, noise, y.shape)


def fold_statistics(y, p):
    """(..., folds, 5): each fold's mean rating and prediction and its within-fold sums of squares
    and products (yy, pp, yp)."""
    y_mean, p_mean = y.mean(-1), p.mean(-1)
    yc, pc = y - y_mean[..., None], p - p_mean[..., None]
    return np.stack([y_mean, p_mean, (yc * yc).sum(-1), (pc * pc).sum(-1), (yc * pc).sum(-1)], -1)


def corrected(s, per_fold):
    """corrected_pooled_ccc of equal folds from their statistics (..., folds, 5)."""
    n_folds = s.shape[-2]
    n = n_folds * per_fold
    y_mean, p_mean, syy, spp, syp = np.moveaxis(s, -1, 0)

    def moment(a, b, within_sum):
        within = within_sum.sum(-1) / (n - n_folds)
        between = np.mean((a - a.mean(-1, keepdims=True)) * (b - b.mean(-1, keepdims=True)), -1)
        spread = (between - within * (n_folds - 1) / n) / (1 - 1 / n_folds)
        return within + spread, within, spread

    difference = y_mean - p_mean
    _, within_difference, spread_difference = moment(difference, difference, syy + spp - 2 * syp)
    squared = difference.mean(-1) ** 2 - spread_difference / n_folds - within_difference / n
    variances = moment(y_mean, y_mean, syy)[0] + moment(p_mean, p_mean, spp)[0]
    return 2 * moment(y_mean, p_mean, syp)[0] / (variances + squared)


def plain(s, per_fold):
    """The pooled CCC (population moments) of equal folds from their statistics."""
    n = s.shape[-2] * per_fold
    y_mean, p_mean, syy, spp, syp = np.moveaxis(s, -1, 0)
    yc, pc = y_mean - y_mean.mean(-1, keepdims=True), p_mean - p_mean.mean(-1, keepdims=True)
    return (2 * (syp.sum(-1) / n + np.mean(yc * pc, -1))
            / (syy.sum(-1) / n + np.mean(yc**2, -1) + spp.sum(-1) / n + np.mean(pc**2, -1)
               + (y_mean.mean(-1) - p_mean.mean(-1)) ** 2))


def leave_one_out(s):
    n_folds = s.shape[-2]
    return s[..., [[j for j in range(n_folds) if j != i] for i in range(n_folds)], :]


def jackknife(centre, left_out, q, scale, back):
    """A t-interval at ``centre`` with the delete-one-fold jackknife's standard error, on ``scale``."""
    n_folds = left_out.shape[-1]
    u = scale(left_out)
    se = np.sqrt((n_folds - 1) / n_folds * ((u - u.mean(-1, keepdims=True)) ** 2).sum(-1))
    return np.clip(back(centre - q * se), -1, 1), np.clip(back(centre + q * se), -1, 1)


def z(value):
    return np.arctanh(np.clip(value, -1 + 1e-12, 1 - 1e-12))


def between(value):
    return 1.25 * np.arctanh(np.clip(value / 1.25, -1 + 1e-12, 1 - 1e-12))


def intervals(y, p):
    """The intervals of METHODS, in that order, each (low, high) of (datasets,), and the estimates
    (plain, moment-corrected)."""
    n_folds, per_fold = y.shape[1:]
    s = fold_statistics(y, p)
    folds_out = leave_one_out(s)
    q = stats.t.ppf(0.975, n_folds - 1)
    estimate, estimate_out = corrected(s, per_fold), corrected(folds_out, per_fold)
    plain_estimate, plain_out = plain(s, per_fold), plain(folds_out, per_fold)
    z_corrected = n_folds * z(estimate) - (n_folds - 1) * z(estimate_out).mean(-1)
    fold = 2 * s[..., 4] / (s[..., 2] + s[..., 3] + per_fold * (s[..., 0] - s[..., 1]) ** 2)
    fold_half = q * fold.std(-1, ddof=1) / np.sqrt(n_folds)
    return ([jackknife(z(estimate), estimate_out, q, z, np.tanh),
             jackknife(z(plain_estimate), plain_out, q, z, np.tanh),
             jackknife(z_corrected, estimate_out, q, z, np.tanh),
             jackknife(estimate, estimate_out, q, lambda x: x, lambda x: x),
             jackknife(between(estimate), estimate_out, q, between, lambda u: 1.25 * np.tanh(u / 1.25)),
             (np.maximum(fold.mean(-1) - fold_half, -1), np.minimum(fold.mean(-1) + fold_half, 1))],
            (plain_estimate, estimate))


def check(y, p, low, high) -> None:
    """summary.tsv's interval of the first data sets by pooled_ccc_interval itself."""
    for d in range(min(5, len(y))):
        n_folds, per_fold = y.shape[1:]
        table = pd.DataFrame({"fold": np.repeat(np.arange(n_folds), per_fold).astype(str),
                              "recording": np.arange(y[d].size).astype(str), "y_true": y[d].ravel(),
                              "y_pred": p[d].ravel()})
        _, by_function_low, by_function_high, _ = pooled_ccc_interval(table)
        np.testing.assert_allclose([low[d], high[d]], [by_function_low, by_function_high], rtol=1e-9, atol=1e-12)


def run(rng, parameters, truth_pooled, truth_folds, datasets) -> None:
    print("folds  per fold  interval                               coverage  misses below  misses above  "
          "(bias: plain, moment-corrected)")
    for n_folds, per_fold in SIZES:
        counts = np.zeros((len(METHODS), 2))
        bias = np.zeros(2)
        for start in range(0, datasets, CHUNK):
            y, p = draw(rng, min(CHUNK, datasets - start), n_folds, per_fold, *parameters)
            found, estimates = intervals(y, p)
            if start == 0:
                check(y, p, *found[0])
            for row, (low, high) in enumerate(found):
                truth = truth_folds if METHODS[row].startswith("folds'") else truth_pooled
                counts[row] += [np.sum(truth < low), np.sum(truth > high)]
            bias += [np.sum(e - truth_pooled) for e in estimates]
        for row, name in enumerate(METHODS):
            below, above = counts[row] / datasets
            note = f"  ({bias[0] / datasets:+.4f}, {bias[1] / datasets:+.4f})" if row == 0 else ""
            print(f"{n_folds:5d}  {per_fold:8d}  {name:37s}  {1 - below - above:8.3f}  {below:12.4f}  {above:12.4f}"
                  f"{note}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=40000)
    args = parser.parse_args()
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    margin, miss_margin = (1.96 * np.sqrt(rate * (1 - rate) / args.datasets) for rate in (0.95, 0.025))
    for shape, parameters in SHAPES.items():
        truth_pooled, truth_folds = population_ccc(*parameters), population_fold_mean(rng, *parameters)
        print(f"{shape}: pooled CCC {truth_pooled:.4f}, folds' mean {truth_folds:.4f}; {args.datasets} data sets "
              f"a row (Monte Carlo error: +-{margin:.4f} on a coverage near 0.95, +-{miss_margin:.4f} on a miss "
              f"rate near 0.025)")
        run(rng, parameters, truth_pooled, truth_folds, args.datasets)
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
