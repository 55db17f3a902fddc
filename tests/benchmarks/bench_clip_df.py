"""Coverage of the interval over test clips and training runs (facemotion.evaluation.statistics.
clip_intervals with R >= 2 repeats) with two choices of its t quantile's degrees of freedom:
R - 1 (the summary's, statistics.runs_se) and Welch-Satterthwaite's, estimated from the variance
between the runs. Both use the same standard error, sqrt(bootstrap variance + s_r^2 / R).

A benchmark of one test set (FERV39k's shape, corpus_simulation.CLIP_SHAPES) whose training runs' UAR varies with sd
0.01 or 0.04; the truth is the expected UAR of a training run.
Run: PYTHONPATH=workflow:tests python tests/benchmarks/bench_clip_df.py [--trials 400]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus_simulation import CLIP_SHAPES, simulate_clip_runs  # noqa: E402
from facemotion.evaluation.statistics import (  # noqa: E402
    LEVEL,
    clip_bootstrap,
    clip_intervals,
    metrics_from_counts,
)


def repeat_uars(run) -> np.ndarray:
    """(repeats,) each repeat's fold-mean UAR as tested."""
    k, folds = run.predicted.max() + 1, np.unique(run.folds)
    uars = np.zeros((len(run.predicted), len(folds)))
    for r, predicted in enumerate(run.predicted):
        for column, fold in enumerate(folds):
            rows = run.folds == fold
            counts = np.bincount(run.true[rows] * k + predicted[rows], minlength=k * k).reshape(k, k)
            uars[r, column] = metrics_from_counts(counts)["uar"]
    return uars.mean(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--resamples", type=int, default=500)
    args = parser.parse_args()
    name = "FERV39k (1 test set of 7,847 clips, 7 classes)"  # one fold: the resampled UAR is a plain mean
    shape = CLIP_SHAPES[name]
    classes = [str(c) for c in range(len(shape.class_shares))]
    started = time.perf_counter()
    print(f"{name}: coverage of a training run's expected UAR, {args.trials} benchmarks per row, "
          f"{args.resamples} resamples each; Monte Carlo error near 0.95: "
          f"+-{1.96 * np.sqrt(0.95 * 0.05 / args.trials):.3f}")
    print(f"{'run sd':>6s} {'R':>2s}  {'t(R - 1)':>8s}  {'Welch-Satterthwaite':>19s}")
    quantile = 0.5 + LEVEL / 2
    for spread in (0.01, 0.04):
        for repeats in (2, 3, 5):
            rng = np.random.default_rng([int(1000 * spread), repeats, 2])
            covered = np.zeros(2)
            for _ in range(args.trials):
                run = simulate_clip_runs(shape, repeats, rng, run_sd=spread)
                seed = int(rng.integers(1 << 30))
                out = clip_intervals(run.true, run.predicted, run.folds, classes, args.resamples, seed)
                uars = repeat_uars(run)
                # The same standard error as the summary's: the same resamples (the same seed).
                resampled = metrics_from_counts(clip_bootstrap(run.true, run.predicted, run.folds, len(classes),
                                                               args.resamples, seed))["uar"].mean(axis=(1, 2))
                runs_part = np.var(uars, ddof=1) / repeats
                se = np.sqrt(np.var(resampled, ddof=1) + runs_part)
                welch_df = se**4 / (runs_part**2 / (repeats - 1)) if runs_part > 0 else np.inf
                covered += [out["uar_ci_low"] <= run.expected_uar <= out["uar_ci_high"],
                            abs(run.expected_uar - uars.mean()) <= stats.t.ppf(quantile, welch_df) * se]
            print(f"{spread:6.2f} {repeats:2d}  {covered[0] / args.trials:8.3f}  {covered[1] / args.trials:19.3f}",
                  flush=True)
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
