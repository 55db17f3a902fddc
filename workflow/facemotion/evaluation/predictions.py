"""The prediction files of a run: which fold each file is, reading them, their classes, and the
rows of each training repeat.

Rule train_fold writes ``.../predictions/{target}/fold_{session}.tsv`` (one row per test recording
and training repeat, column ``repeat``) and ``fold_{session}.info.json`` (how the fold trained).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from facemotion.common.files import reading

FOLD_SUFFIXES = (".tsv", ".info.json")  # a fold's predictions and its training info


def fold_files(paths: Iterable[str | Path]) -> dict[tuple[str, str], str]:
    """{(target, session): path} of fold files, each key read from its path.

    The folder names the target and the file the held-out session, so the keys never depend on
    the order in which a rule listed its inputs. The mapping keeps the given order.
    """
    files: dict[tuple[str, str], str] = {}
    for path in map(str, paths):
        name = Path(path).name
        suffix = next((s for s in FOLD_SUFFIXES if name.endswith(s)), None)
        if not name.startswith("fold_") or suffix is None or name == f"fold_{suffix}":
            raise ValueError(f"{path}: not a fold file (fold_<session> ending in {' or '.join(FOLD_SUFFIXES)})")
        key = (Path(path).parent.name, name[len("fold_"):-len(suffix)])
        if key in files:
            raise ValueError(f"two files for target {key[0]!r}, session {key[1]!r}: {files[key]} and {path}")
        files[key] = path
    return files


IDS = ("session", "recording", "speaker")


def read_predictions(prediction_files: Mapping[tuple[str, str], Path]) -> dict[tuple[str, str], pd.DataFrame]:
    """{(target, fold): predictions file} -> {(target, fold): table}, ids and classes as strings."""
    text = {"session": str, "recording": str, "speaker": str, "y_true": str, "y_pred": str}
    predictions = {}
    for key, path in prediction_files.items():
        with reading(path):
            header = pd.read_csv(path, sep="\t", nrows=0).columns
            # Ids as written (an empty speaker: a corpus that names none; a speaker "NA"), classes too
            # (a class "None"); only an empty cell or "nan" is a missing value.
            missing = {column: ["", "nan", "NaN"] for column in header if column not in IDS}
            predictions[key] = pd.read_csv(path, sep="\t", dtype=text, keep_default_na=False, na_values=missing)
    return predictions


def classes_from_predictions(predictions: pd.DataFrame) -> list[str]:
    """Class order of a predictions table, read from its ``p_<class>`` columns."""
    return [c[2:] for c in predictions.columns if c.startswith("p_")]


def repeats_of(frame: pd.DataFrame, order: Sequence[str] = ()) -> list[pd.DataFrame]:
    """The rows of each training repeat of a predictions table, in repeat order; the whole table
    where it has no ``repeat`` column or no rows. Every repeat tests the same recordings; with
    ``order`` (columns, e.g. ``("fold", "recording")``) each repeat's rows are sorted by them, so
    that they line up row by row."""
    if "repeat" in frame and len(frame):
        repeat = frame["repeat"].astype(int)
        parts = [frame[repeat == r] for r in sorted(repeat.unique())]
    else:
        parts = [frame]
    return [part.sort_values(list(order), kind="stable") for part in parts] if order else parts


def one_repeat(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of the first training repeat: the test recordings, each once."""
    return repeats_of(frame)[0]
