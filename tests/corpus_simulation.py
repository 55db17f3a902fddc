"""Simulated cross-validation results of the corpus shapes the readers serve, for the coverage of
the summary's intervals (tests/test_statistics.py, tests/benchmarks/bench_coverage.py).

A speaker's recall of a class is ``skill + class offset + fold effect + seed effect``, clipped to
[0.02, 0.98]: skill varies between speakers (``sd_speaker``, 0.10-0.20 in real corpora), the fold
effect between the folds' trained models, the seed effect between training repeats of one fold.
Each test recording is right with that probability, else a wrong class at random. The true UAR,
which an interval should hold, is the expected recall over speakers, folds and seeds.

Benchmarks without speaker ids (``CLIP_SHAPES``) are simulated clip by clip: fixed official folds,
models whose recall per class differs by fold and by training run (``simulate_clip_runs``), and
pairs of systems of equal expected UAR (``simulate_clip_pair``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from facemotion.evaluation.statistics import Units
from scipy import stats


@dataclass(frozen=True)
class Shape:
    """Speakers per fold and test recordings per speaker and class (the class shares of the corpus)."""

    speakers_per_fold: tuple[int, ...]
    recordings_per_class: tuple[int, ...]


# Four emotions (Angry, Happy, Neutral, Sad) as the seed uses them; recordings per speaker from
# the corpora's sizes. RAVDESS and CREMA-D have no sessions: their readers deal actors into 5 folds.
SHAPES = {
    "MSP-IMPROV (6 sessions x 2 speakers)": Shape((2,) * 6, (66, 220, 290, 74)),
    "IEMOCAP (5 sessions x 2 speakers)": Shape((2,) * 5, (110, 164, 171, 108)),
    "RAVDESS (24 actors in 5 folds)": Shape((5, 5, 5, 5, 4), (8, 8, 4, 8)),
    "CREMA-D (91 actors in 5 folds)": Shape((19, 18, 18, 18, 18), (13, 13, 12, 13)),
}
CLASS_OFFSETS = np.array([0.10, 0.0, -0.10, 0.0])
MEAN_SKILL = 0.6


def _recall(effects: np.ndarray) -> np.ndarray:
    return np.clip(MEAN_SKILL + effects, 0.02, 0.98)


def true_uar(sd_speaker: float, sd_fold: float, sd_seed: float, k: int, rng: np.random.Generator,
             draws: int = 1_000_000) -> float:
    """The expected recall over classes, speakers, folds and seeds (Monte Carlo, +-0.0002)."""
    effects = rng.normal(0.0, np.sqrt(sd_speaker**2 + sd_fold**2 + sd_seed**2), draws)[:, None]
    return float(_recall(effects + CLASS_OFFSETS[:k]).mean())


def simulate(shape: Shape, sd_speaker: float, sd_fold: float, sd_seed: float, repeats: int,
             rng: np.random.Generator) -> Units:
    """One corpus's test results as the summary's units (confusion counts per repeat and speaker)."""
    per_class = np.asarray(shape.recordings_per_class)
    k = len(per_class)
    folds = np.repeat(np.arange(len(shape.speakers_per_fold)), shape.speakers_per_fold)
    n_speakers = len(folds)
    speaker_effect = (rng.normal(0.0, sd_speaker, n_speakers)
                      + rng.normal(0.0, sd_fold, len(shape.speakers_per_fold))[folds])[:, None] + CLASS_OFFSETS[:k]
    counts = np.zeros((repeats, n_speakers, k, k), dtype=np.int64)
    for r in range(repeats):
        recall = _recall(speaker_effect + rng.normal(0.0, sd_seed, len(shape.speakers_per_fold))[folds][:, None])
        hits = rng.binomial(per_class, recall)
        for c in range(k):
            # Each miss goes to one of the other classes at random.
            row = np.zeros((n_speakers, k), dtype=np.int64)
            row[:, np.arange(k) != c] = rng.multinomial(per_class[c] - hits[:, c], np.full(k - 1, 1.0 / (k - 1)))
            row[:, c] = hits[:, c]
            counts[r, :, c] = row
    return Units(folds=folds, speakers=[f"s{i}" for i in range(n_speakers)], counts=counts,
                 n_folds=len(shape.speakers_per_fold))


# --------------------------------------------------------------------------- clips without speakers


@dataclass(frozen=True)
class ClipShape:
    """A benchmark whose clips carry no speaker ids: test clips per fold, approximate class shares
    and a plausible recall per class of a current model (the tiny classes are recognised worst)."""

    test_clips_per_fold: tuple[int, ...]
    class_shares: tuple[float, ...]
    recall: tuple[float, ...]


# Shares approximate the releases' single-label class balance (the smallest class is what strains
# an interval: DFEW's Disgust about 1 %, MAFW's rarest classes about 2 %); DFEW and MAFW report
# the mean over their 5 official folds, FERV39k its one test set.
CLIP_SHAPES = {
    "DFEW (5 folds x 2,339 clips, 7 classes)": ClipShape(
        (2339,) * 5, (0.26, 0.19, 0.23, 0.16, 0.09, 0.012, 0.058), (0.90, 0.80, 0.70, 0.75, 0.60, 0.10, 0.40)),
    "MAFW (5 folds x 1,834 clips, 11 classes)": ClipShape(
        (1834,) * 5, (0.15, 0.10, 0.06, 0.18, 0.12, 0.13, 0.07, 0.05, 0.02, 0.02, 0.10),
        (0.70, 0.55, 0.35, 0.85, 0.60, 0.65, 0.45, 0.35, 0.10, 0.05, 0.40)),
    "FERV39k (1 test set of 7,847 clips, 7 classes)": ClipShape(
        (7847,), (0.21, 0.17, 0.26, 0.15, 0.10, 0.05, 0.06), (0.75, 0.60, 0.55, 0.55, 0.45, 0.15, 0.25)),
}


CLIP_RANGE = (0.01, 0.99)  # the recalls a simulated model may have


def clipped_normal_mean(mean: np.ndarray, sd: float) -> np.ndarray:
    """E[clip(X)] for X ~ N(mean, sd), clipped to ``CLIP_RANGE``: the expected recall over seeds."""
    low, high = CLIP_RANGE
    if sd == 0:
        return np.clip(mean, low, high)
    a, b = (low - mean) / sd, (high - mean) / sd
    inside = mean * (stats.norm.cdf(b) - stats.norm.cdf(a)) + sd * (stats.norm.pdf(a) - stats.norm.pdf(b))
    return low * stats.norm.cdf(a) + inside + high * stats.norm.sf(b)


def run_shift_sd(shape: ClipShape, run_sd: float | None, sd_model: float = 0.03) -> float:
    """The sd of the shift that moves every recall of one fold's model of one training run, such
    that a run's UAR (the mean over folds and classes) varies with sd ``run_sd`` between runs.

    Each fold trains its own models, so a run's seed effect is the fold mean of independent
    per-fold shifts; the per-class seed effects (sd_model / 2) add a little. None: no shift.
    """
    if run_sd is None:
        return 0.0
    folds, k = len(shape.test_clips_per_fold), len(shape.class_shares)
    return float(np.sqrt(max(folds * run_sd**2 - (sd_model / 2) ** 2 / k, 0.0)))


@dataclass
class ClipBenchmark:
    """One simulated benchmark's test predictions and the truths an interval may be about."""

    true: np.ndarray  # (n,) class codes
    predicted: np.ndarray  # (repeats, n) class codes
    folds: np.ndarray  # (n,) fold codes
    models_uar: float  # the UAR of these trained models on unlimited clips
    expected_uar: float  # the expected UAR of a training run (over seeds) on unlimited clips


def _predictions(true: np.ndarray, hardness: np.ndarray, recall: np.ndarray, shares: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """(repeats, n) predictions of models with ``recall`` (repeats, k): a clip is right where its
    hardness is below its class's recall; a miss goes to another class in proportion to the shares."""
    k = len(shares)
    predicted = np.empty((len(recall), len(true)), dtype=np.int64)
    for r in range(len(recall)):
        right = hardness < recall[r, true]
        wrong = np.empty(len(true), dtype=np.int64)
        for c in range(k):
            misses = np.flatnonzero((true == c) & ~right)
            others = np.where(np.arange(k) == c, 0.0, shares)
            wrong[misses] = rng.choice(k, size=len(misses), p=others / others.sum())
        predicted[r] = np.where(right, true, wrong)
    return predicted


def _run_recalls(fold_recall: np.ndarray, repeats: int, shift_sd: float, sd_model: float,
                 rng: np.random.Generator) -> np.ndarray:
    """(repeats, k) recalls of one fold's models: the fold's expected recall moved by each run's
    seed, per class (sd_model / 2) and for every class together (``shift_sd``)."""
    k = len(fold_recall)
    shift = rng.normal(0.0, sd_model / 2, (repeats, k))
    if shift_sd:
        shift = shift + rng.normal(0.0, shift_sd, (repeats, 1))
    return np.clip(fold_recall + shift, *CLIP_RANGE)


def simulate_clip_runs(shape: ClipShape, repeats: int, rng: np.random.Generator, sd_model: float = 0.03,
                       run_sd: float | None = None) -> ClipBenchmark:
    """One benchmark's test predictions by ``repeats`` training runs, and both truths.

    Each fold's expected recall per class is the shape's, shifted by sd_model (the official folds
    are fixed: this is not resampled); each run's models move it by a seed effect
    (:func:`_run_recalls`; ``run_sd``: the sd of a run's UAR, :func:`run_shift_sd`). A clip's
    hardness is shared by the repeats (a clip one model misses, the others tend to miss). The
    truths: these models' UAR on unlimited clips (the mean of their recalls), and the expected
    UAR of a training run (the mean over folds of the expected recall over seeds).
    """
    shares, base = np.asarray(shape.class_shares), np.asarray(shape.recall)
    k = len(shares)
    shift_sd = run_shift_sd(shape, run_sd, sd_model)
    seed_sd = np.sqrt((sd_model / 2) ** 2 + shift_sd**2)
    trues, predictions, folds, models, expected = [], [], [], [], []
    for fold, n in enumerate(shape.test_clips_per_fold):
        fold_recall = base + rng.normal(0.0, sd_model, k)
        recall = _run_recalls(fold_recall, repeats, shift_sd, sd_model, rng)
        models.append(recall.mean())
        expected.append(clipped_normal_mean(fold_recall, seed_sd).mean())
        true = rng.choice(k, size=n, p=shares)
        predictions.append(_predictions(true, rng.random(n), recall, shares, rng))
        trues.append(true)
        folds.append(np.full(n, fold))
    return ClipBenchmark(np.concatenate(trues), np.concatenate(predictions, axis=1), np.concatenate(folds),
                         float(np.mean(models)), float(np.mean(expected)))


def simulate_clips(shape: ClipShape, repeats: int, rng: np.random.Generator, sd_model: float = 0.03):
    """:func:`simulate_clip_runs` without a run-wide seed effect, as (true, predicted, folds, the
    models' UAR): the truth of an interval about these trained models."""
    run = simulate_clip_runs(shape, repeats, rng, sd_model)
    return run.true, run.predicted, run.folds, run.models_uar


def simulate_clip_pair(shape: ClipShape, repeats: int, rng: np.random.Generator, run_sd: float | None,
                       shared_hardness: float = 0.5, sd_model: float = 0.03):
    """Two systems of equal expected UAR on one benchmark's test clips: the same expected recall
    per fold and class, their own training runs (``run_sd`` as in :func:`simulate_clip_runs`; None
    and ``repeats`` 1 with no seed effect at all: two fixed models of equal recall), and clip
    hardness correlated between them (``shared_hardness``: the correlation on the normal scale).
    Returns (true, predicted by A (repeats, n), predicted by B, folds)."""
    shares, base = np.asarray(shape.class_shares), np.asarray(shape.recall)
    k = len(shares)
    shift_sd = run_shift_sd(shape, run_sd, sd_model)
    trues, systems, folds = [], ([], []), []
    for fold, n in enumerate(shape.test_clips_per_fold):
        fold_recall = base + rng.normal(0.0, sd_model, k)
        true = rng.choice(k, size=n, p=shares)
        common = rng.normal(size=n)
        for predictions in systems:
            if run_sd is None:
                recall = np.tile(np.clip(fold_recall, *CLIP_RANGE), (repeats, 1))
            else:
                recall = _run_recalls(fold_recall, repeats, shift_sd, sd_model, rng)
            own = rng.normal(size=n)
            hardness = stats.norm.cdf(np.sqrt(shared_hardness) * common + np.sqrt(1 - shared_hardness) * own)
            predictions.append(_predictions(true, hardness, recall, shares, rng))
        trues.append(true)
        folds.append(np.full(n, fold))
    return (np.concatenate(trues), np.concatenate(systems[0], axis=1), np.concatenate(systems[1], axis=1),
            np.concatenate(folds))
