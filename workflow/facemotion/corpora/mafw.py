"""MAFW (Liu et al., 2022): 10,045 clips, 9,172 single-labelled in 11 classes, in 5 official folds.

Layout as released (docs/corpora.md says where each fact was checked):
    data/clips/03747.mp4                  the clips                 (corpus.source: clips)
    data/frames/03747/...jpg              frames, a folder a clip   (corpus.source: frames)
    Train & Test Set/single/no_caption/set_1/train.txt, test.txt ... set_5/

Split files: no header, one line per clip, the clip's file name and its label separated by
white space, e.g. `03747.mp4 anger`; labels anger, disgust, fear, happiness, neutral, sadness,
surprise, contempt, anxiety, helplessness, disappointment. Fold K tests set_K/test.txt; its
training set is the other four test sets. A clip's session is the fold that tests it
(`set_1`..`set_5`). MAFW names no speakers, so the folds are not speaker-independent.
"""

from __future__ import annotations

from pathlib import Path

from facemotion.corpora.manifest import ManifestError
from facemotion.corpora.scan import CorpusScan, ReadOptions
from facemotion.corpora.splits import SplitEntry, read_lines, scan_folds

# The release's labels in the order public code numbers them (MAE-DFER, HiCMAE), mapped onto the
# project's class names: its own name where the project has one, else the release's capitalised.
CLASS_OF = {"anger": "Angry", "disgust": "Disgusted", "fear": "Fearful", "happiness": "Happy",
            "neutral": "Neutral", "sadness": "Sad", "surprise": "Surprised", "contempt": "Contempt",
            "anxiety": "Anxiety", "helplessness": "Helplessness", "disappointment": "Disappointment"}
CLASSES = tuple(CLASS_OF.values())
FOLDS = [f"set_{k}" for k in range(1, 6)]
SPLITS = Path("Train & Test Set") / "single" / "no_caption"
MEDIA = {"clips": Path("data") / "clips", "frames": Path("data") / "frames"}


def read_split_file(path: Path) -> tuple[list[SplitEntry], list[str]]:
    entries, problems = [], []
    for number, line in read_lines(path):
        fields = line.split()
        if len(fields) != 2:
            problems.append(f"{path} line {number}: {line!r} does not read as '<clip>.mp4 <label>' "
                            "(e.g. 03747.mp4 anger)")
        elif fields[1] not in CLASS_OF:
            problems.append(f"{path} line {number}: unknown label {fields[1]!r} of clip {fields[0]}; MAFW's "
                            f"single labels are {', '.join(CLASS_OF)}")
        else:
            entries.append(SplitEntry(fields[0].rsplit(".", 1)[0], fields[1], path, number))
    return entries, problems


def scan(root: Path, options: ReadOptions) -> CorpusScan:
    if not (root / SPLITS).is_dir():
        raise ManifestError(f"{root}: no {SPLITS}/ folder found; expected the MAFW layout ({SPLITS}/set_1/"
                            "train.txt and test.txt ..., data/clips/00001.mp4 or data/frames/00001/)")
    test_files = {fold: root / SPLITS / fold / "test.txt" for fold in FOLDS}
    train_files = {fold: root / SPLITS / fold / "train.txt" for fold in FOLDS}
    return scan_folds(root, options, "MAFW", test_files, train_files, read_split_file, MEDIA, CLASS_OF)
