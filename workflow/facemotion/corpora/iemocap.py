"""IEMOCAP (Busso et al., 2008): dyadic dialogue videos, utterances labelled per dialogue.

Layout as released (the root may be IEMOCAP_full_release itself or the folder holding it):
    IEMOCAP_full_release/Session1..5/dialog/avi/DivX/Ses01F_impro01.avi
    IEMOCAP_full_release/Session1..5/dialog/EmoEvaluation/Ses01F_impro01.txt

Each EmoEvaluation file starts with "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]" and has
one line per utterance,
    [6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]
(seconds into the dialogue video, utterance id, consensus category, averaged valence, activation,
dominance on 1-5), followed by the raters' C-/A- lines, which are skipped.

Ids: Ses01F_impro01 is session 1 with the Female actor wearing the motion-capture markers;
utterance Ses01F_impro01_M000 is spoken by the Male actor. Each dialogue video shows both actors
side by side, so a recording is the utterance's time span of the dialogue video plus the half of
the frame its speaker sits in (see MARKER_WEARER_SIDE).
"""

from __future__ import annotations

import re
from pathlib import Path

from facemotion.corpora.manifest import ManifestError
from facemotion.corpora.scan import CorpusScan, ReadOptions, as_path, entry, files_under, rating

# "exc" (excited) is merged into Happy, the usual 4-class IEMOCAP convention; xxx = no majority.
CATEGORIES = {"ang": "Angry", "hap": "Happy", "exc": "Happy", "neu": "Neutral", "sad": "Sad",
              "fru": "Frustrated", "sur": "Surprised", "fea": "Fearful", "dis": "Disgusted",
              "oth": "Other", "xxx": None}
# `classes: all`: the seed's four first, then the rest as docs/corpora.md lists them.
CLASSES = ("Angry", "Happy", "Neutral", "Sad", "Fearful", "Disgusted", "Surprised", "Frustrated", "Other")
# The actor wearing the markers (the letter after the session number in the dialogue name) is on
# the left of the dialogue video, the other actor on the right. The corpus documentation does not
# say so; it is the rule public IEMOCAP face-cropping code uses. Flip it here if your copy differs.
MARKER_WEARER_SIDE, OTHER_SIDE = "left", "right"
LINE = re.compile(r"^\[(?P<start>\d+(?:\.\d+)?)\s*-\s*(?P<end>\d+(?:\.\d+)?)\]\s+(?P<utterance>\S+)\s+(?P<category>\S+)"
                  r"\s+\[(?P<ratings>[^\]]*)\]")
UTTERANCE = re.compile(r"^(?P<dialogue>Ses(?P<session>\d{2})(?P<marker>[FM])_\S+)_(?P<gender>[FM])\w*\d$")


def base_of(root: Path) -> Path:
    return root / "IEMOCAP_full_release" if (root / "IEMOCAP_full_release").is_dir() else root


def read_labels(path: Path) -> tuple[list[dict[str, str]], int]:
    """Utterance lines of one EmoEvaluation file, and how many lines could not be read."""
    lines, unreadable = [], 0
    with open(path, encoding="latin-1") as handle:
        for line in handle:
            if not line.lstrip().startswith("["):
                continue  # header, rater lines, blank lines
            match = LINE.match(line.strip())
            utterance = UTTERANCE.match(match["utterance"]) if match else None
            if not utterance:
                unreadable += 1
                continue
            values = [v.strip() for v in match["ratings"].split(",")] + ["", ""]
            lines.append({**match.groupdict(), **utterance.groupdict(),
                          "valence": rating(values[0]), "activation": rating(values[1])})
    return lines, unreadable


def scan(root: Path, options: ReadOptions) -> CorpusScan:
    base = base_of(root)
    label_files = files_under(base, "Session*/dialog/EmoEvaluation/*.txt")
    if not label_files:
        raise ManifestError(f"{root}: no IEMOCAP label files found (expected "
                            "[IEMOCAP_full_release/]Session1..5/dialog/EmoEvaluation/*.txt)")
    videos = {p.stem: p for p in files_under(base, "Session*/dialog/avi/DivX/*.avi")}
    result, labelled, unreadable, empty_spans, merged = CorpusScan(), set(), 0, 0, 0
    for label_file in label_files:
        lines, bad = read_labels(label_file)
        unreadable += bad
        for line in lines:
            labelled.add(line["dialogue"])
            if float(line["end"]) <= float(line["start"]):
                empty_spans += 1
                continue
            # Where the release puts it; a missing file is reported with this path.
            video = videos.get(line["dialogue"], label_file.parents[1] / "avi" / "DivX" / f"{line['dialogue']}.avi")
            region = MARKER_WEARER_SIDE if line["gender"] == line["marker"] else OTHER_SIDE
            merged += line["category"] == "exc"
            result.rows.append(entry(
                line["utterance"], as_path(video), f"Ses{line['session']}{line['gender']}",
                f"Session{int(line['session'])}", line["category"], CATEGORIES.get(line["category"]),
                line["activation"], line["valence"], line["start"], line["end"], region))
    result.unlabelled = [as_path(p) for name, p in sorted(videos.items()) if name not in labelled]
    if merged:
        result.notes.append(f"merged {merged} 'exc' (excited) utterance(s) into Happy, the usual IEMOCAP convention")
    if unreadable:
        result.notes.append(f"skipped {unreadable} EmoEvaluation line(s) that do not read as "
                            "'[start - end] utterance category [V, A, D]'")
    if empty_spans:
        result.notes.append(f"skipped {empty_spans} utterance(s) whose end time is not after their start time")
    return result
