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
corpus_simulation.CLIP_SHAPES), where the summary's interval is over test clips within folds
(facemotion.evaluation.statistics.clip_intervals). Training runs differ: a run's UAR varies with
sd 0.01, 0.02 or 0.04 between runs (``--spreads``), with R = 1, 2, 3 or 5 repeats. Each row gives
the coverage of the expected UAR of a training run (what the interval with R >= 2 is about) and of
these trained models' UAR (what the interval with R = 1 is about).
``--clips --comparisons``: the paired comparison over clips of two systems of equal expected UAR
(corpus_simulation.simulate_clip_pair), its rejections at 0.05: with one repeat, of fixed models
of equal UAR ("fixed") and of training runs; with repeats, of training runs.
Run: PYTHONPATH=workflow:tests python tests/benchmarks/bench_coverage.py [--trials 1000] [--clips
[--comparisons] [--resamples 500] [--spreads 0.01 0.02 0.04]]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus_simulation import (  # noqa: E402
    CLIP_SHAPES,
    SHAPES,
    simulate,
    simulate_clip_pair,
    simulate_clip_runs,
    true_uar,
)
from facemotion.evaluation.statistics import (  # noqa: E402
    clip_intervals,
    interval_summary,
    metrics_from_counts,
    paired_clip_comparison,
)

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


CLIP_REPEATS = (1, 2, 3, 5)


def _margin(trials: int, share: float) -> float:
    """The Monte Carlo error (95 %) of a share near ``share`` over ``trials`` draws."""
    return 1.96 * np.sqrt(share * (1 - share) / trials)


def run_clips(trials: int, resamples: int, spreads) -> None:
    started = time.perf_counter()
    print(f"coverage of nominal 95 % of the interval over test clips (median width in UAR points), {trials} "
          f"benchmarks per row, {resamples} resamples each; Monte Carlo error near 0.95: +-{_margin(trials, 0.95):.3f}")
    print(f"{'shape':48s} {'run sd':>6s} {'R':>2s}  {'training run':>18s}  {'these models':>12s}")
    lowest = 1.0
    for name, shape in CLIP_SHAPES.items():
        classes = [str(c) for c in range(len(shape.class_shares))]
        for spread in spreads:
            for repeats in CLIP_REPEATS:
                rng = np.random.default_rng([len(name), int(1000 * spread), repeats])
                run_covered, models_covered, widths = [], [], []
                for _ in range(trials):
                    run = simulate_clip_runs(shape, repeats, rng, run_sd=spread)
                    out = clip_intervals(run.true, run.predicted, run.folds, classes, resamples,
                                         int(rng.integers(1 << 30)))
                    low, high = out["uar_ci_low"], out["uar_ci_high"]
                    run_covered.append(low <= run.expected_uar <= high)
                    models_covered.append(low <= run.models_uar <= high)
                    widths.append(high - low)
                if repeats > 1:
                    lowest = min(lowest, np.mean(run_covered))
                width = 100 * np.median(widths)
                print(f"{name:48s} {spread:6.2f} {repeats:2d}  {np.mean(run_covered):11.3f} ({width:4.1f})"
                      f"  {np.mean(models_covered):12.3f}", flush=True)
    print(f"lowest coverage of a training run's expected UAR with R >= 2: {lowest:.3f}; "
          f"{time.perf_counter() - started:.0f} s")


def run_clip_comparisons(trials: int, resamples: int, spreads) -> None:
    started = time.perf_counter()
    print(f"rejections at 0.05 of two systems of equal expected UAR, paired over test clips, {trials} benchmarks "
          f"per row, {resamples} resamples each; Monte Carlo error near 0.05: +-{_margin(trials, 0.05):.3f}")
    print(f"{'shape':48s} {'run sd':>6s} {'R':>2s}  {'rejections':>10s}")
    highest = 0.0
    for name, shape in CLIP_SHAPES.items():
        k = len(shape.class_shares)
        for spread, repeats in [(None, 1)] + [(spread, r) for spread in spreads for r in CLIP_REPEATS]:
            rng = np.random.default_rng([len(name), int(1000 * (spread or 0)), repeats, 1])
            rejected = []
            for _ in range(trials):
                true, a, b, folds = simulate_clip_pair(shape, repeats, rng, run_sd=spread)
                rejected.append(paired_clip_comparison(true, a, b, folds, k, resamples,
                                                       int(rng.integers(1 << 30)))["p_value"] < 0.05)
            if repeats > 1:
                highest = max(highest, np.mean(rejected))
            label = "fixed" if spread is None else f"{spread:6.2f}"
            print(f"{name:48s} {label:>6s} {repeats:2d}  {np.mean(rejected):10.3f}", flush=True)
    print(f"highest rejection rate with R >= 2: {highest:.3f}; {time.perf_counter() - started:.0f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000, help="simulated corpora per scenario")
    parser.add_argument("--clips", action="store_true", help="the benchmarks without speaker ids")
    parser.add_argument("--comparisons", action="store_true", help="with --clips: the paired comparison's level")
    parser.add_argument("--resamples", type=int, default=500, help="with --clips: bootstrap resamples per interval")
    parser.add_argument("--spreads", type=float, nargs="+", default=[0.01, 0.02, 0.04],
                        help="with --clips: sd of a training run's UAR between runs")
    args = parser.parse_args()
    if args.clips:
        (run_clip_comparisons if args.comparisons else run_clips)(args.trials, args.resamples, args.spreads)
        return
    started = time.perf_counter()
    print(f"coverage of nominal 95 % (median width in UAR points), {args.trials} corpora per row; "
          f"Monte Carlo error of a coverage near 0.95: +-{_margin(args.trials, 0.95):.3f}")
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
