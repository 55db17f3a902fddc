"""Coverage and width of the summary's 95 % UAR intervals in simulated corpora of every shape the
readers serve, beside the alternatives the method was chosen over.

Methods:
- ``t over folds`` (the project's, facemotion.evaluation.statistics.interval_summary): t-interval over the
  fold values (each the mean over its repeats);
- ``bootstrap within folds`` (the project's method until December 2026): 2.5th-97.5th
  percentile of fold means when each fold's speakers are resampled with replacement;
- ``t over speakers``: t-interval over the speakers' own UARs, centred on the fold mean.

Scenarios: between-speaker spread ``sd_speaker`` 0.10 / 0.15 / 0.20; with fold and seed effects
(sd 0.02 each: folds' models differ, and so do training repeats) or without; 1 or 5 repeats.

``--clips``: the benchmarks whose clips carry no speaker ids (DFEW, MAFW, FERV39k shapes,
corpus_simulation.CLIP_SHAPES), where the summary's interval is the bootstrap of test clips within
folds (facemotion.evaluation.statistics.clip_intervals); 1 or 3 repeats.
Run: PYTHONPATH=workflow:tests python tests/benchmarks/bench_coverage.py [--trials 1000] [--clips]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus_simulation import CLIP_SHAPES, SHAPES, simulate, simulate_clips, true_uar  # noqa: E402
from facemotion.evaluation.statistics import clip_intervals, interval_summary, metrics_from_counts  # noqa: E402

BOOTSTRAP_RESAMPLES = 500
CLASSES = ["Angry", "Happy", "Neutral", "Sad"]


def bootstrap_within_folds(units, rng) -> tuple[float, float]:
    counts = units.counts.mean(axis=0)  # (u, k, k): repeats averaged
    fold_uars = []
    for fold in range(units.n_folds):
        members = counts[units.folds == fold]
        draws = rng.integers(0, len(members), size=(BOOTSTRAP_RESAMPLES, len(members)))
        fold_uars.append(metrics_from_counts(members[draws].sum(axis=1))["uar"])
    return tuple(np.percentile(np.mean(fold_uars, axis=0), [2.5, 97.5]))


def t_over_speakers(units, centre) -> tuple[float, float]:
    uars = metrics_from_counts(units.counts)["uar"].mean(axis=0)  # (speakers,): repeats averaged
    half = stats.t.ppf(0.975, len(uars) - 1) * uars.std(ddof=1) / np.sqrt(len(uars))
    return centre - half, centre + half


def run(shape, sd_speaker, sd_fold, sd_seed, repeats, trials, seed):
    rng = np.random.default_rng(seed)
    truth = true_uar(sd_speaker, sd_fold, sd_seed, len(shape.recordings_per_class), rng)
    results = {"t over folds": [], "bootstrap within folds": [], "t over speakers": []}
    for _ in range(trials):
        units = simulate(shape, sd_speaker, sd_fold, sd_seed, repeats, rng)
        summary = interval_summary(units, CLASSES)
        intervals = {"t over folds": (summary["uar_ci_low"], summary["uar_ci_high"]),
                     "bootstrap within folds": bootstrap_within_folds(units, rng),
                     "t over speakers": t_over_speakers(units, summary["uar"])}
        for name, (low, high) in intervals.items():
            results[name].append((low <= truth <= high, high - low))
    return {name: (np.mean([c for c, _ in rows]), np.median([w for _, w in rows])) for name, rows in results.items()}


def run_clips(trials: int, resamples: int = 1000) -> None:
    started = time.perf_counter()
    print(f"coverage of nominal 95 % of the bootstrap over test clips (median width in UAR points), {trials} "
          f"benchmarks per row, {resamples} resamples each; Monte Carlo error near 0.95: "
          f"+-{1.96 * np.sqrt(0.95 * 0.05 / trials):.3f}")
    lowest = 1.0
    for name, shape in CLIP_SHAPES.items():
        classes = [str(c) for c in range(len(shape.class_shares))]
        for repeats in (1, 3):
            rng = np.random.default_rng(len(name) + repeats)
            rows = []
            for _ in range(trials):
                true, predicted, folds, truth = simulate_clips(shape, repeats, rng)
                out = clip_intervals(true, predicted, folds, classes, resamples, int(rng.integers(1 << 30)))
                rows.append((out["uar_ci_low"] <= truth <= out["uar_ci_high"], out["uar_ci_high"] - out["uar_ci_low"]))
            coverage, width = np.mean([c for c, _ in rows]), np.median([w for _, w in rows])
            lowest = min(lowest, coverage)
            print(f"{name:48s} R={repeats}  {coverage:.3f} ({100 * width:4.1f})", flush=True)
    print(f"lowest coverage: {lowest:.3f}; {time.perf_counter() - started:.0f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000, help="simulated corpora per scenario")
    parser.add_argument("--clips", action="store_true", help="the benchmarks without speaker ids")
    args = parser.parse_args()
    if args.clips:
        run_clips(args.trials)
        return
    started = time.perf_counter()
    print(f"coverage of nominal 95 % (median width in UAR points), {args.trials} corpora per row; "
          f"Monte Carlo error of a coverage near 0.95: +-{1.96 * np.sqrt(0.95 * 0.05 / args.trials):.3f}")
    names = ["t over folds", "bootstrap within folds", "t over speakers"]
    print(f"{'shape':40s} {'sd_spk':>6s} {'fold/seed':>9s} {'R':>2s}  " + "  ".join(f"{n:>22s}" for n in names))
    lowest = 1.0
    for shape_name, shape in SHAPES.items():
        for sd_speaker in (0.10, 0.15, 0.20):
            for sd_effects, repeats in ((0.0, 1), (0.02, 1), (0.02, 5)):
                result = run(shape, sd_speaker, sd_effects, sd_effects, repeats, args.trials, seed=len(shape_name))
                lowest = min(lowest, result["t over folds"][0])
                cells = "  ".join(f"{result[n][0]:>14.3f} ({100 * result[n][1]:4.1f})" for n in names)
                print(f"{shape_name:40s} {sd_speaker:6.2f} {sd_effects:9.2f} {repeats:2d}  {cells}", flush=True)
    print(f"lowest coverage of t over folds: {lowest:.3f}; {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
