"""What the corpus readers share: the scan they return, file listing, ratings and folds."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from facemotion.corpora.recordings import is_frame

ROW_COLUMNS = ["recording", "path", "speaker", "session", "category", "label",
               "activation", "valence", "start", "end", "region", "split"]
# A recording may be a folder of frames (DFEW's clip_224x224, MAFW's data/frames, FERV39k).
ACTOR_FOLDS = ("balanced", "public")


@dataclass(frozen=True)
class ReadOptions:
    """How to read a corpus, from the config.

    folds: cv.folds, the number of sex-balanced folds (crema-d, ravdess with actor_folds balanced).
    source: corpus.source, video files (`clips`) or folders of frames (`frames`) where a release
    offers both (dfew, mafw; ferv39k has frames only).
    actor_folds: corpus.actor_folds, `balanced` (cv.folds folds balanced by sex) or `public` (the
    folds public code uses) for crema-d and ravdess.
    """
    folds: int = 5
    source: str = ""  # empty: the release's usual (clips; FERV39k: frames)
    actor_folds: str = "balanced"


@dataclass
class CorpusScan:
    """What a reader found under a corpus root, before classes and missing files are applied.

    rows: one per label entry, with `category` the corpus' own code and `label` the class name it
    maps to ("" when it maps to none); `path` is "" where no video file could be found for it.
    unlabelled: video files that no label entry names.
    notes: corpus-specific lines for the log.
    """
    rows: list[dict[str, str]] = field(default_factory=list)
    unlabelled: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def entry(recording: str, path: str, speaker: str, session: str, category: str, label: str | None,
          activation: str = "", valence: str = "", start: str = "", end: str = "", region: str = "",
          split: str = "") -> dict:
    return {"recording": recording, "path": path, "speaker": speaker, "session": session,
            "category": category, "label": label or "", "activation": activation, "valence": valence,
            "start": start, "end": end, "region": region, "split": split}


def files_under(folder: Path, pattern: str) -> list[Path]:
    """Files matching a glob pattern, sorted, without the '._*' AppleDouble files macOS archives add."""
    return sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith("."))


def holds_images(folder: str | os.PathLike) -> bool:
    """Whether `folder` is a folder holding at least one image file (stops at the first)."""
    try:
        with os.scandir(folder) as entries:
            return any(is_frame(e) for e in entries)
    except OSError:  # absent, not a folder, unreadable
        return False


def recording_exists(path: str) -> bool:
    """A recording's path is usable: a video file, or a folder of frames holding an image."""
    return bool(path) and (os.path.isfile(path) or holds_images(path))


def as_path(path: Path | str) -> str:
    """The path as the manifest stores it: the given root joined with the relative part, normalised."""
    return os.path.normpath(str(path))


def rating(text: str) -> str:
    """A rating as text, or "" where the corpus has none (NaN, empty, unreadable)."""
    try:
        value = float(text)
    except ValueError:
        return ""
    return "" if math.isnan(value) or math.isinf(value) else text.strip()


def sex_balanced_folds(sex_of_actor: dict[str, str], folds: int) -> dict[str, str]:
    """Assign each actor to one of `folds` speaker-independent folds, "fold1".."foldK".

    Actors are sorted within each sex and dealt round-robin, the deal continuing across sexes, so
    every fold holds the same number of actors of each sex (within one) and the same number of
    actors overall (within one). Deterministic: it depends only on the actor ids and sexes.
    """
    assignment = {}
    turn = 0
    for sex in sorted(set(sex_of_actor.values())):
        for actor in sorted(a for a, s in sex_of_actor.items() if s == sex):
            assignment[actor] = f"fold{turn % folds + 1}"
            turn += 1
    return assignment
