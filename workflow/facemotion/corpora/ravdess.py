"""RAVDESS (Livingstone & Russo, 2018): acted statements, everything coded in the file name.

Layout as released (zenodo.org/record/1188976; each Video_Speech_Actor_NN.zip unpacks to Actor_NN/):
    Actor_01/01-01-05-01-02-01-01.mp4 ... Actor_24/...

File names: modality (01 audio-video, 02 video-only, 03 audio-only) - vocal channel (01 speech,
02 song) - emotion (01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust,
08 surprised) - intensity (01 normal, 02 strong) - statement (01, 02) - repetition (01, 02) -
actor (01-24; odd male, even female).

Audio-video and video-only files of one performance hold the same frames, so one is kept per
performance (audio-video preferred). Song is skipped: the faces sing rather than speak. There are
no sessions and no dimensional ratings: the fold stands in for the session. corpus.actor_folds
`balanced` deals the actors into cv.folds speaker-independent folds balanced by sex; `public`
uses the 6 folds of 4 consecutive actors of public code (MAE-DFER, HiCMAE: actors01-04 ...
actors21-24).
"""

from __future__ import annotations

import re
from pathlib import Path

from facemotion.corpora.manifest import ManifestError
from facemotion.corpora.scan import CorpusScan, ReadOptions, as_path, entry, files_under, sex_balanced_folds

EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
            "06": "fearful", "07": "disgust", "08": "surprised"}
CATEGORIES = {"neutral": "Neutral", "calm": "Calm", "happy": "Happy", "sad": "Sad", "angry": "Angry",
              "fearful": "Fearful", "disgust": "Disgusted", "surprised": "Surprised"}
NAME = re.compile(r"^(?P<modality>0[1-3])-(?P<channel>0[12])-(?P<emotion>0[1-8])-(?P<intensity>0[12])"
                  r"-(?P<statement>0[12])-(?P<repetition>0[12])-(?P<actor>\d{2})$")
VIDEO_MODALITIES = ("01", "02")  # order of preference
SPEECH = "01"
# `classes: all`: the seed's four first, then the rest as docs/corpora.md lists them.
CLASSES = ("Angry", "Happy", "Neutral", "Sad", "Fearful", "Disgusted", "Surprised", "Calm")
ACTORS_PER_PUBLIC_FOLD = 4


def public_fold(actor: str) -> str:
    """The fold public code tests actor NN in: 4 consecutive actors, actors01-04 ... actors21-24."""
    first = (int(actor) - 1) // ACTORS_PER_PUBLIC_FOLD * ACTORS_PER_PUBLIC_FOLD + 1
    return f"actors{first:02d}-{first + ACTORS_PER_PUBLIC_FOLD - 1:02d}"


def scan(root: Path, options: ReadOptions) -> CorpusScan:
    folds = options.folds
    result, performances, songs, copies = CorpusScan(), {}, 0, 0
    videos = files_under(root, "**/*.mp4")
    if not videos:
        raise ManifestError(f"{root}: no RAVDESS video files found; expected Actor_01..Actor_24/ folders "
                            "with files like 01-01-05-01-02-01-01.mp4 (audio-only .wav files cannot be used)")
    for video in videos:
        match = NAME.match(video.stem)
        if not match or match["modality"] not in VIDEO_MODALITIES:
            result.unlabelled.append(as_path(video))
        elif match["channel"] != SPEECH:
            songs += 1
        else:
            performance = video.stem[3:]  # everything but the modality
            if performance in performances:
                copies += 1
            kept = performances.get(performance)
            if kept is None or VIDEO_MODALITIES.index(match["modality"]) < VIDEO_MODALITIES.index(kept[1]["modality"]):
                performances[performance] = (video, match)
    actors = sorted({match["actor"] for _, match in performances.values()})
    if options.actor_folds == "public":
        fold = {actor: public_fold(actor) for actor in actors}
        how = "the 6 folds of 4 consecutive actors of public code (actors01-04 ... actors21-24)"
    else:
        if actors and len(actors) < folds:
            raise ManifestError(f"{root}: {folds} folds need at least {folds} actors, found {len(actors)}")
        fold = sex_balanced_folds({a: "male" if int(a) % 2 else "female" for a in actors}, folds)
        how = f"{folds} speaker-independent folds of actors balanced by sex"
    for video, match in sorted(performances.values(), key=lambda item: item[0].stem):
        result.rows.append(entry(video.stem, as_path(video), f"Actor_{match['actor']}", fold[match["actor"]],
                                 EMOTIONS[match["emotion"]], CATEGORIES[EMOTIONS[match["emotion"]]]))
    if copies:
        result.notes.append(f"skipped {copies} video file(s) that repeat a performance already kept "
                            "(audio-video and video-only copies hold the same frames)")
    if songs:
        result.notes.append(f"skipped {songs} song video(s) (vocal channel 02): only speech is used")
    result.notes.append(f"RAVDESS has no activation or valence ratings: those targets will be skipped; "
                        f"sessions are {how}")
    return result
