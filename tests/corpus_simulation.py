"""Simulated cross-validation results of the corpus shapes the readers serve, for the coverage of
the summary's intervals (tests/test_statistics.py, tests/benchmarks/bench_coverage.py).

A speaker's recall of a class is ``skill + class offset + fold effect + seed effect``, clipped to
[0.02, 0.98]: skill varies between speakers (``sd_speaker``, 0.10-0.20 in real corpora), the fold
effect between the folds' trained models, the seed effect between training repeats of one fold.
Each test recording is right with that probability, else a wrong class at random. The true UAR,
which an interval should hold, is the expected recall over speakers, folds and seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from facemotion.evaluation.statistics import Units


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


def simulate_clips(shape: ClipShape, repeats: int, rng: np.random.Generator, sd_model: float = 0.03):
    """One benchmark's test predictions and the truth an interval over clips should hold.

    Each fold's models have their own recall per class (the shape's, shifted by sd_model, and by
    sd_model / 2 more per repeat); a clip's hardness is shared by the repeats (a clip one model
    misses, the others tend to miss: a uniform draw that each repeat's recall is compared with);
    a miss goes to another class in proportion to the class shares. The truth is the mean over
    folds of the repeat-mean UAR of those models on unlimited clips: the mean of their recalls.
    Returns (true, predicted (repeats, n), folds, truth).
    """
    shares, base = np.asarray(shape.class_shares), np.asarray(shape.recall)
    k = len(shares)
    trues, predictions, folds, truths = [], [], [], []
    for fold, n in enumerate(shape.test_clips_per_fold):
        recall = np.clip(base + rng.normal(0.0, sd_model, k)
                         + rng.normal(0.0, sd_model / 2, (repeats, k)), 0.01, 0.99)  # (repeats, k)
        truths.append(recall.mean())
        true = rng.choice(k, size=n, p=shares)
        hardness = rng.random(n)
        predicted = np.empty((repeats, n), dtype=np.int64)
        for r in range(repeats):
            right = hardness < recall[r, true]
            wrong = np.empty(n, dtype=np.int64)
            for c in range(k):  # misses of class c go to the other classes in proportion to their shares
                misses = np.flatnonzero((true == c) & ~right)
                others = np.where(np.arange(k) == c, 0.0, shares)
                wrong[misses] = rng.choice(k, size=len(misses), p=others / others.sum())
            predicted[r] = np.where(right, true, wrong)
        trues.append(true)
        predictions.append(predicted)
        folds.append(np.full(n, fold))
    return (np.concatenate(trues), np.concatenate(predictions, axis=1), np.concatenate(folds),
            float(np.mean(truths)))
