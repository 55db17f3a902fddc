"""The corpus readers on small fake trees that follow each corpus' published layout and label formats."""
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from facemotion.__main__ import main
from facemotion.corpora.manifest import MANIFEST_COLUMNS, ManifestError
from facemotion.corpora.reading import build_manifest, describe_corpus, read_corpus
from facemotion.corpora.scan import sex_balanced_folds
from tiny_run import validated

CLASSES = ["Angry", "Happy", "Neutral", "Sad"]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, bytes]:
    """One real 8-frame 64x48 video per container, copied under every name a tree needs."""
    folder = tmp_path_factory.mktemp("clips")
    written = {}
    for suffix, codec in ((".avi", "MJPG"), (".mp4", "mp4v"), (".flv", "FLV1")):
        path = folder / f"clip{suffix}"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), 10, (64, 48))
        for i in range(8):
            writer.write(np.full((48, 64, 3), 30 * i, np.uint8))
        writer.release()
        written[suffix] = path.read_bytes()
        assert written[suffix], f"OpenCV could not write a {suffix} test video"
    return written


@pytest.fixture
def put(clips):
    def put(path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(clips[path.suffix])
        return path
    return put


def by_id(manifest):
    return manifest.set_index("recording")


# --- MSP-IMPROV -------------------------------------------------------------------------------

MSP_LABELS = [  # key, consensus, A, V, has video
    ("S01A-F01-S-FM01", "A", "4.000000", "1.500000", True),
    ("S01H-M01-T-MF02", "H", "3.500000", "4.500000", True),
    ("S02N-F02-P-FM03", "N", "NaN", "3.000000", True),     # missing activation rating
    ("S02S-M02-R-MF04", "S", "2.000000", "1.666667", True),
    ("S03A-F03-P-FM05", "O", "3.000000", "3.000000", True),  # other: not a class
    ("S03H-M03-P-MF06", "X", "3.000000", "3.000000", True),  # no majority
    ("S04N-M06-P-MF07", "N", "3.000000", "3.000000", False),  # label without video
    ("S05S-F06-R-FM08", "S", "1.500000", "2.000000", True),
]


def msp_tree(root: Path, put) -> Path:
    lines = []
    for key, category, activation, valence, has_video in MSP_LABELS:
        lines += [f"UTD-IMPROV-{key}.avi; {category}; A:{activation}; V:{valence}; D:3.000000 ; N:3.500000;",
                  f"rater{key[-2:]}a; Neutral; Neutral; A:3.000000; V:3.000000; D:3.000000; N:4.000000;",
                  f"rater{key[-2:]}b; Angry; Angry,Frustrated; A:4.000000; V:2.000000; D:NaN; N:3.000000;", ""]
        if has_video:
            sentence, speaker, scenario = key[:4], key[5:8], key[9]
            put(root / f"session{int(speaker[1:])}" / sentence / scenario / f"MSP-IMPROV-{key}.avi")
    (root / "Evalution.txt").write_text("\n".join(lines) + "\n")  # so spelt in the release
    put(root / "session4" / "S09A" / "P" / "MSP-IMPROV-S09A-F04-P-FM09.avi")  # no label
    return root


def test_msp_improv_reads_evaluation_txt_and_derives_sessions_from_speakers(tmp_path, put):
    root = msp_tree(tmp_path / "MSP-IMPROV", put)
    manifest, notes = read_corpus("msp-improv", root, CLASSES)
    assert list(manifest.columns) == MANIFEST_COLUMNS
    rows = by_id(manifest)
    assert sorted(rows.index) == ["MSP-IMPROV-S01A-F01-S-FM01", "MSP-IMPROV-S01H-M01-T-MF02",
                                  "MSP-IMPROV-S02N-F02-P-FM03", "MSP-IMPROV-S02S-M02-R-MF04",
                                  "MSP-IMPROV-S05S-F06-R-FM08"]
    assert dict(zip(rows["speaker"], rows["session"])) == {"F01": "session1", "M01": "session1", "F02": "session2",
                                                           "M02": "session2", "F06": "session6"}
    first = rows.loc["MSP-IMPROV-S01A-F01-S-FM01"]
    assert (first["label"], first["activation"], first["valence"]) == ("Angry", 4.0, 1.5)
    assert first["path"] == os.path.normpath(root / "session1/S01A/S/MSP-IMPROV-S01A-F01-S-FM01.avi")
    assert math.isnan(rows.loc["MSP-IMPROV-S02N-F02-P-FM03", "activation"])
    assert rows.loc["MSP-IMPROV-S02S-M02-R-MF04", "valence"] == pytest.approx(1.666667)
    assert rows["start"].isna().all() and (rows["region"] == "").all()
    text = "\n".join(notes)
    assert "dropped 1 label entry whose video file is missing, e.g. MSP-IMPROV-S04N-M06-P-MF07" in text
    assert "ignored 1 video file without a label" in text
    assert "dropped 2 recordings whose category is not in classes: O as Other (1), X (1)" in text
    assert "1 utterance(s) have no activation rating" in text


def test_msp_improv_classes_choose_the_categories(tmp_path, put):
    manifest, _ = read_corpus("msp-improv", msp_tree(tmp_path, put), ["Neutral", "Sad", "Other"])
    assert Counter(manifest["label"]) == {"Sad": 2, "Neutral": 1, "Other": 1}


def test_msp_improv_without_evaluation_txt_names_root_and_file(tmp_path, put):
    put(tmp_path / "session1" / "S01A" / "P" / "MSP-IMPROV-S01A-F01-P-FM01.avi")
    with pytest.raises(ManifestError, match=f"{tmp_path}: no Evalution.txt \\(or Evaluation.txt\\) found"):
        read_corpus("msp-improv", tmp_path, CLASSES)


def test_msp_improv_with_foreign_evaluation_txt_says_what_was_expected(tmp_path):
    (tmp_path / "Evaluation.txt").write_text("accuracy 0.9\n")  # the corrected spelling is read too
    with pytest.raises(ManifestError, match="no utterance lines like 'UTD-IMPROV-"):
        read_corpus("msp-improv", tmp_path, CLASSES)


def test_build_manifest_reads_a_named_corpus(tmp_path, put):
    root = msp_tree(tmp_path, put)
    config = validated({"corpus": {"format": "msp-improv", "path": str(root)}, "classes": CLASSES})
    with pytest.raises(ManifestError, match="in sessions session1, session2, session6 use files of identical content"):
        build_manifest(config)  # one clip copied under every name: the same video in several sessions
    for video in root.rglob("*.avi"):
        video.write_bytes(video.read_bytes() + video.name.encode())  # now each file differs
    manifest, _ = build_manifest(config)
    assert len(manifest) == 5


# --- IEMOCAP ----------------------------------------------------------------------------------

HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"


def emo_evaluation(utterances: list[tuple[str, str, str, str]]) -> str:
    """An EmoEvaluation file: utterance line, rater lines, blank line per utterance."""
    blocks = [f"[{span}]\t{utterance}\t{category}\t[{vad}]\nC-E2:\tNeutral;\t()\nC-E3:\tAnger;\t()\n"
              f"A-E3:\tval 3; act 2; dom  2;\t()\n" for span, utterance, category, vad in utterances]
    return HEADER + "\n".join(blocks) + "\n"


def iemocap_tree(root: Path, put) -> Path:
    base = root / "IEMOCAP_full_release"
    files = {
        "Session1/dialog/EmoEvaluation/Ses01F_impro01.txt": [
            ("6.2901 - 8.2357", "Ses01F_impro01_F000", "neu", "2.5000, 2.5000, 2.5000"),
            ("10.0100 - 11.3925", "Ses01F_impro01_M000", "ang", "1.5000, 4.0000, 4.5000"),
            ("12.5000 - 15.0000", "Ses01F_impro01_F001", "exc", "4.0000, 3.5000, 3.0000"),
            ("16.0000 - 18.0000", "Ses01F_impro01_M001", "fru", "2.0000, 3.5000, 3.5000"),
            ("19.0000 - 20.0000", "Ses01F_impro01_F002", "xxx", "2.5000, 3.0000, 3.0000"),
        ],
        "Session2/dialog/EmoEvaluation/Ses02M_script01_1.txt": [
            ("1.0000 - 3.5000", "Ses02M_script01_1_M003", "sad", "1.5000, 2.0000, 2.0000"),
            ("4.0000 - 6.0000", "Ses02M_script01_1_F004", "hap", "4.5000, 3.0000, 3.0000"),
        ],
        "Session2/dialog/EmoEvaluation/Ses02M_impro03.txt": [  # its video is missing
            ("2.0000 - 4.0000", "Ses02M_impro03_M000", "ang", "2.0000, 4.0000, 4.0000"),
        ],
        # Per-rater files in subfolders are not the consensus labels.
        "Session1/dialog/EmoEvaluation/Categorical/Ses01F_impro01_e2_cat.txt": [
            ("6.2901 - 8.2357", "Ses01F_impro01_F000", "ang", "1.0000, 1.0000, 1.0000"),
        ],
    }
    for name, utterances in files.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_text(emo_evaluation(utterances))
    for name in ("Session1/dialog/avi/DivX/Ses01F_impro01.avi", "Session2/dialog/avi/DivX/Ses02M_script01_1.avi",
                 "Session1/dialog/avi/DivX/Ses01F_impro02.avi"):  # the last has no labels
        put(base / name)
    (base / "Session1/dialog/avi/DivX/._Ses01F_impro01.avi").write_bytes(b"\0")  # macOS metadata, not a video
    return root


def test_iemocap_utterances_are_segments_of_dialogue_videos_with_the_speakers_side(tmp_path, put):
    root = iemocap_tree(tmp_path / "corpora", put)
    manifest, notes = read_corpus("iemocap", root, CLASSES)
    rows = by_id(manifest)
    assert sorted(rows.index) == ["Ses01F_impro01_F000", "Ses01F_impro01_F001", "Ses01F_impro01_M000",
                                  "Ses02M_script01_1_F004", "Ses02M_script01_1_M003"]
    first = rows.loc["Ses01F_impro01_F000"]
    assert first["path"] == os.path.normpath(root / "IEMOCAP_full_release/Session1/dialog/avi/DivX/Ses01F_impro01.avi")
    assert (first["start"], first["end"], first["label"]) == (6.2901, 8.2357, "Neutral")
    # The actor wearing the markers (letter after the session number) sits on the left.
    assert rows["region"].to_dict() == {"Ses01F_impro01_F000": "left", "Ses01F_impro01_F001": "left",
                                        "Ses01F_impro01_M000": "right", "Ses02M_script01_1_F004": "right",
                                        "Ses02M_script01_1_M003": "left"}
    angry = rows.loc["Ses01F_impro01_M000"]  # [V, A, D] = [1.5, 4.0, 4.5]
    assert (angry["valence"], angry["activation"]) == (1.5, 4.0)
    assert (angry["speaker"], angry["session"]) == ("Ses01M", "Session1")
    assert rows.loc["Ses01F_impro01_F001", "label"] == "Happy"  # exc merged
    assert rows.loc["Ses02M_script01_1_M003", "speaker"] == "Ses02M"
    text = "\n".join(notes)
    assert "merged 1 'exc' (excited) utterance(s) into Happy" in text
    assert "dropped 1 label entry whose video file is missing, e.g. Ses02M_impro03_M000" in text
    assert "ignored 1 video file without a label, e.g. " + os.path.normpath(
        root / "IEMOCAP_full_release/Session1/dialog/avi/DivX/Ses01F_impro02.avi") in text
    assert "dropped 2 recordings whose category is not in classes: fru as Frustrated (1), xxx (1)" in text


def test_an_indented_iemocap_label_line_is_read(tmp_path, put):
    """A label line with leading white space was neither read nor counted."""
    root = iemocap_tree(tmp_path / "corpora", put)
    labels = root / "IEMOCAP_full_release/Session2/dialog/EmoEvaluation/Ses02M_script01_1.txt"
    labels.write_text(labels.read_text().replace("[4.0000", "  [4.0000"))
    manifest, _ = read_corpus("iemocap", root, CLASSES)
    assert "Ses02M_script01_1_F004" in set(manifest["recording"])

def test_iemocap_root_may_be_the_release_folder_itself(tmp_path, put):
    root = iemocap_tree(tmp_path, put) / "IEMOCAP_full_release"
    manifest, _ = read_corpus("iemocap", root, CLASSES + ["Frustrated"])
    assert len(manifest) == 6 and manifest["path"].str.startswith(str(root)).all()


def test_iemocap_without_label_files_says_what_was_expected(tmp_path, put):
    put(tmp_path / "Session1/dialog/avi/DivX/Ses01F_impro01.avi")
    with pytest.raises(ManifestError, match=r"no IEMOCAP label files found .*EmoEvaluation/\*\.txt"):
        read_corpus("iemocap", tmp_path, CLASSES)


# --- CREMA-D ----------------------------------------------------------------------------------

CREMA_SEXES = {1001: "Male", 1002: "Female", 1003: "Female", 1004: "Female", 1005: "Male", 1006: "Female",
               1011: "Male", 1014: "Male", 1015: "Male", 1016: "Male"}


def crema_tree(root: Path, put) -> Path:
    demographics = ['"ActorID","Age","Sex","Race","Ethnicity"']
    study = ['"Stimulus_Number","Filename"']
    for number, (actor, sex) in enumerate(CREMA_SEXES.items()):
        demographics.append(f'{actor},30,"{sex}","Caucasian","Not Hispanic"')
        suffix = ".mp4" if number % 2 else ".flv"
        for name in (f"{actor}_IEO_ANG_HI", f"{actor}_IEO_HAP_LO", f"{actor}_DFA_NEU_XX",
                     f"{actor}_TIE_SAD_XX", f"{actor}_IEO_FEA_MD"):
            put(root / "VideoFlash" / (name + suffix))
            study.append(f'{len(study)},"{name}"')
    put(root / "VideoFlash" / "1001_IEO_ANG_HI.mp4")  # a converted copy beside the .flv
    put(root / "VideoFlash" / "1001_DFA_ANG.flv")     # not a CREMA-D name
    study.append(f'{len(study)},"1016_WSI_SAD_XX"')    # a clip of the study without its video
    (root / "VideoDemographics.csv").write_text("\n".join(demographics) + "\n")
    (root / "SentenceFilenames.csv").write_text("\n".join(study) + "\n")
    return root


def test_crema_d_folds_are_speaker_independent_and_balanced_by_sex(tmp_path, put, monkeypatch):
    crema_tree(tmp_path / "CREMA-D", put)
    monkeypatch.chdir(tmp_path)  # a relative root stays relative in the paths
    manifest, notes = read_corpus("crema-d", "CREMA-D", CLASSES, folds=2)
    assert len(manifest) == 40 and Counter(manifest["label"]) == {c: 10 for c in CLASSES}
    fold_of = manifest.groupby("speaker")["session"].unique()
    assert fold_of.map(len).eq(1).all()  # no actor in two folds
    sexes = Counter((fold[0], CREMA_SEXES[int(actor)]) for actor, fold in fold_of.items())
    assert sexes == {("fold1", "Male"): 3, ("fold2", "Male"): 3, ("fold1", "Female"): 2, ("fold2", "Female"): 2}
    assert manifest["activation"].isna().all() and manifest["valence"].isna().all()
    rows = by_id(manifest)
    assert rows.loc["1001_IEO_ANG_HI", "path"] == os.path.join("CREMA-D", "VideoFlash", "1001_IEO_ANG_HI.mp4")
    assert rows.loc["1002_DFA_NEU_XX", "path"] == os.path.join("CREMA-D", "VideoFlash", "1002_DFA_NEU_XX.mp4")
    text = "\n".join(notes)
    assert "dropped 1 label entry whose video file is missing, e.g. 1016_WSI_SAD_XX" in text
    unlabelled = os.path.join("CREMA-D", "VideoFlash", "1001_DFA_ANG.flv")
    assert f"ignored 1 video file without a label, e.g. {unlabelled}" in text
    assert "dropped 10 recordings whose category is not in classes: FEA as Fearful (10)" in text
    assert "1 clip(s) exist as both .mp4 and .flv" in text
    assert "no activation or valence ratings: those targets will be skipped" in text


def test_crema_d_demographics_without_their_columns_are_said_to_balance_by_count_only(tmp_path, put):
    crema_tree(tmp_path, put)
    (tmp_path / "VideoDemographics.csv").write_text('"Actor","Gender"\n1001,"Male"\n')
    _, notes = read_corpus("crema-d", tmp_path, CLASSES, folds=2)
    assert any(note.startswith(f"{tmp_path / 'VideoDemographics.csv'}: no actor with an ActorID and a Sex")
               for note in notes)

def test_crema_d_needs_as_many_actors_as_folds(tmp_path, put):
    put(tmp_path / "VideoFlash" / "1001_IEO_ANG_HI.flv")
    with pytest.raises(ManifestError, match="5 folds need at least 5 actors, found 1"):
        read_corpus("crema-d", tmp_path, CLASSES)


def test_crema_d_without_any_usable_video_is_an_error(tmp_path, put):
    crema_tree(tmp_path, put)
    for video in (tmp_path / "VideoFlash").iterdir():
        video.unlink()
    with pytest.raises(ManifestError, match="no usable recordings: 51 label entries, 51 without a video file"):
        read_corpus("crema-d", tmp_path, CLASSES, folds=2)


def test_a_root_that_is_not_the_corpus_names_root_and_layout(tmp_path):
    with pytest.raises(ManifestError, match=f"{tmp_path}: no VideoFlash/ folder found"):
        read_corpus("crema-d", tmp_path, CLASSES)
    with pytest.raises(ManifestError, match="not a folder"):
        read_corpus("crema-d", tmp_path / "absent", CLASSES)
    with pytest.raises(ManifestError, match="unknown corpus format 'savee'"):
        read_corpus("savee", tmp_path, CLASSES)


# --- RAVDESS ----------------------------------------------------------------------------------

def ravdess_tree(root: Path, put) -> Path:
    for actor in range(1, 7):
        folder = root / f"Actor_{actor:02d}"
        for emotion, intensity in (("01", "01"), ("02", "02"), ("03", "01"), ("04", "02"), ("05", "01")):
            for modality in ("01", "02"):  # audio-video and video-only copies of one performance
                put(folder / f"{modality}-01-{emotion}-{intensity}-01-01-{actor:02d}.mp4")
        put(folder / f"01-02-03-01-01-01-{actor:02d}.mp4")  # song
        (folder / f"03-01-05-01-01-01-{actor:02d}.wav").write_bytes(b"RIFF")  # audio-only
    put(root / "Actor_03" / "02-01-05-02-02-02-03.mp4")  # only the video-only file of this performance
    put(root / "Actor_01" / "clip.mp4")
    return root


def test_ravdess_keeps_one_speech_video_per_performance_in_sex_balanced_folds(tmp_path, put):
    manifest, notes = read_corpus("ravdess", ravdess_tree(tmp_path, put), CLASSES, folds=3)
    assert Counter(manifest["label"]) == {"Neutral": 6, "Happy": 6, "Sad": 6, "Angry": 7}
    assert manifest["recording"].str[:2].value_counts().to_dict() == {"01": 24, "02": 1}
    assert "02-01-05-02-02-02-03" in set(manifest["recording"])
    fold_of = manifest.groupby("speaker")["session"].unique()
    assert fold_of.map(len).eq(1).all()
    sexes = Counter((fold[0], "male" if int(actor[-2:]) % 2 else "female") for actor, fold in fold_of.items())
    assert sexes == {(f"fold{k}", sex): 1 for k in (1, 2, 3) for sex in ("male", "female")}
    assert manifest["activation"].isna().all()
    text = "\n".join(notes)
    assert "skipped 30 video file(s) that repeat a performance" in text
    assert "skipped 6 song video(s)" in text
    assert "dropped 6 recordings whose category is not in classes: calm as Calm (6)" in text
    assert "ignored 1 video file without a label, e.g. " + os.path.normpath(tmp_path / "Actor_01" / "clip.mp4") in text


def test_ravdess_audio_only_is_not_usable(tmp_path):
    (tmp_path / "Actor_01").mkdir()
    (tmp_path / "Actor_01" / "03-01-05-01-01-01-01.wav").write_bytes(b"RIFF")
    with pytest.raises(ManifestError, match=f"{tmp_path}: no RAVDESS video files found"):
        read_corpus("ravdess", tmp_path, CLASSES)


def test_folds_are_balanced_by_sex_overall_and_deterministic():
    actors = {f"m{i:02d}": "Male" for i in range(48)} | {f"f{i:02d}": "Female" for i in range(43)}
    folds = sex_balanced_folds(actors, 5)
    assert folds == sex_balanced_folds(dict(reversed(list(actors.items()))), 5)
    for sex in ("Male", "Female"):
        sizes = Counter(f for a, f in folds.items() if actors[a] == sex)
        assert len(sizes) == 5 and max(sizes.values()) - min(sizes.values()) <= 1
    sizes = Counter(folds.values())
    assert max(sizes.values()) - min(sizes.values()) <= 1


# --- inspection and the check command -----------------------------------------------------------

def test_inspect_lists_counts_missing_and_unlabelled_files(tmp_path, put):
    text, _ = describe_corpus("iemocap", iemocap_tree(tmp_path, put), CLASSES, 5)
    assert "label entries: 8; usable recordings: 5 (4 speakers, 2 sessions)" in text
    assert "per class: Angry 1, Happy 2, Neutral 1, Sad 1" in text
    assert "Recordings per session and class:" in text and "Recordings per speaker and class:" in text
    assert "Label entries whose video file is missing (1):\n  Ses02M_impro03_M000: " + os.path.normpath(
        tmp_path / "IEMOCAP_full_release/Session2/dialog/avi/DivX/Ses02M_impro03.avi") in text
    assert "Videos without a label (1):" in text and "Ses01F_impro02.avi" in text
    assert "UNUSABLE" not in text


def test_check_command_prints_counts_and_exits_zero(tmp_path, put, capsys):
    root = crema_tree(tmp_path, put)
    assert main(["check-corpus", "crema-d", str(root), "--folds", "2"]) == 0
    out = capsys.readouterr().out
    assert "usable recordings: 40 (10 speakers, 2 sessions)" in out
    assert "per class: Angry 10, Happy 10, Neutral 10, Sad 10" in out
    assert "fold1" in out and "1001" in out


def test_check_command_fails_on_an_unusable_corpus(tmp_path, put, capsys):
    root = msp_tree(tmp_path, put)
    assert main(["check-corpus", "msp-improv", str(root), "--classes", "Angry"]) == 1  # Angry only in session1
    assert "UNUSABLE" in capsys.readouterr().out
    assert main(["check-corpus", "ravdess", str(tmp_path / "session1")]) == 1
    assert "no RAVDESS video files found" in capsys.readouterr().err


def test_check_command_runs_as_a_module(tmp_path, put):
    root = msp_tree(tmp_path, put)
    result = subprocess.run([sys.executable, "-m", "facemotion", "check-corpus", "msp-improv", str(root)],
                            capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT / "workflow")})
    assert result.returncode == 0, result.stderr
    assert "usable recordings: 5 (5 speakers, 3 sessions)" in result.stdout
