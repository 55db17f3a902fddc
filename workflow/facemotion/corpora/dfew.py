"""DFEW (Jiang et al., 2020): 16,372 movie clips, 11,697 of them single-labelled, in 5 official folds.

Layout as released (docs/corpora.md says where each fact was checked):
    Clip/original/02522.mp4                       the clips             (corpus.source: clips)
    Clip/clip_224x224/02522/02522_00001.jpg ...   face-aligned frames   (corpus.source: frames)
    Clip/clip_224x224_16f/02522/...jpg            16 frames a clip, time-interpolated (TIM)
                                                                        (corpus.source: frames_16f)
    EmoLabel_DataSplit/test(single-labeled)/set_1.csv ... set_5.csv
    EmoLabel_DataSplit/train(single-labeled)/set_1.csv ... set_5.csv

Split files: a header `video_name,label`, then one line per clip, e.g. `2522,5` or `02522,5` (the
clip number, zero-padded to 5 digits in the file names), label 1 Happy, 2 Sad, 3 Neutral, 4 Angry,
5 Surprise, 6 Disgust, 7 Fear. Fold K tests the clips of test set_K; its training set is the other
four test sets. A clip's session is the fold that tests it (`set_1`..`set_5`). DFEW names no
speakers, so the folds are not speaker-independent.

Clip and folder names come in two spellings: zero-padded (`00001.mp4`, `00001/`) as the release's
README and the public loaders write them (MAE-DFER preprocess/dfew.py `f'{v:05d}'`, DFER-CLIP
annotation/preprocess_annotation.py `zfill(5)`), or unpadded (`1.mp4`, `2522.mp4`) as other copies
and loaders build them from the split files' numbers. Either is read; a folder that mixes them,
or holds neither, is refused. Recording ids are the padded numbers either way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from facemotion.corpora.manifest import ManifestError
from facemotion.corpora.scan import CorpusScan, ReadOptions
from facemotion.corpora.splits import SplitEntry, read_lines, scan_folds

# The release's label numbers in order, mapped onto the project's class names (docs/corpora.md).
CLASSES = ("Happy", "Sad", "Neutral", "Angry", "Surprised", "Disgusted", "Fearful")
CLASS_OF = {str(number): name for number, name in enumerate(CLASSES, 1)}
RELEASE_NAMES = "1 Happy, 2 Sad, 3 Neutral, 4 Angry, 5 Surprise, 6 Disgust, 7 Fear"
FOLDS = [f"set_{k}" for k in range(1, 6)]
SPLITS = "EmoLabel_DataSplit"
# The 16-frame copy: DFEW's README, "./Clip/clip_224x224_16f" (TIM), clip folders as clip_224x224's.
MEDIA = {"clips": Path("Clip") / "original", "frames": Path("Clip") / "clip_224x224",
         "frames_16f": Path("Clip") / "clip_224x224_16f"}


def read_split_file(path: Path) -> tuple[list[SplitEntry], list[str]]:
    lines = read_lines(path)
    header = [name.strip().lower() for name in lines[0][1].split(",")] if lines else []
    if "video_name" not in header or "label" not in header:
        return [], [f"{path} line 1: header {lines[0][1] if lines else '(empty file)'!r}; expected video_name,label"]
    at_name, at_label = header.index("video_name"), header.index("label")
    entries, problems = [], []
    for number, line in lines[1:]:
        fields = [field.strip() for field in line.split(",")]
        if len(fields) < len(header) or not fields[at_name].isdigit():
            problems.append(f"{path} line {number}: {line!r} does not read as video_name,label (e.g. 02522,5)")
        elif fields[at_label] not in CLASS_OF:
            problems.append(f"{path} line {number}: unknown label {fields[at_label]!r} of clip {fields[at_name]}; "
                            f"DFEW's labels are {RELEASE_NAMES}")
        else:
            entries.append(SplitEntry(fields[at_name].zfill(5), fields[at_label], path, number))
    return entries, problems


def spelling(folder: Path, suffix: str) -> tuple[Callable[[str], str], str]:
    """How `folder` names its clips (`suffix` ".mp4", or "" for frame folders): a function from a
    clip's padded id to its name there, and a note saying which spelling was found.
    Refuses a folder that mixes the two spellings or names no clip by its number. Numbers from
    10000 on are spelled the same either way."""
    names = set()
    with os.scandir(folder) as items:
        for item in items:
            stem = item.name[:-len(suffix)] if suffix else item.name
            if not item.name.startswith(".") and item.name.endswith(suffix) and stem.isdigit():
                names.add(stem)
    padded = sorted(name for name in names if len(name) == 5 and name.startswith("0"))
    unpadded = sorted((name for name in names if len(name) < 5), key=int)
    if padded and unpadded:
        raise ManifestError(f"{folder}: mixes zero-padded and unpadded clip names (e.g. {padded[0]}{suffix} and "
                            f"{unpadded[0]}{suffix}); rename them to one spelling")
    if not names:
        raise ManifestError(f"{folder}: no clip named by its number, zero-padded (00001{suffix}) or unpadded "
                            f"(1{suffix})")
    if unpadded:
        return unpadded_name, f"DFEW: {folder} names its clips unpadded (e.g. {unpadded[0]}{suffix})"
    return str, f"DFEW: {folder} names its clips zero-padded (e.g. {min(names)}{suffix})"


def unpadded_name(clip: str) -> str:
    return clip.lstrip("0") or "0"


def scan(root: Path, options: ReadOptions) -> CorpusScan:
    if not (root / SPLITS).is_dir():
        raise ManifestError(f"{root}: no {SPLITS}/ folder found; expected the DFEW layout ({SPLITS}/"
                            "test(single-labeled)/set_1.csv ..., Clip/original/00001.mp4 or Clip/clip_224x224/00001/)")
    test_files = {fold: root / SPLITS / "test(single-labeled)" / f"{fold}.csv" for fold in FOLDS}
    train_files = {fold: root / SPLITS / "train(single-labeled)" / f"{fold}.csv" for fold in FOLDS}
    return scan_folds(root, options, "DFEW", test_files, train_files, read_split_file, MEDIA, CLASS_OF,
                      spelling=spelling)
