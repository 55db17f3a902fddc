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
from facemotion.statistics import Units


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
