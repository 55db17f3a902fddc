"""Simulated cross-corpus tests, for the coverage of the interval over a test corpus's speakers
(facemotion.evaluation.cross_corpus; tests/test_cross_corpus.py, tests/benchmarks/bench_cross_corpus.py).

One test corpus, tested as one fold by R training runs of one recipe on other corpora. Each test
clip is right with probability logistic(class base + speaker + speaker x class + run + run x class
+ run x speaker + clip hardness), on the logit scale:

- speakers differ overall (sd 0.6) and per class (sd 0.4): a speaker's UAR varies with sd 0.11;
- training runs differ overall and per class (the same sd for both: a run trades one class for
  another), set so that a run's expected UAR varies between runs with sd ``run_sd``; and a run
  suits some speakers better than others (sd 0.25);
- a clip is hard or easy for every run alike (sd 1.0): one run's misses are the others' too.

Misses go to another class (only the diagonal and the class totals enter the UAR). The speaker's
metric is the UAR over their clips, as summary.tsv computes it; the truths are the expected UAR of
a training run on a new speaker of the corpus (what the interval with R >= 2 is about) and, per
simulated test, the expected UAR of its first run's model on a new speaker (what the interval with
R = 1 is about). Both are computed exactly (Gauss-Hermite quadrature over the normal effects).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from facemotion.evaluation.statistics import metrics_from_counts
from scipy import optimize, special


@dataclass(frozen=True)
class CrossShape:
    """A test corpus: its speakers and each speaker's test clips per class (Angry, Happy, Neutral, Sad)."""

    speakers: int
    clips_per_class: tuple[int, ...]


CROSS_SHAPES = {
    "IEMOCAP (10 speakers)": CrossShape(10, (110, 164, 171, 108)),
    "RAVDESS (24 actors)": CrossShape(24, (8, 8, 4, 8)),
    "CREMA-D (91 actors)": CrossShape(91, (13, 13, 12, 13)),
}
# A cross-corpus model: weaker than within a corpus, and uneven over the classes.
BASE_RECALL = np.array([0.55, 0.70, 0.50, 0.35])
SD_SPEAKER, SD_SPEAKER_CLASS, SD_RUN_SPEAKER, SD_CLIP = 0.6, 0.4, 0.25, 1.0
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(60)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


def _expected_recall(logit: np.ndarray, sd: float) -> np.ndarray:
    """E logistic(logit + sd Z), Z standard normal, elementwise."""
    return special.expit(np.asarray(logit)[..., None] + sd * _NODES) @ _WEIGHTS


def _within_run_sd() -> float:
    """The sd of the effects that vary within one run (speaker, run x speaker, clip)."""
    return float(np.sqrt(SD_SPEAKER**2 + SD_SPEAKER_CLASS**2 + SD_RUN_SPEAKER**2 + SD_CLIP**2))


def run_uar_sd(logit_sd: float, runs: int = 20_000) -> float:
    """The sd between runs of a run's expected UAR when run and run x class effects have ``logit_sd``."""
    rng = np.random.default_rng(7)
    shifts = rng.normal(0, logit_sd, (runs, 1)) + rng.normal(0, logit_sd, (runs, len(BASE_RECALL)))
    return float(_expected_recall(special.logit(BASE_RECALL) + shifts, _within_run_sd()).mean(axis=1).std())


@lru_cache
def run_logit_sd(run_sd: float) -> float:
    """The logit sd of the run effects whose runs' expected UARs differ with sd ``run_sd``."""
    if run_sd == 0:
        return 0.0
    return float(optimize.brentq(lambda sd: run_uar_sd(sd) - run_sd, 1e-4, 5.0, xtol=1e-5))


def expected_uar(run_sd: float) -> float:
    """The expected UAR of a training run on a new speaker."""
    total = np.sqrt(_within_run_sd() ** 2 + 2 * run_logit_sd(run_sd) ** 2)
    return float(_expected_recall(special.logit(BASE_RECALL), total).mean())


@dataclass
class CrossTest:
    uar: np.ndarray  # (repeats, speakers): each speaker's UAR per run
    model_uar: float  # the expected UAR of the first run's model on a new speaker


def simulate_cross_test(shape: CrossShape, repeats: int, run_sd: float, rng: np.random.Generator) -> CrossTest:
    """One test corpus's per-speaker UARs from ``repeats`` runs (see the module's docstring)."""
    n = np.asarray(shape.clips_per_class)
    k, s = len(n), shape.speakers
    run = run_logit_sd(run_sd)
    cls = np.repeat(np.arange(k), n)  # the class of each of a speaker's clips
    speaker = rng.normal(0, SD_SPEAKER, (s, 1)) + rng.normal(0, SD_SPEAKER_CLASS, (s, k))
    runs = rng.normal(0, run, (repeats, 1)) + rng.normal(0, run, (repeats, k))
    logit = (special.logit(BASE_RECALL)[None, None, :] + speaker[None] + runs[:, None, :]
             + rng.normal(0, SD_RUN_SPEAKER, (repeats, s, 1)))[:, :, cls]  # (repeats, s, clips)
    right = rng.random(logit.shape) < special.expit(logit + rng.normal(0, SD_CLIP, (s, len(cls)))[None])
    hits = np.zeros((repeats, s, k))
    for c in range(k):
        hits[:, :, c] = right[:, :, cls == c].sum(axis=-1)
    counts = np.zeros((repeats, s, k, k))
    counts[:, :, np.arange(k), np.arange(k)] = hits
    counts[:, :, np.arange(k), (np.arange(k) + 1) % k] = n - hits
    model = _expected_recall(special.logit(BASE_RECALL) + runs[0], _within_run_sd()).mean()
    return CrossTest(metrics_from_counts(counts)["uar"], float(model))
