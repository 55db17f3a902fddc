"""FERV39k (Wang et al., 2022): 38,935 clips of 22 scenes in 7 classes, one official split.

Layout as released (docs/corpora.md says where each fact was checked):
    2_ClipsforFaceCrop/Action/Sad/0010/*.jpg         face crops, a folder a clip (frames only)
    4_setups/All_scenes/train_All.csv, test_All.csv

Split files: no header, one line per clip, its folder under 2_ClipsforFaceCrop and its label
separated by a space, e.g. `Action/Sad/0010 Sad`; labels Angry, Disgust, Fear, Happy, Neutral,
Sad, Surprise. test_All's clips are session `test`; train_All's are session `train` with split
`train` (trained on, never tested): the one official split, no folds. Recording ids join the
folder's parts: Action_Sad_0010. FERV39k names no speakers, so the split is not
speaker-independent.
"""

from __future__ import annotations

import os
from pathlib import Path

from facemotion.corpora.manifest import TRAIN_ONLY, ManifestError
from facemotion.corpora.scan import CorpusScan, ReadOptions, as_path
from facemotion.corpora.splits import SplitEntry, duplicates, listed_rows, missing_files, read_lines, refuse

# The release's labels in the order public code numbers them (MAE-DFER), mapped onto the
# project's class names.
CLASS_OF = {"Happy": "Happy", "Sad": "Sad", "Neutral": "Neutral", "Angry": "Angry", "Surprise": "Surprised",
            "Disgust": "Disgusted", "Fear": "Fearful"}
CLASSES = tuple(CLASS_OF.values())
FRAMES = Path("2_ClipsforFaceCrop")
SPLITS = Path("4_setups") / "All_scenes"
SESSION_OF_FILE = {"test_All.csv": "test", "train_All.csv": TRAIN_ONLY}


def read_split_file(path: Path) -> tuple[list[SplitEntry], list[str], int]:
    """Entries, problems, and how many listed clips sit in another emotion's folder than their label."""
    entries, problems, elsewhere = [], [], 0
    for number, line in read_lines(path):
        fields = line.split()
        parts = fields[0].split("/") if fields else []
        if number == 1 and "/" not in line:
            continue  # a header line some copies carry
        if len(fields) != 2 or len(parts) != 3 or not all(parts):
            problems.append(f"{path} line {number}: {line!r} does not read as '<Scene>/<Emotion>/<clip> <label>' "
                            "(e.g. Action/Sad/0010 Sad)")
        elif fields[1] not in CLASS_OF:
            problems.append(f"{path} line {number}: unknown label {fields[1]!r} of clip {fields[0]}; FERV39k's labels "
                            f"are {', '.join(CLASS_OF)}")
        else:
            entries.append(SplitEntry(fields[0], fields[1], path, number))
            elsewhere += parts[1] != fields[1]
    return entries, problems, elsewhere


def scan(root: Path, options: ReadOptions) -> CorpusScan:
    source = f"ferv39k corpus at {root}"
    if not (root / SPLITS).is_dir() and not (root / FRAMES).is_dir():
        raise ManifestError(f"{root}: no {SPLITS}/ or {FRAMES}/ folder found; expected the FERV39k layout "
                            f"({FRAMES}/Action/Sad/0010/*.jpg, {SPLITS}/train_All.csv and test_All.csv)")
    if options.source not in ("", "frames"):
        raise ManifestError(f"{source}: FERV39k is released as frames only ({FRAMES}/<Scene>/<Emotion>/<clip>/); "
                            f"set corpus.source: frames, got {options.source!r}")
    files = {name: root / SPLITS / name for name in SESSION_OF_FILE}
    refuse(source, missing_files(list(files.values())))
    if not (root / FRAMES).is_dir():
        raise ManifestError(f"{source}: no {FRAMES}/ folder found (the face crops, <Scene>/<Emotion>/<clip>/*.jpg)")
    listed, problems, elsewhere = [], [], 0
    session_of: dict[str, str] = {}
    for name, path in files.items():
        entries, found, moved = read_split_file(path)
        problems += found
        elsewhere += moved
        listed += entries
        for entry in entries:
            session_of.setdefault(entry.clip, SESSION_OF_FILE[name])
    refuse(source, problems + duplicates(listed))

    fold_of = {entry.clip: (session_of[entry.clip], entry) for entry in listed}
    frames = str(root / FRAMES)
    result = CorpusScan(rows=listed_rows(source, fold_of, lambda clip: os.path.join(frames, clip),
                                         lambda clip: clip.replace("/", "_"), CLASS_OF,
                                         split_of=lambda session: TRAIN_ONLY if session == TRAIN_ONLY else ""))
    result.unlabelled = unlisted_folders(root / FRAMES, set(fold_of))
    tested = sum(1 for session in session_of.values() if session == "test")
    result.notes.append(f"FERV39k: {tested} test clips (test_All.csv, session test) and {len(listed) - tested} "
                        f"training clips (train_All.csv, session {TRAIN_ONLY}, used for training only); FERV39k "
                        "names no speakers, so the split is NOT speaker-independent")
    if elsewhere:
        result.notes.append(f"{elsewhere} listed clip(s) sit in another emotion's folder than their label; "
                            "the label in the split file was used")
    return result


def unlisted_folders(frames: Path, listed: set[str]) -> list[str]:
    """Clip folders (<Scene>/<Emotion>/<clip>) that no split file lists."""
    return sorted(as_path(clip) for clip in frames.glob("*/*/*")
                  if clip.is_dir() and "/".join(clip.parts[-3:]) not in listed and not clip.name.startswith("."))
