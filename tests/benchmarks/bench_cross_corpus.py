"""Coverage and width of the 95 % UAR interval of a test corpus tested as one fold (cv.protocol
cross_corpus, leave_one_corpus_out: facemotion.evaluation.cross_corpus), in simulated test corpora
(tests/cross_corpus_simulation.py) whose training runs differ by ``--spreads`` (the sd of a run's
expected UAR between runs), with R = 1, 2, 3 or 5 runs.

The interval is over the test corpus's speakers (each speaker's UAR averaged over the runs) with
the variance between the runs' means added: mean +- t(df) * sqrt(s_speakers^2 / S + s_runs^2 / R).
Its degrees of freedom, compared:
- ``fewest df``: the fewest of the estimated parts' own, min(S - 1, R - 1) (S - 1 with one run);
- ``Welch-Satterthwaite``: estimated from the two parts;
- ``speakers only``: t(S - 1) over the speakers, the runs' part left out.
``summary.tsv`` is the project's (cross_corpus.speaker_repeat_interval, the metrics of confusion
counts as the summary computes them). Truths: ``run`` the expected UAR of a training run on a new
speaker of the corpus; ``model`` (R = 1) that of the first run's trained model.
Run: PYTHONPATH=workflow:tests python tests/benchmarks/bench_cross_corpus.py [--trials 2000]
[--spreads 0.01 0.04 0.08]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cross_corpus_simulation import CROSS_SHAPES, expected_uar, simulate_cross_test  # noqa: E402
from facemotion.evaluation.cross_corpus import speaker_repeat_interval  # noqa: E402
from facemotion.evaluation.statistics import LEVEL  # noqa: E402

REPEATS = (1, 2, 3, 5)
METHODS = ("summary.tsv", "fewest df", "Welch-Satterthwaite", "speakers only")


def alternatives(values: np.ndarray) -> dict[str, tuple[float, float]]:
    """The intervals the summary's was chosen among, from (repeats, speakers) values."""
    per_speaker = values.mean(axis=0)
    s, r = values.shape[1], values.shape[0]
    mean = per_speaker.mean()
    speakers = per_speaker.var(ddof=1) / s
    runs = values.mean(axis=1).var(ddof=1) / r if r > 1 else 0.0
    se = np.sqrt(speakers + runs)
    welch = (speakers + runs) ** 2 / (speakers**2 / (s - 1) + (runs**2 / (r - 1) if r > 1 else 0.0))
    q = 0.5 + LEVEL / 2
    out = {"fewest df": stats.t.ppf(q, min(s - 1, r - 1) if r > 1 else s - 1) * se,
           "Welch-Satterthwaite": stats.t.ppf(q, welch) * se,
           "speakers only": stats.t.ppf(q, s - 1) * np.sqrt(speakers)}
    return {name: (mean - half, mean + half) for name, half in out.items()}


def run(shape, repeats: int, spread: float, trials: int, seed) -> dict:
    rng = np.random.default_rng(seed)
    truth = expected_uar(spread)
    covered = {name: [] for name in METHODS}
    model_covered = {name: [] for name in METHODS}
    widths = {name: [] for name in METHODS}
    for _ in range(trials):
        test = simulate_cross_test(shape, repeats, spread, rng)
        intervals = {"summary.tsv": speaker_repeat_interval(test.uar), **alternatives(test.uar)}
        for name, (low, high) in intervals.items():
            covered[name].append(low <= truth <= high)
            model_covered[name].append(low <= test.model_uar <= high)
            widths[name].append(high - low)
    return {name: (np.mean(covered[name]), np.mean(model_covered[name]), np.median(widths[name]))
            for name in METHODS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000, help="simulated test corpora per row")
    parser.add_argument("--spreads", type=float, nargs="+", default=[0.01, 0.04, 0.08],
                        help="sd of a training run's expected UAR between runs")
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"coverage of nominal 95 % of a training run's expected UAR (R = 1: and of the run's model, 'model'), "
          f"median width in UAR points; {args.trials} test corpora per row; Monte Carlo error near 0.95: "
          f"+-{1.96 * np.sqrt(0.95 * 0.05 / args.trials):.3f}")
    print(f"{'test corpus':24s} {'run sd':>6s} {'R':>2s}  " + "  ".join(f"{n:>19s}" for n in METHODS)
          + f"  {'model (summary.tsv)':>19s}")
    lowest = 1.0
    for name, shape in CROSS_SHAPES.items():
        for spread in args.spreads:
            for repeats in REPEATS:
                result = run(shape, repeats, spread, args.trials, [shape.speakers, int(1000 * spread), repeats])
                cells = "  ".join(f"{result[m][0]:>11.3f} ({100 * result[m][2]:5.1f})" for m in METHODS)
                truth = result["summary.tsv"][1] if repeats == 1 else result["summary.tsv"][0]
                lowest = min(lowest, truth)
                model = f"{result['summary.tsv'][1]:19.3f}" if repeats == 1 else f"{'':19s}"
                print(f"{name:24s} {spread:6.2f} {repeats:2d}  {cells}  {model}", flush=True)
    print(f"lowest coverage of summary.tsv's interval (R = 1: of the run's model; R >= 2: of a run's expected "
          f"UAR): {lowest:.3f}; {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
