"""MSP-IMPROV (Busso et al., 2017): utterance videos labelled in one Evalution.txt (so spelt in
the release; Evaluation.txt is read too).

Layout as released:
    Evalution.txt
    session1/S01A/P/MSP-IMPROV-S01A-F01-P-FM01.avi   (videos may also sit under a Video/ folder)

File names: MSP-IMPROV-S<sentence 01-20><target emotion A|H|S|N>-<speaker F01..M06>-
<scenario R|S|P|T>-<turn>. Evalution.txt holds, per utterance, a line
    UTD-IMPROV-S01A-F01-P-FM01.avi; A; A:2.666667; V:2.000000; D:3.000000 ; N:3.333333;
(consensus category, then averaged activation, valence, dominance and naturalness on 1-5, NaN where
missing) followed by one line per rater and a blank line. The labels name the video "UTD-IMPROV-",
the files are "MSP-IMPROV-": the two are matched on the part after "-IMPROV-".
"""

from __future__ import annotations

import re
from pathlib import Path

from facemotion.corpora.manifest import ManifestError
from facemotion.corpora.scan import CorpusScan, ReadOptions, as_path, entry, files_under, rating

# Consensus codes: the four target emotions, O = other, X = no majority among the raters.
CATEGORIES = {"A": "Angry", "H": "Happy", "S": "Sad", "N": "Neutral", "O": "Other", "X": None}
# `classes: all`: the seed's four first, then the rest as docs/corpora.md lists them.
CLASSES = ("Angry", "Happy", "Neutral", "Sad", "Other")
UTTERANCE = re.compile(r"^(?:MSP|UTD)-IMPROV-(?P<key>S\d{2}[A-Z]-(?P<speaker>[FM]\d{2})-[A-Z]-[A-Z0-9]+)$")
LABEL_LINE = re.compile(r"^(?:MSP|UTD)-IMPROV-\S+\.avi\s*;")


# The release spells its label file "Evalution.txt"; a corrected copy may be "Evaluation.txt".
LABEL_FILES = ("Evalution.txt", "Evaluation.txt")


def find_evaluation(root: Path) -> Path:
    """The label file: at the root, else the shallowest one under it."""
    found = sorted((p for name in LABEL_FILES for p in root.rglob(name)), key=lambda p: (len(p.parts), str(p)))
    if not found:
        raise ManifestError(f"{root}: no Evalution.txt (or Evaluation.txt) found under it; expected the MSP-IMPROV "
                            "release (Evalution.txt beside session1..session6/S01A/P/MSP-IMPROV-S01A-F01-P-FM01.avi)")
    return found[0]


def read_evaluation(path: Path) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Consensus label and averaged ratings per utterance key; rater lines are skipped."""
    labels: dict[str, dict[str, str]] = {}
    unreadable, duplicates = [], 0
    with open(path, encoding="latin-1") as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not LABEL_LINE.match(line):
                continue  # rater lines, blank lines
            fields = [f.strip() for f in line.split(";")]
            match = UTTERANCE.match(fields[0][:-len(".avi")])
            if not match or len(fields) < 2 or not fields[1]:
                unreadable.append(str(number))
                continue
            if match["key"] in labels:
                duplicates += 1  # keep the first entry
                continue
            values = dict(f.split(":", 1) for f in fields[2:] if ":" in f)
            labels[match["key"]] = {"speaker": match["speaker"], "category": fields[1],
                                    "activation": rating(values.get("A", "")), "valence": rating(values.get("V", ""))}
    notes = []
    if unreadable:
        notes.append(f"{path}: skipped {len(unreadable)} unreadable label line(s): {', '.join(unreadable[:20])}")
    if duplicates:
        notes.append(f"{path}: {duplicates} utterance(s) listed twice; the first entry was used")
    if not labels:
        raise ManifestError(f"{path}: no utterance lines like 'UTD-IMPROV-S01A-F01-P-FM01.avi; A; A:2.5; "
                            "V:3.0; D:3.0 ; N:3.5;' found; is this MSP-IMPROV's Evalution.txt?")
    return labels, notes


def session_of(speaker: str) -> str:
    """Speakers F0k and M0k recorded session k together."""
    return f"session{int(speaker[1:])}"


def scan(root: Path, options: ReadOptions) -> CorpusScan:
    labels, notes = read_evaluation(find_evaluation(root))
    videos, result = {}, CorpusScan(notes=notes)
    for video in files_under(root, "**/*.avi"):
        match = UTTERANCE.match(video.stem)
        if match and match["key"] in labels:
            videos.setdefault(match["key"], video)
        else:
            result.unlabelled.append(as_path(video))
    for key, label in sorted(labels.items()):
        speaker = label["speaker"]
        path = as_path(videos[key]) if key in videos else ""
        result.rows.append(entry(f"MSP-IMPROV-{key}", path, speaker, session_of(speaker), label["category"],
                                 CATEGORIES.get(label["category"]), label["activation"], label["valence"]))
    for target in ("activation", "valence"):
        unrated = sum(1 for label in labels.values() if not label[target])
        if unrated:
            result.notes.append(f"{unrated} utterance(s) have no {target} rating (NaN in the label file); "
                                f"they are left out of the {target} target only")
    return result
