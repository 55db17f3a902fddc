"""CREMA-D (Cao et al., 2014): acted sentences, the intended emotion in the file name.

Layout as released (github.com/CheyneyComputerScience/CREMA-D):
    VideoFlash/1001_DFA_ANG_XX.flv      (.mp4 copies are accepted too, and preferred when both exist)
    VideoDemographics.csv               ActorID, Age, Sex, Race, Ethnicity
    SentenceFilenames.csv               optional: the clips of the study, to spot missing videos

File names: <actor 1001-1091>_<sentence: IEO, TIE, IOM, IWW, TAI, MTI, IWL, ITH, DFA, ITS, TSI, WSI>_
<emotion: ANG, DIS, FEA, HAP, NEU, SAD>_<level: LO, MD, HI, XX = unspecified>. There are no
sessions and no dimensional ratings: the fold stands in for the session. corpus.actor_folds
`balanced` deals the actors into cv.folds speaker-independent folds balanced by sex; `public`
uses the 5 folds by actor id of public code (MAE-DFER, HiCMAE: 1001-1018, 1019-1036, 1037-1054,
1055-1072, 1073-1091).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from facemotion.corpora.manifest import ManifestError
from facemotion.corpora.scan import CorpusScan, ReadOptions, as_path, entry, files_under, sex_balanced_folds

CATEGORIES = {"ANG": "Angry", "DIS": "Disgusted", "FEA": "Fearful", "HAP": "Happy", "NEU": "Neutral", "SAD": "Sad"}
CLIP = re.compile(r"^(?P<actor>\d{4})_(?P<sentence>[A-Z]{3})_(?P<emotion>[A-Z]{3})_(?P<level>[A-Z]{2})$")
EXTENSIONS = (".mp4", ".flv")  # order of preference when a clip exists in both
# `classes: all`: the seed's four first, then the rest as docs/corpora.md lists them.
CLASSES = ("Angry", "Happy", "Neutral", "Sad", "Fearful", "Disgusted")
# Public code's folds: 18 actors each in id order, the last taking the 91st (1001-1091).
PUBLIC_FOLDS = ((1001, 1018), (1019, 1036), (1037, 1054), (1055, 1072), (1073, 1091))


def public_fold(actor: str) -> str | None:
    """The fold public code tests an actor in, e.g. actors1001-1018; None outside 1001-1091."""
    for first, last in PUBLIC_FOLDS:
        if first <= int(actor) <= last:
            return f"actors{first}-{last}"
    return None


def read_sexes(path: Path) -> dict[str, str]:
    with open(path, newline="", encoding="latin-1") as handle:
        return {row["ActorID"].strip(): row["Sex"].strip() for row in csv.DictReader(handle)
                if row.get("ActorID") and row.get("Sex")}


def read_study_clips(path: Path) -> list[str]:
    with open(path, newline="", encoding="latin-1") as handle:
        return [row["Filename"].strip() for row in csv.DictReader(handle) if row.get("Filename")]


def scan(root: Path, options: ReadOptions) -> CorpusScan:
    folds = options.folds
    folder = root / "VideoFlash"
    if not folder.is_dir():
        raise ManifestError(f"{root}: no VideoFlash/ folder found; expected the CREMA-D layout "
                            "(VideoFlash/1001_DFA_ANG_XX.flv ..., VideoDemographics.csv)")
    result, clips = CorpusScan(), {}
    videos = [p for p in files_under(folder, "*") if p.suffix.lower() in EXTENSIONS]
    for video in sorted(videos, key=lambda p: (p.stem, EXTENSIONS.index(p.suffix.lower()))):
        if CLIP.match(video.stem):
            clips.setdefault(video.stem, video)
        else:
            result.unlabelled.append(as_path(video))
    both = len(videos) - len(result.unlabelled) - len(clips)
    if both:
        result.notes.append(f"{both} clip(s) exist as both .mp4 and .flv; the .mp4 was used")
    names = set(clips)
    if (root / "SentenceFilenames.csv").is_file():
        names |= set(n for n in read_study_clips(root / "SentenceFilenames.csv") if CLIP.match(n))
    if (root / "VideoDemographics.csv").is_file():
        sexes = read_sexes(root / "VideoDemographics.csv")
        if not sexes:
            result.notes.append(f"{root / 'VideoDemographics.csv'}: no actor with an ActorID and a Sex; folds are "
                                "balanced by actor count only")
    else:
        sexes = {}
        result.notes.append(f"{root}: no VideoDemographics.csv; folds are balanced by actor count only")
    actors = sorted({CLIP.match(n)["actor"] for n in names})
    unknown = [a for a in actors if a not in sexes]
    if sexes and unknown:
        result.notes.append(f"{len(unknown)} actor(s) missing from VideoDemographics.csv: {', '.join(unknown[:20])}")
    if options.actor_folds == "public":
        fold = {actor: public_fold(actor) for actor in actors}
        outside = [actor for actor, name in fold.items() if name is None]
        if outside:
            raise ManifestError(f"{root}: actor(s) {', '.join(outside[:20])} are outside CREMA-D's 1001-1091, which "
                                "corpus.actor_folds: public divides into 5 folds")
        how = "the 5 folds by actor id of public code (1001-1018, 1019-1036, 1037-1054, 1055-1072, 1073-1091)"
    else:
        if actors and len(actors) < folds:
            raise ManifestError(f"{root}: {folds} folds need at least {folds} actors, found {len(actors)}")
        fold = sex_balanced_folds({a: sexes.get(a, "unknown") for a in actors}, folds)
        how = f"{folds} speaker-independent folds of actors balanced by sex"
    for name in sorted(names):
        match = CLIP.match(name)
        path = as_path(clips.get(name, folder / f"{name}.flv"))  # a missing clip is reported where expected
        result.rows.append(entry(name, path, match["actor"], fold[match["actor"]], match["emotion"],
                                 CATEGORIES.get(match["emotion"])))
    result.notes.append(f"CREMA-D has no activation or valence ratings: those targets will be skipped; "
                        f"sessions are {how}")
    return result
