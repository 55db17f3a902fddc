"""The benchmark corpora's readers (DFEW, MAFW, FERV39k) on small fake trees in each official layout,
with real naming and split files; the public-code folds of RAVDESS and CREMA-D; `classes: all`."""
import json
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from facemotion.__main__ import main
from facemotion.config import ConfigError, experiment_configs, load_schema, schema_of
from facemotion.corpora import dfew, ferv39k, mafw
from facemotion.corpora.manifest import MANIFEST_COLUMNS, ManifestError, describe_manifest, train_only_sessions
from facemotion.corpora.reading import (
    READERS,
    SOURCES,
    build_manifest,
    corpus_classes,
    dropped_as_miss,
    official_test_counts,
    protocol_of,
    protocol_sentence,
    read_corpus,
)
from facemotion.evaluation.summary import CLIP_NOTE
from tiny_run import ROOT, SNAKEMAKE, snakemake, validated

SEED_FOUR = ["Angry", "Happy", "Neutral", "Sad"]


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for i in range(6):
        writer.write(np.full((48, 64, 3), 30 * i, np.uint8))
    writer.release()
    assert path.stat().st_size, "OpenCV could not write a test video"
    return path.read_bytes()


@pytest.fixture
def put_clip(clip_bytes):
    """A video file; each carries its own name at the end, so no two have the same content."""
    def put(path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(clip_bytes + path.name.encode())
        return path
    return put


def put_frames(folder: Path, names: list[str], shade: int) -> Path:
    """A folder of small jpg frames, of a grey `shade` of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        assert cv2.imwrite(str(folder / name), np.full((24, 24, 3), shade % 256, np.uint8))
    return folder


# --- DFEW -----------------------------------------------------------------------------------------

DFEW_CLIPS = {k: 1 + (k - 1) % 7 for k in range(1, 11)}  # clip number -> label 1..7
DFEW_FOLD = {k: f"set_{(k + 1) // 2}" for k in DFEW_CLIPS}  # clips 1-2 tested in set_1, 3-4 in set_2, ...


def dfew_tree(root: Path, put_clip, padded: bool = True, names_padded: bool = True) -> Path:
    """`padded`: the split files' numbers as 00001 (else 1); `names_padded`: the clips and frame
    folders as 00001.mp4, 00001/ (else 1.mp4, 1/); the 16-frame copy names its frames 1..16.jpg."""
    name = "{:05d}".format if names_padded else str
    splits = root / "EmoLabel_DataSplit"
    for fold in sorted(set(DFEW_FOLD.values())):
        for part, tested in (("test", True), ("train", False)):
            lines = ["video_name,label"] + [f"{k:05d},{label}" if padded else f"{k},{label}"
                                            for k, label in DFEW_CLIPS.items() if (DFEW_FOLD[k] == fold) == tested]
            path = splits / f"{part}(single-labeled)" / f"{fold}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(lines) + "\n")
    for k in [*DFEW_CLIPS, 11]:  # clip 11: a multi-labelled clip, in no single-labelled set
        put_clip(root / "Clip" / "original" / f"{name(k)}.mp4")
        put_frames(root / "Clip" / "clip_224x224" / name(k), [f"{k:05d}_{i:05d}.jpg" for i in (1, 2, 10)], 20 * k)
        put_frames(root / "Clip" / "clip_224x224_16f" / name(k), [f"{i}.jpg" for i in (1, 2, 16)], 20 * k + 1)
    return root


def test_dfew_clips_are_tested_in_their_official_fold(tmp_path, put_clip):
    root = dfew_tree(tmp_path / "DFEW", put_clip, padded=False)
    manifest, notes = read_corpus("dfew", root, list(dfew.CLASSES))
    assert list(manifest.columns) == MANIFEST_COLUMNS
    rows = manifest.set_index("recording")
    assert sorted(rows.index) == [f"{k:05d}" for k in DFEW_CLIPS]
    assert rows["session"].to_dict() == {f"{k:05d}": fold for k, fold in DFEW_FOLD.items()}
    assert Counter(rows["session"]) == {f"set_{k}": 2 for k in range(1, 6)}
    assert (rows["speaker"] == "").all() and (rows["split"] == "").all()
    # 1 Happy, 2 Sad, 3 Neutral, 4 Angry, 5 Surprise, 6 Disgust, 7 Fear, in the project's spelling.
    assert [rows.loc[f"{k:05d}", "label"] for k in range(1, 8)] == list(dfew.CLASSES) == [
        "Happy", "Sad", "Neutral", "Angry", "Surprised", "Disgusted", "Fearful"]
    assert rows.loc["00003", "path"] == os.path.normpath(root / "Clip" / "original" / "00003.mp4")
    text = "\n".join(notes)
    assert "ignored 1 video file without a label, e.g. " + os.path.normpath(root / "Clip/original/00011.mp4") in text
    assert "DFEW: 10 single-labelled clips in the 5 official folds (set_1 2, set_2 2" in text
    assert "NOT speaker-independent" in text


def test_dfew_frames_are_the_face_aligned_frame_folders(tmp_path, put_clip):
    root = dfew_tree(tmp_path, put_clip)
    manifest, _ = read_corpus("dfew", root, list(dfew.CLASSES), source="frames")
    assert len(manifest) == 10
    first = manifest.set_index("recording").loc["00001", "path"]
    assert first == os.path.normpath(root / "Clip" / "clip_224x224" / "00001") and os.path.isdir(first)


# Rows of the release's test(single-labeled)/set_1.csv as DFER-CLIP's annotation/DFEW_set_1_test.txt
# lists them (github.com/zengqunzhao/DFER-CLIP; its labels are the release's minus 1), fold 1 only.
DFEW_SET_1 = {1: 2, 2: 3, 4: 2, 6: 4, 7: 4, 8: 2, 10: 7, 11: 5, 12: 5, 13: 3, 15: 4, 16: 7, 18: 1, 19: 5,
              20: 4, 21: 1, 22: 2, 24: 2, 25: 4, 26: 4, 27: 3, 29: 1, 31: 4, 32: 7, 33: 1, 34: 1, 46: 6}


@pytest.mark.parametrize("source, media", [("clips", "original"), ("frames", "clip_224x224"),
                                           ("frames_16f", "clip_224x224_16f")])
@pytest.mark.parametrize("names_padded", [True, False])
def test_dfew_reads_both_spellings_of_its_clip_names_and_says_which(tmp_path, put_clip, source, media,
                                                                    names_padded):
    root = dfew_tree(tmp_path / "DFEW", put_clip, padded=False, names_padded=names_padded)
    manifest, notes = read_corpus("dfew", root, list(dfew.CLASSES), source=source)
    rows = manifest.set_index("recording")
    assert sorted(rows.index) == [f"{k:05d}" for k in DFEW_CLIPS]  # the ids are padded either way
    suffix = ".mp4" if source == "clips" else ""
    on_disk = "00003" if names_padded else "3"
    assert rows.loc["00003", "path"] == os.path.normpath(root / "Clip" / media / (on_disk + suffix))
    assert rows["session"].to_dict() == {f"{k:05d}": fold for k, fold in DFEW_FOLD.items()}
    folder = os.path.normpath(root / "Clip" / media)
    spelt = f"zero-padded (e.g. 00001{suffix})" if names_padded else f"unpadded (e.g. 1{suffix})"
    assert f"DFEW: {folder} names its clips {spelt}" in notes
    assert any(f"ignored 1 video file without a label, e.g. {folder}" in note for note in notes)


def test_dfew_reads_the_release_fold_with_unpadded_names(tmp_path, put_clip):
    """Real ids and labels of test set_1 (DFEW_SET_1), the clips spelled 1.mp4 ...; the other folds
    empty of clips but for one each, so the partition checks hold."""
    root = tmp_path / "DFEW"
    others = {3: 3, 5: 1, 9: 2, 14: 6}  # one clip tested in each of set_2..set_5 (made up)
    fold_of = {**{k: "set_1" for k in DFEW_SET_1}, **dict(zip(others, ["set_2", "set_3", "set_4", "set_5"]))}
    label = {**DFEW_SET_1, **others}
    splits = root / "EmoLabel_DataSplit"
    for fold in dfew.FOLDS:
        for part, tested in (("test", True), ("train", False)):
            path = splits / f"{part}(single-labeled)" / f"{fold}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("video_name,label\n" + "".join(f"{k},{label[k]}\n" for k in sorted(label)
                                                            if (fold_of[k] == fold) == tested))
    for k in label:
        put_clip(root / "Clip" / "original" / f"{k}.mp4")
    manifest, _ = read_corpus("dfew", root, list(dfew.CLASSES))
    rows = manifest.set_index("recording")
    assert Counter(rows.loc[rows["session"] == "set_1", "label"]) == {
        "Angry": 7, "Sad": 5, "Happy": 5, "Surprised": 3, "Neutral": 3, "Fearful": 3, "Disgusted": 1}
    assert rows.loc["00046", "label"] == "Disgusted" and rows.loc["00018", "label"] == "Happy"
    assert rows.loc["00046", "path"] == os.path.normpath(root / "Clip" / "original" / "46.mp4")


@pytest.mark.parametrize("source, media, suffix", [("clips", "original", ".mp4"), ("frames", "clip_224x224", ""),
                                                   ("frames_16f", "clip_224x224_16f", "")])
def test_dfew_refuses_mixed_spellings_or_none_in_one_line_naming_the_folder(tmp_path, put_clip, source, media,
                                                                           suffix):
    root = dfew_tree(tmp_path, put_clip)
    folder = root / "Clip" / media
    (folder / f"00004{suffix}").rename(folder / f"4{suffix}")
    mixed = rf"^{re.escape(str(folder))}: mixes zero-padded and unpadded clip names \(e.g. 00001{suffix} and " \
            rf"4{suffix}\); rename them to one spelling$"
    with pytest.raises(ManifestError, match=mixed):
        read_corpus("dfew", root, list(dfew.CLASSES), source=source)
    for item in folder.iterdir():
        item.rename(folder / f"clip_{item.name}")
    with pytest.raises(ManifestError, match=rf"^{re.escape(str(folder))}: no clip named by its number, "
                                            rf"zero-padded \(00001{suffix}\) or unpadded \(1{suffix}\)$"):
        read_corpus("dfew", root, list(dfew.CLASSES), source=source)


def test_dfew_names_the_other_copies_where_the_one_asked_for_is_absent(tmp_path, put_clip):
    root = dfew_tree(tmp_path, put_clip)
    shutil.rmtree(root / "Clip" / "clip_224x224_16f")
    with pytest.raises(ManifestError, match=r"no Clip/clip_224x224_16f/ folder found \(corpus.source: frames_16f; "
                                            r"corpus.source: clips reads Clip/original/; corpus.source: frames reads "
                                            r"Clip/clip_224x224/\)"):
        read_corpus("dfew", root, list(dfew.CLASSES), source="frames_16f")


def test_dfew_a_subset_of_classes_keeps_those_and_counts_the_rest_per_class(tmp_path, put_clip):
    manifest, notes = read_corpus("dfew", dfew_tree(tmp_path, put_clip), SEED_FOUR)
    assert Counter(manifest["label"]) == {"Happy": 2, "Sad": 2, "Neutral": 2, "Angry": 1}
    assert ("dropped 3 recordings whose category is not in classes: 5 as Surprised (1), 6 as Disgusted (1), "
            "7 as Fearful (1)") in "\n".join(notes)


def test_dfew_refuses_a_missing_split_file_naming_it(tmp_path, put_clip):
    root = dfew_tree(tmp_path, put_clip)
    missing = root / "EmoLabel_DataSplit" / "test(single-labeled)" / "set_3.csv"
    missing.unlink()
    with pytest.raises(ManifestError, match=f"split file {re.escape(str(missing))} is missing"):
        read_corpus("dfew", root, SEED_FOUR)


def test_dfew_refuses_a_listed_clip_that_is_absent_naming_file_and_line(tmp_path, put_clip):
    root = dfew_tree(tmp_path, put_clip)
    (root / "Clip" / "original" / "00004.mp4").unlink()
    test_file = root / "EmoLabel_DataSplit" / "test(single-labeled)" / "set_2.csv"
    absent = rf"{re.escape(str(test_file))} line 3: clip 00004 is listed but .*00004.mp4 does not exist"
    with pytest.raises(ManifestError, match=absent):
        read_corpus("dfew", root, SEED_FOUR)
    for frame in (root / "Clip" / "clip_224x224" / "00007").iterdir():
        frame.unlink()  # a frame folder without images is absent too
    with pytest.raises(ManifestError, match="line 2: clip 00007 is listed but"):
        read_corpus("dfew", root, SEED_FOUR, source="frames")


def test_dfew_refuses_an_unknown_label_naming_file_and_line(tmp_path, put_clip):
    root = dfew_tree(tmp_path, put_clip)
    path = root / "EmoLabel_DataSplit" / "test(single-labeled)" / "set_1.csv"
    path.write_text("video_name,label\n00001,1\n00002,9\n")
    unknown = rf"{re.escape(str(path))} line 3: unknown label '9' of clip 00002; DFEW's labels are 1 Happy"
    with pytest.raises(ManifestError, match=unknown):
        read_corpus("dfew", root, SEED_FOUR)


@pytest.mark.parametrize("test_set_1, train_set_2, expected", [
    # A clip tested in two folds.
    ("00001,1\n00002,2\n00003,3\n", None, r"set_2.csv line 2: clip 00003 is listed twice \(also .*set_1.csv line 4\)"),
    # A training set lacking a clip another fold tests.
    (None, "00001,1\n00002,2\n00005,5\n00006,6\n00007,7\n00008,1\n00009,2\n",
     r"train\(single-labeled\)/set_2.csv: lacks clip 00010, which .*test\(single-labeled\)/set_5.csv line 3 tests"),
    # A clip trained on in the fold that tests it.
    (None, "00001,1\n00002,2\n00003,3\n00005,5\n00006,6\n00007,7\n00008,1\n00009,2\n00010,3\n",
     r"train\(single-labeled\)/set_2.csv line 4: clip 00003 is trained on in the fold that tests it"),
    # A label that differs between the files.
    (None, "00001,1\n00002,7\n00005,5\n00006,6\n00007,7\n00008,1\n00009,2\n00010,3\n",
     r"train\(single-labeled\)/set_2.csv line 3: clip 00002 has label 7, but .*set_1.csv line 3 gives 2"),
])
def test_dfew_refuses_folds_that_are_not_a_partition(tmp_path, put_clip, test_set_1, train_set_2, expected):
    root = dfew_tree(tmp_path, put_clip)
    splits = root / "EmoLabel_DataSplit"
    if test_set_1:
        (splits / "test(single-labeled)" / "set_1.csv").write_text("video_name,label\n" + test_set_1)
    if train_set_2:
        (splits / "train(single-labeled)" / "set_2.csv").write_text("video_name,label\n" + train_set_2)
    with pytest.raises(ManifestError, match=expected):
        read_corpus("dfew", root, SEED_FOUR)


def test_dfew_consistent_tree_reads_while_each_fault_above_is_refused(tmp_path, put_clip):
    """The partition checks do not refuse the release's own shape (train K = the other test sets)."""
    manifest, _ = read_corpus("dfew", dfew_tree(tmp_path, put_clip), SEED_FOUR)
    assert len(manifest) == 7


def test_dfew_in_the_workflow_with_classes_all_is_flagged_not_speaker_independent(tmp_path, put_clip):
    root = dfew_tree(tmp_path, put_clip)
    config = validated({"corpus": {"format": "dfew", "path": str(root), "source": "frames"}, "classes": "all"})
    assert config["classes"] == list(dfew.CLASSES)
    manifest, notes = build_manifest(config)
    assert len(manifest) == 10 and set(manifest["label"]) == set(dfew.CLASSES)
    assert "the corpus does not name its speakers: folds may share speakers, so the results are NOT " \
           "speaker-independent" in notes
    log = describe_manifest(manifest, notes)
    assert "10 recordings" in log and "ignored 1 video file without a label" in log


def test_the_classes_left_out_reach_the_manifest_log(tmp_path, put_clip):
    config = validated({"corpus": {"format": "dfew", "path": str(dfew_tree(tmp_path, put_clip))},
                              "classes": ["Happy", "Sad"]})
    manifest, notes = build_manifest(config)
    assert Counter(manifest["label"]) == {"Happy": 2, "Sad": 2}
    # clips 1-10 have labels 1..7, 1, 2, 3: Happy 2, Sad 2; Neutral 2, Angry, Surprised, Disgusted, Fearful 1 each
    assert "dropped 6 recordings whose category is not in classes: 3 as Neutral (2), 4 as Angry (1), " \
           "5 as Surprised (1), 6 as Disgusted (1), 7 as Fearful (1)" in describe_manifest(manifest, notes)


# --- MAFW -----------------------------------------------------------------------------------------

MAFW_CLIPS = {f"{k:05d}": label for k, label in zip(range(25, 36), mafw.CLASS_OF)}  # one clip per class


def mafw_tree(root: Path, put_clip) -> Path:
    clips = list(MAFW_CLIPS)
    fold_of = {clip: f"set_{1 + i % 5}" for i, clip in enumerate(clips)}
    splits = root / "Train & Test Set" / "single" / "no_caption"
    for fold in sorted(set(fold_of.values())):
        (splits / fold).mkdir(parents=True)
        for part, tested in (("test", True), ("train", False)):
            (splits / fold / f"{part}.txt").write_text(
                "".join(f"{clip}.mp4 {MAFW_CLIPS[clip]}\n" for clip in clips if (fold_of[clip] == fold) == tested))
    for i, clip in enumerate([*clips, "20045"]):  # 20045: a compound-emotion clip
        put_clip(root / "data" / "clips" / f"{clip}.mp4")
        put_frames(root / "data" / "frames" / clip, ["1.jpg", "2.jpg", "10.jpg"], 15 * i)
    return root


def test_mafw_reads_its_eleven_classes_in_five_official_folds(tmp_path, put_clip):
    root = mafw_tree(tmp_path / "MAFW", put_clip)
    assert corpus_classes("mafw", root) == list(mafw.CLASSES) == [
        "Angry", "Disgusted", "Fearful", "Happy", "Neutral", "Sad", "Surprised", "Contempt", "Anxiety",
        "Helplessness", "Disappointment"]
    manifest, notes = read_corpus("mafw", root, list(mafw.CLASSES))
    rows = manifest.set_index("recording")
    assert rows["label"].to_dict() == {clip: mafw.CLASS_OF[label] for clip, label in MAFW_CLIPS.items()}
    assert rows.loc["00025", "session"] == "set_1" and rows.loc["00030", "session"] == "set_1"
    assert Counter(rows["session"]) == {"set_1": 3, "set_2": 2, "set_3": 2, "set_4": 2, "set_5": 2}
    assert rows.loc["00025", "path"] == os.path.normpath(root / "data" / "clips" / "00025.mp4")
    assert (rows["speaker"] == "").all()
    assert "ignored 1 video file without a label" in "\n".join(notes)
    frames, _ = read_corpus("mafw", root, list(mafw.CLASSES), source="frames")
    assert set(frames["path"]) == {os.path.normpath(root / "data" / "frames" / clip) for clip in MAFW_CLIPS}


def test_mafw_refuses_an_unknown_label_and_a_missing_split_file(tmp_path, put_clip):
    root = mafw_tree(tmp_path, put_clip)
    path = root / "Train & Test Set" / "single" / "no_caption" / "set_2" / "test.txt"
    path.write_text("00026.mp4 disgust\n00031.mp4 angry\n")
    with pytest.raises(ManifestError, match=f"{re.escape(str(path))} line 2: unknown label 'angry' of clip 00031.mp4"):
        read_corpus("mafw", root, SEED_FOUR)
    path.unlink()
    with pytest.raises(ManifestError, match=f"split file {re.escape(str(path))} is missing"):
        read_corpus("mafw", root, SEED_FOUR)


def test_mafw_needs_the_source_folder_it_is_asked_for(tmp_path, put_clip):
    root = mafw_tree(tmp_path, put_clip)
    for clip in (root / "data" / "clips").iterdir():
        clip.unlink()
    (root / "data" / "clips").rmdir()
    with pytest.raises(ManifestError, match=r"no data/clips/ folder found \(corpus.source: clips; corpus.source: "
                                            r"frames reads data/frames/\)"):
        read_corpus("mafw", root, SEED_FOUR)


# --- FERV39k --------------------------------------------------------------------------------------

FERV_TEST = ["Action/Sad/0010 Sad", "Interview/Happy/0003 Happy", "War/Angry/0100 Angry",
             "School/Neutral/0004 Neutral"]
FERV_TRAIN = ["Action/Sad/0011 Sad", "Crime/Fear/0121 Fear", "Talkshow/Surprise/0128 Surprise",
              "Social/Disgust/0057 Disgust", "Argue/Happy/0405 Happy", "War/Angry/0527 Angry",
              "Speech/Neutral/0422 Neutral"]


def ferv_tree(root: Path) -> Path:
    setups = root / "4_setups" / "All_scenes"
    setups.mkdir(parents=True)
    (setups / "test_All.csv").write_text("\n".join(FERV_TEST) + "\n")
    (setups / "train_All.csv").write_text("\n".join(FERV_TRAIN) + "\n")
    for i, line in enumerate([*FERV_TEST, *FERV_TRAIN, "Action/Sad/0999 Sad"]):  # the last: in no split file
        put_frames(root / "2_ClipsforFaceCrop" / line.split()[0], ["1.jpg", "2.jpg"], 10 * i)
    return root


def test_ferv39k_test_set_is_one_session_and_the_training_set_is_never_tested(tmp_path):
    root = ferv_tree(tmp_path / "FERV39k")
    manifest, notes = read_corpus("ferv39k", root, list(ferv39k.CLASSES))
    rows = manifest.set_index("recording")
    assert rows.loc["Action_Sad_0010", "session"] == "test" and rows.loc["Action_Sad_0010", "split"] == ""
    assert rows.loc["Action_Sad_0011", "session"] == "train" and rows.loc["Action_Sad_0011", "split"] == "train"
    assert Counter(zip(rows["session"], rows["split"])) == {("test", ""): 4, ("train", "train"): 7}
    assert train_only_sessions(manifest) == ["train"]
    assert rows.loc["Crime_Fear_0121", "label"] == "Fearful"
    assert rows.loc["War_Angry_0100", "path"] == os.path.normpath(root / "2_ClipsforFaceCrop" / "War/Angry/0100")
    assert (rows["speaker"] == "").all()
    assert list(ferv39k.CLASSES) == ["Happy", "Sad", "Neutral", "Angry", "Surprised", "Disgusted", "Fearful"]
    text = "\n".join(notes)
    assert "FERV39k: 4 test clips (test_All.csv, session test) and 7 training clips" in text
    assert "ignored 1 video file without a label, e.g. " + os.path.normpath(
        root / "2_ClipsforFaceCrop/Action/Sad/0999") in text


def test_ferv39k_in_the_workflow_reads_frames_by_default_and_refuses_clips(tmp_path):
    root = ferv_tree(tmp_path)
    config = validated({"corpus": {"format": "ferv39k", "path": str(root)}, "classes": SEED_FOUR})
    assert config["corpus"]["source"] == "frames"
    manifest, notes = build_manifest(config)
    assert Counter(manifest["session"]) == {"test": 4, "train": 4}
    assert any("dropped 3 recordings whose category is not in classes: Disgust as Disgusted (1), Fear as "
               "Fearful (1), Surprise as Surprised (1)" in note for note in notes)
    with pytest.raises(ConfigError, match="corpus.source: 'clips' is not offered by corpus.format 'ferv39k'"):
        validated({"corpus": {"format": "ferv39k", "path": str(root), "source": "clips"}})
    with pytest.raises(ManifestError, match="FERV39k is released as frames only"):
        read_corpus("ferv39k", root, SEED_FOUR, source="clips")


def test_the_workflow_says_at_start_which_classes_it_left_out(tmp_path):
    """The notes reach the console of `snakemake -n`, before any job runs."""
    root = ferv_tree(tmp_path / "FERV39k")
    config = tmp_path / "config.yaml"
    config.write_text(f"corpus: {{format: ferv39k, path: {root}}}\nclasses: [Angry, Happy, Neutral, Sad]\n")
    result = snakemake(tmp_path / "run", "--dry-run", "--configfile", str(config))
    console = result.stdout + result.stderr
    assert ("manifest: dropped 3 recordings whose category is not in classes: Disgust as Disgusted (1), "
            "Fear as Fearful (1), Surprise as Surprised (1)") in console
    assert "FERV39k names no speakers, so the split is NOT speaker-independent" in console
    assert "FERV39k with Angry, Happy, Neutral, Sad: not the official 7-class protocol (4 of 7 classes)" in console
    (root / "4_setups" / "All_scenes" / "train_All.csv").write_text("Action/Sad/0011 Sadness\n")
    refused = subprocess.run([*SNAKEMAKE, "--dry-run", "--directory", str(tmp_path / "run"), "--configfile",
                              str(config)], cwd=ROOT, capture_output=True, text=True)
    assert refused.returncode == 1
    assert "train_All.csv line 1: unknown label 'Sadness'" in refused.stdout + refused.stderr


def test_ferv39k_refuses_a_clip_in_both_sets_an_absent_folder_and_an_unknown_label(tmp_path):
    root = ferv_tree(tmp_path)
    train = root / "4_setups" / "All_scenes" / "train_All.csv"
    test = root / "4_setups" / "All_scenes" / "test_All.csv"
    train.write_text("\n".join([*FERV_TRAIN, "War/Angry/0100 Angry"]) + "\n")
    twice = (rf"{re.escape(str(train))} line 8: clip War/Angry/0100 is listed twice "
             rf"\(also {re.escape(str(test))} line 3\)")
    with pytest.raises(ManifestError, match=twice):
        read_corpus("ferv39k", root, SEED_FOUR)
    train.write_text("\n".join([*FERV_TRAIN, "War/Angry/0200 Angry", "War/Angry/0300 Angrier"]) + "\n")
    with pytest.raises(ManifestError, match=rf"{re.escape(str(train))} line 9: unknown label 'Angrier'"):
        read_corpus("ferv39k", root, SEED_FOUR)
    train.write_text("\n".join([*FERV_TRAIN, "War/Angry/0200 Angry"]) + "\n")
    absent = rf"{re.escape(str(train))} line 8: clip War/Angry/0200 is listed but .*0200 does not exist"
    with pytest.raises(ManifestError, match=absent):
        read_corpus("ferv39k", root, SEED_FOUR)
    test.unlink()
    with pytest.raises(ManifestError, match=f"split file {re.escape(str(test))} is missing"):
        read_corpus("ferv39k", root, SEED_FOUR)


# --- the public folds of the acted corpora ----------------------------------------------------------

def test_ravdess_public_folds_are_four_consecutive_actors(tmp_path, put_clip):
    for actor in range(1, 10):
        put_clip(tmp_path / f"Actor_{actor:02d}" / f"01-01-05-01-01-01-{actor:02d}.mp4")
    manifest, notes = read_corpus("ravdess", tmp_path, SEED_FOUR, actor_folds="public")
    fold_of = dict(zip(manifest["speaker"], manifest["session"]))
    assert fold_of == {f"Actor_{a:02d}": ("actors01-04" if a <= 4 else "actors05-08" if a <= 8 else "actors09-12")
                       for a in range(1, 10)}
    assert "sessions are the 6 folds of 4 consecutive actors of public code" in "\n".join(notes)
    balanced, _ = read_corpus("ravdess", tmp_path, SEED_FOUR, folds=3)
    assert set(balanced["session"]) == {"fold1", "fold2", "fold3"}


def test_crema_d_public_folds_are_by_actor_id(tmp_path, put_clip):
    for actor in (1001, 1018, 1019, 1036, 1054, 1055, 1072, 1073, 1091):
        put_clip(tmp_path / "VideoFlash" / f"{actor}_IEO_ANG_HI.flv")
    manifest, _ = read_corpus("crema-d", tmp_path, ["Angry", "Happy"], actor_folds="public")
    assert dict(zip(manifest["speaker"], manifest["session"])) == {
        "1001": "actors1001-1018", "1018": "actors1001-1018", "1019": "actors1019-1036", "1036": "actors1019-1036",
        "1054": "actors1037-1054", "1055": "actors1055-1072", "1072": "actors1055-1072",
        "1073": "actors1073-1091", "1091": "actors1073-1091"}
    put_clip(tmp_path / "VideoFlash" / "1092_IEO_ANG_HI.flv")
    with pytest.raises(ManifestError, match="actor\\(s\\) 1092 are outside CREMA-D's 1001-1091"):
        read_corpus("crema-d", tmp_path, ["Angry", "Happy"], actor_folds="public")


# --- the protocol: the default classes never shrink a benchmark ---------------------------------------

@pytest.mark.parametrize("corpus_format, name, n", [("dfew", "DFEW", 7), ("mafw", "MAFW", 11),
                                                    ("ferv39k", "FERV39k", 7)])
def test_a_benchmark_refuses_the_default_classes_at_start_in_one_line(tmp_path, corpus_format, name, n):
    corpus = {"format": corpus_format, "path": str(tmp_path)}
    refused = (rf"^invalid configuration:\n  - classes: Angry, Happy, Neutral, Sad come from the defaults, 4 of "
               rf"{name}'s {n} classes; set `classes: all` for the official {n}-class protocol, or name the classes "
               r"to run a subset \(reported as not the official protocol\)$")
    with pytest.raises(ConfigError, match=refused):
        validated({"corpus": corpus})
    # As the workflow sees it: config.yaml's four merged in, no file of the user's naming them.
    with pytest.raises(ConfigError, match=refused):
        experiment_configs({"corpus": corpus, "classes": SEED_FOUR}, classes_named=False)
    assert len(validated({"corpus": corpus, "classes": "all"})["classes"]) == n
    assert validated({"corpus": corpus, "classes": SEED_FOUR})["classes"] == SEED_FOUR  # named: run
    assert experiment_configs({"corpus": corpus, "classes": "all"}, classes_named=False)
    assert validated({"corpus": {"format": "ravdess", "path": str(tmp_path)}})["classes"] == SEED_FOUR


@pytest.mark.parametrize("corpus_format, tree, sessions", [
    ("dfew", lambda root, put_clip: dfew_tree(root, put_clip), [f"set_{k}" for k in range(1, 6)]),
    ("mafw", lambda root, put_clip: mafw_tree(root, put_clip), [f"set_{k}" for k in range(1, 6)]),
    ("ferv39k", lambda root, put_clip: ferv_tree(root), ["test", "train"])])
def test_the_ready_configs_run_the_published_protocol(tmp_path, put_clip, corpus_format, tree, sessions):
    """config/<benchmark>.yaml as the workflow reads it: the user's file names every class; the
    official folds, label only, the whole training list trained for fixed epochs, three repeats."""
    settings = yaml.safe_load((Path(ROOT) / "config" / f"{corpus_format}.yaml").read_text())
    settings["corpus"]["path"] = str(tree(tmp_path / corpus_format, put_clip))
    config = experiment_configs(settings, classes_named=True)["default"]
    assert config["classes"] == corpus_classes(corpus_format, tmp_path) and config["targets"] == ["label"]
    assert config["cv"]["protocol"] == "loso" and config["cv"]["validation"] == "none"  # the whole training list
    assert config["training"]["repeats"] >= 3
    manifest, _ = build_manifest(config)
    assert sorted(set(manifest["session"])) == sessions
    assert protocol_of(corpus_format, config["classes"]).startswith("official")
    assert config["cv"]["dropped_test_clips"] == "miss"  # every official test clip scored


@pytest.mark.parametrize("corpus_format, classes", [
    ("msp-improv", SEED_FOUR), ("iemocap", SEED_FOUR),
    ("crema-d", ["Angry", "Happy", "Neutral", "Sad", "Fearful", "Disgusted"]),
    ("ravdess", ["Angry", "Happy", "Neutral", "Sad", "Fearful", "Disgusted", "Surprised", "Calm"])])
def test_the_licensed_corpora_have_ready_configs_of_the_protocol_the_field_reports(tmp_path, corpus_format,
                                                                                  classes):
    settings = yaml.safe_load((Path(ROOT) / "config" / f"{corpus_format}.yaml").read_text())
    assert settings["corpus"]["format"] == corpus_format
    settings["corpus"]["path"] = str(tmp_path)
    config = experiment_configs(settings, classes_named=True)["default"]
    assert config["classes"] == classes
    assert config["cv"]["protocol"] == "loso" and config["cv"]["validation"] == "none"
    assert config["cv"]["dropped_test_clips"] == "miss" and config["training"]["repeats"] >= 3
    if corpus_format in ("crema-d", "ravdess"):
        assert config["corpus"]["actor_folds"] == "public"


def test_the_benchmarks_score_every_official_test_clip_unless_asked_not_to(tmp_path, put_clip):
    """cv.dropped_test_clips: auto is miss for the benchmarks only; the counts are the manifest's
    test clips per fold and class (FERV39k: the test session; its training clips never)."""
    assert dropped_as_miss("auto", "dfew") and dropped_as_miss("auto", "ferv39k")
    assert not dropped_as_miss("auto", "demo") and not dropped_as_miss("auto", "crema-d")
    assert dropped_as_miss("miss", "ravdess") and not dropped_as_miss("leave_out", "mafw")
    config = validated({"corpus": {"format": "dfew", "path": str(dfew_tree(tmp_path / "DFEW", put_clip))},
                        "classes": "all"})
    assert config["cv"]["dropped_test_clips"] == "auto"
    manifest, _ = build_manifest(config)
    counts = official_test_counts(manifest, ["set_1", "set_4"], config["classes"])
    # clips 1-2 (labels 1, 2) in set_1, 7-8 (labels 7, 1) in set_4
    assert counts == {"set_1": {"Happy": 1, "Sad": 1}, "set_4": {"Fearful": 1, "Happy": 1}}
    ferv = validated({"corpus": {"format": "ferv39k", "path": str(ferv_tree(tmp_path / "FERV39k"))},
                      "classes": "all", "cv": {"dropped_test_clips": "leave_out"}})
    manifest, _ = build_manifest(ferv)
    assert sum(official_test_counts(manifest, ["test"], ferv["classes"])["test"].values()) == len(FERV_TEST)
    with pytest.raises(ConfigError, match="cv.dropped_test_clips: got 'drop'; allowed: one of 'auto', 'miss'"):
        validated({"cv": {"dropped_test_clips": "drop"}})


# Real DFEW clips: 7 per official fold, one of each class, with their labels, from the first lines of
# each fold's test list in DFER-CLIP's annotation/DFEW_set_K_test.txt (github.com/zengqunzhao/DFER-CLIP,
# d10d5a4), whose labels are the release's minus 1 (written back here as the release's 1-7).
DFEW_REAL = {
    "set_1": {1: 2, 2: 3, 6: 4, 10: 7, 11: 5, 18: 1, 46: 6},
    "set_2": {2522: 6, 2578: 7, 3138: 4, 3271: 1, 3343: 2, 3590: 3, 4357: 5},
    "set_3": {5566: 7, 6193: 6, 6362: 4, 6419: 2, 6516: 1, 6997: 3, 7573: 5},
    "set_4": {8685: 7, 9220: 6, 9669: 4, 9739: 1, 9893: 2, 10001: 3, 10670: 5},
    "set_5": {12583: 7, 12845: 2, 12950: 1, 13080: 4, 13244: 3, 13363: 5, 13581: 6},
}


def dfew_real_tree(root: Path, names_padded: bool, frames: int = 10, short: int | None = None) -> Path:
    """A DFEW tree of DFEW_REAL: the release's split files, and a frame folder per clip, named as
    the release (00001) or as public code reads it (1); clip ``short`` gets 3 frames only."""
    rng = np.random.default_rng(0)
    for fold, clips in DFEW_REAL.items():
        for part, listed in (("test", clips), ("train", {k: v for f, c in DFEW_REAL.items() if f != fold
                                                         for k, v in c.items()})):
            path = root / "EmoLabel_DataSplit" / f"{part}(single-labeled)" / f"{fold}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("video_name,label\n" + "".join(f"{k:05d},{label}\n" for k, label in listed.items()))
        for k, label in clips.items():
            folder = root / "Clip" / "clip_224x224" / (f"{k:05d}" if names_padded else str(k))
            folder.mkdir(parents=True)
            for i in range(1, 4 if k == short else frames + 1):
                face = np.clip(30 * label + rng.normal(0, 20, (32, 32)), 0, 255).astype(np.uint8)
                assert cv2.imwrite(str(folder / f"{k:05d}_{i:05d}.jpg"), face)
    return root


@pytest.mark.parametrize("names_padded", [True, False])
def test_real_dfew_rows_are_read_into_their_official_folds_and_classes(tmp_path, names_padded):
    root = dfew_real_tree(tmp_path / "DFEW", names_padded, frames=1)
    manifest, _ = read_corpus("dfew", root, list(dfew.CLASSES), source="frames")
    rows = manifest.set_index("recording")
    assert rows["session"].to_dict() == {f"{k:05d}": fold for fold, clips in DFEW_REAL.items() for k in clips}
    assert rows["label"].to_dict() == {f"{k:05d}": dfew.CLASSES[label - 1] for clips in DFEW_REAL.values()
                                       for k, label in clips.items()}
    assert rows.loc["00018", "label"] == "Happy" and rows.loc["00010", "label"] == "Fearful"  # release labels 1, 7
    assert protocol_of("dfew", sorted(set(rows["label"]))) == "official 7-class protocol"


# Real MAFW clips, 4 per fold, from DFER-CLIP's annotation/MAFW_set_K_test.txt (same commit), whose
# labels index MAFW's 11 in the release's order (0 anger, 3 happiness, 5 sadness, 6 surprise).
MAFW_REAL = {"set_1": {"00025": 3, "00055": 5, "00031": 6, "00024": 0},
             "set_2": {"03747": 3, "05015": 5, "07081": 6, "01745": 0},
             "set_3": {"07542": 3, "07404": 5, "09456": 6, "03326": 0},
             "set_4": {"09112": 3, "08521": 5, "09878": 6, "04421": 0},
             "set_5": {"10337": 3, "09907": 5, "10711": 6, "05065": 0}}


def test_real_mafw_rows_are_read_into_their_official_folds_and_classes(tmp_path, put_clip):
    names = list(mafw.CLASS_OF)  # the release's label names, in its order
    splits = tmp_path / "MAFW" / "Train & Test Set" / "single" / "no_caption"
    for fold, clips in MAFW_REAL.items():
        (splits / fold).mkdir(parents=True)
        others = {clip: label for f, c in MAFW_REAL.items() if f != fold for clip, label in c.items()}
        for part, listed in (("test", clips), ("train", others)):
            (splits / fold / f"{part}.txt").write_text("".join(f"{clip}.mp4 {names[label]}\n"
                                                               for clip, label in listed.items()))
        for clip in clips:
            put_clip(tmp_path / "MAFW" / "data" / "clips" / f"{clip}.mp4")
    manifest, _ = read_corpus("mafw", tmp_path / "MAFW", list(mafw.CLASSES))
    rows = manifest.set_index("recording")
    assert rows["session"].to_dict() == {clip: fold for fold, clips in MAFW_REAL.items() for clip in clips}
    assert rows["label"].to_dict() == {clip: mafw.CLASSES[label] for clips in MAFW_REAL.values()
                                       for clip, label in clips.items()}
    assert protocol_of("mafw", sorted(set(rows["label"]))) == "not the official 11-class protocol (4 of 11 classes)"


# Real FERV39k clips, one of each class from the first lines of DFER-CLIP's annotation/FERV39K_test.txt
# and FERV39K_train.txt (same commit); their paths name scene, class and clip.
FERV_REAL_TEST = ["Action/Happy/0015", "Action/Sad/0009", "Action/Neutral/0015", "Action/Angry/0009",
                  "Action/Surprise/0009", "Action/Disgust/0005", "Action/Fear/0005"]
FERV_REAL_TRAIN = ["Action/Happy/0267", "Action/Sad/0015", "Action/Neutral/0090", "Action/Angry/0015",
                   "Action/Surprise/0015", "Action/Disgust/0015", "Action/Fear/0015"]


def test_real_ferv39k_rows_are_read_into_the_official_split(tmp_path):
    root = tmp_path / "FERV39k"
    setups = root / "4_setups" / "All_scenes"
    setups.mkdir(parents=True)
    for name, clips in (("test_All.csv", FERV_REAL_TEST), ("train_All.csv", FERV_REAL_TRAIN)):
        (setups / name).write_text("".join(f"{clip} {clip.split('/')[1]}\n" for clip in clips))
        for i, clip in enumerate(clips):
            put_frames(root / "2_ClipsforFaceCrop" / clip, ["1.jpg"], 20 * i)
    manifest, _ = read_corpus("ferv39k", root, list(ferv39k.CLASSES), source="frames")
    assert Counter(manifest["session"]) == {"test": 7, "train": 7}
    assert set(manifest.loc[manifest["split"] == "train", "session"]) == {"train"}
    assert sorted(manifest.loc[manifest["session"] == "test", "label"]) == sorted(ferv39k.CLASSES)


@pytest.mark.slow
def test_a_dfew_tree_as_released_runs_through_to_the_papers_table(tmp_path):
    """config/dfew.yaml on a DFEW tree of real ids and labels, with the unpadded clip folders public
    code reads, through the whole workflow: each fold trains on every other fold's clips (no
    validation share), every official test clip is scored (one has too few frames: a miss), and
    the per-fold table in the papers' layout is written and on the front page."""
    root = dfew_real_tree(tmp_path / "DFEW", names_padded=False, short=6)  # clip 6 (set_1): too few frames
    settings = yaml.safe_load((Path(ROOT) / "config" / "dfew.yaml").read_text())
    settings["corpus"]["path"] = str(root)
    settings["extraction"].update(face_size=16, recordings_per_job=40)
    settings["cv"]["test_sessions"] = ["set_1", "set_2"]
    settings["training"].update(epochs=2, batch_size=8, repeats=1, threads=1)
    config = tmp_path / "dfew.yaml"
    config.write_text(yaml.safe_dump(settings))
    snakemake(tmp_path, "--configfile", str(config))
    results = tmp_path / "results"
    info = json.loads((results / "predictions" / "label" / "fold_set_1.info.json").read_text())
    assert info["n_val"] == 0 and info["n_train"] == 28 and info["epochs_run"] == info["best_epoch"] == 2
    table = pd.read_csv(results / "benchmark_folds.tsv", sep="\t", index_col="metric")
    assert list(table.columns) == ["set_1", "set_2", "mean"]
    assert table.loc["test clips", ["set_1", "set_2"]].tolist() == [7, 7]
    assert table.loc["dropped, scored as misses", ["set_1", "set_2"]].tolist() == [1, 0]
    metrics = pd.read_csv(results / "metrics.tsv", sep="\t", index_col="fold")
    assert metrics.loc["set_1", "n_test"] == 6 and metrics.loc["set_1", "n_official"] == 7
    assert list(metrics.columns).index("war") + 1 == list(metrics.columns).index("accuracy")
    assert metrics["war"].equals(metrics["accuracy"])  # named as the papers name it
    assert table.loc["UAR (%)", "set_1"] == pytest.approx(100 * metrics.loc["set_1", "uar_official"], abs=0.01)
    assert table.loc["WAR (%)", "mean"] == pytest.approx(100 * metrics.loc["mean", "war_official"], abs=0.01)
    summary = pd.read_csv(results / "summary.tsv", sep="\t").iloc[0]
    assert summary["protocol"] == "official 7-class protocol" and summary["n_official"] == 14
    page = (results / "report" / "front_page.rst").read_text()
    assert "Per official fold, as the benchmark's papers print them" in page


def test_the_protocol_is_official_only_with_every_class():
    assert protocol_of("dfew", list(reversed(dfew.CLASSES))) == "official 7-class protocol"
    assert protocol_of("mafw", SEED_FOUR) == "not the official 11-class protocol (4 of 11 classes)"
    assert protocol_of("ravdess", SEED_FOUR) == protocol_of("demo", SEED_FOUR) == ""
    assert protocol_sentence("ferv39k", ["Happy", "Sad"]) == (
        "FERV39k with Happy, Sad: not the official 7-class protocol (2 of 7 classes), so these numbers cannot be put "
        "beside published FERV39k results (classes: all runs the official protocol).")


def test_the_front_page_states_the_benchmark_protocol(tmp_path, put_clip):
    from facemotion.report.front_page import front_page, page_settings

    root = dfew_tree(tmp_path / "DFEW", put_clip)
    manifest = pd.DataFrame({"recording": ["00001", "00002"], "speaker": "", "session": ["set_1", "set_2"],
                             "label": ["Happy", "Sad"]})
    report = pd.DataFrame({"recording": ["00001", "00002"], "status": ["ok", "ok"]})
    metrics = pd.DataFrame({"target": "label", "fold": ["set_1", "set_2", "mean", "std"], "n_test": [1, 1, 1, 0],
                            "uar": [0.5, 0.7, 0.6, 0.1], "majority_uar": 0.14, "chance_uar": 0.14,
                            "accuracy": [0.5, 0.6, 0.55, 0.07]})
    summary = pd.DataFrame({"experiment": ["default"], "target": "label", "uar": 0.6, "uar_ci_low": 0.5,
                            "uar_ci_high": 0.7, "ci_folds": 2, "ci_over": "clips", "ci_note": CLIP_NOTE, "repeats": 1})
    for classes, said in ((SEED_FOUR, "**Protocol**: DFEW with Angry, Happy, Neutral, Sad: not the official 7-class "
                                      "protocol (4 of 7 classes), so these numbers cannot be put beside published"),
                          ("all", "**Protocol**: DFEW's official 7-class protocol: every class of the release")):
        config = validated({"corpus": {"format": "dfew", "path": str(root)}, "classes": classes})
        page = front_page(page_settings(config, "share"), manifest, report, metrics, summary)
        assert said in page
        assert "     - chance UAR\n     - WAR (accuracy)\n     - folds" in page  # the results table's header
        assert "weighted average recall (WAR, the accuracy" in page
        # the papers' per-fold table: set_1, set_2, mean; UAR and WAR in percent
        assert ("   * - \n     - set_1\n     - set_2\n     - mean\n   * - UAR (%)\n     - 50.00\n     - 70.00\n"
                "     - 60.00\n   * - WAR (%)\n     - 50.00\n     - 60.00\n     - 55.00\n") in page


def test_the_workflow_refuses_a_benchmark_on_the_default_classes(tmp_path):
    """`snakemake -n` with a config of the user's that names no classes (config.yaml's four apply):
    refused in one line. (Naming them runs: test_the_workflow_says_at_start_which_classes_it_left_out.)"""
    root = ferv_tree(tmp_path / "FERV39k")
    config = tmp_path / "config.yaml"
    config.write_text(f"corpus: {{format: ferv39k, path: {root}}}\n")
    refused = subprocess.run([*SNAKEMAKE, "--dry-run", "--directory", str(tmp_path / "run"), "--configfile",
                              str(config)], cwd=ROOT, capture_output=True, text=True)
    assert refused.returncode == 1
    assert ("classes: Angry, Happy, Neutral, Sad come from the defaults, 4 of FERV39k's 7 classes; set `classes: all` "
            "for the official 7-class protocol") in refused.stdout + refused.stderr


# --- classes: all, the config keys, the check command ------------------------------------------------

def test_classes_all_for_a_tsv_is_its_labels_in_natural_order(tmp_path, put_clip):
    rows = ["recording\tpath\tspeaker\tsession\tlabel"]
    for i, label in enumerate(["level10", "level2", "level2", "Angry"]):
        put_clip(tmp_path / f"r{i}.mp4")
        rows.append(f"r{i}\tr{i}.mp4\ts{i}\tsession{i}\t{label}")
    (tmp_path / "manifest.tsv").write_text("\n".join(rows) + "\n")
    config = validated({"corpus": {"format": "tsv", "path": str(tmp_path / "manifest.tsv")}, "classes": "all"})
    assert config["classes"] == ["Angry", "level2", "level10"]
    assert validated({"classes": "all"})["classes"] == SEED_FOUR  # the demo's four
    (tmp_path / "one.tsv").write_text("recording\tpath\tspeaker\tsession\tlabel\nr0\tr0.mp4\ts\tx\tAngry\n")
    with pytest.raises(ConfigError, match="classes: 'all' found 1 label"):
        validated({"corpus": {"format": "tsv", "path": str(tmp_path / "one.tsv")}, "classes": "all"})


def test_classes_all_is_every_class_of_the_reader_in_a_fixed_order(tmp_path):
    assert corpus_classes("iemocap", tmp_path) == ["Angry", "Happy", "Neutral", "Sad", "Fearful", "Disgusted",
                                                   "Surprised", "Frustrated", "Other"]
    assert corpus_classes("crema-d", tmp_path)[:4] == SEED_FOUR
    with pytest.raises(ConfigError, match="classes: got 'everything'; allowed: a list of a string or 'all'"):
        validated({"classes": "everything"})


def test_frames_are_refused_for_formats_that_read_video_files(tmp_path):
    with pytest.raises(ConfigError, match="corpus.source: 'frames' is not offered by corpus.format 'msp-improv'"):
        validated({"corpus": {"format": "msp-improv", "path": str(tmp_path), "source": "frames"}})
    assert validated({"corpus": {"format": "dfew", "path": str(tmp_path)}, "classes": "all"})["corpus"]["source"] \
        == "clips"
    with pytest.raises(ManifestError, match="source 'frames' is read by dfew, mafw, ferv39k only"):
        read_corpus("ravdess", tmp_path, SEED_FOUR, source="frames")
    with pytest.raises(ManifestError, match="source 'frames_16f' is read by dfew only; mafw reads clips, frames"):
        read_corpus("mafw", tmp_path, SEED_FOUR, source="frames_16f")


def test_check_command_reads_the_benchmark_layouts(tmp_path, put_clip, capsys):
    root = dfew_tree(tmp_path / "DFEW", put_clip)
    assert main(["check-corpus", "dfew", str(root), "--source", "frames", "--classes", "all"]) == 0
    out = capsys.readouterr().out
    assert "usable recordings: 10 (unknown speakers, 5 sessions)" in out
    assert "per class: Happy 2, Sad 2, Neutral 2, Angry 1, Surprised 1, Disgusted 1, Fearful 1" in out
    assert "set_5" in out and "Recordings per speaker" not in out
    assert f"DFEW: {os.path.normpath(root / 'Clip' / 'clip_224x224')} names its clips zero-padded" in out
    ferv = ferv_tree(tmp_path / "FERV39k")
    assert main(["check-corpus", "ferv39k", str(ferv)]) == 0
    assert "sessions used for training only, never tested: train" in capsys.readouterr().out
    (root / "EmoLabel_DataSplit" / "train(single-labeled)" / "set_4.csv").unlink()
    assert main(["check-corpus", "dfew", str(root)]) == 1
    assert "set_4.csv is missing" in capsys.readouterr().err


def test_the_schema_and_the_readers_agree_on_formats_and_sources():
    schema = load_schema()
    corpus = {key: schema_of(f"corpus.{key}", schema) for key in ("format", "source")}
    assert corpus["format"]["enum"] == ["demo", "tsv", *READERS]
    assert corpus["source"]["enum"] == ["clips", "frames", "frames_16f"]
    assert set(SOURCES) <= set(READERS)
    assert {s for offered in SOURCES.values() for s in offered} == set(corpus["source"]["enum"])


def test_check_command_offers_the_public_folds(tmp_path, put_clip, capsys):
    for actor in (1, 5):
        put_clip(tmp_path / f"Actor_{actor:02d}" / f"01-01-05-01-01-01-{actor:02d}.mp4")
    assert main(["check-corpus", "ravdess", str(tmp_path), "--actor-folds", "public"]) == 0
    out = capsys.readouterr().out
    assert "actors01-04" in out and "actors05-08" in out
