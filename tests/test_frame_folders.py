"""Recordings that are folders of frames (DFEW, FERV39k) and `extraction.detector: none` for frames
that are face crops already: natural order, the same frames as a video, bad folders reported, the
cache keyed on the frames, the manifest's checks, and a tiny workflow run on a frame-folder corpus."""

import logging
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from facemotion.common.values import natural_key as fold_order
from facemotion.corpora.manifest import ManifestError, check_corpus, content_hash, normalise_manifest
from facemotion.corpora.recordings import frame_files
from facemotion.extraction import batch
from facemotion.extraction.batch import run_batch
from facemotion.extraction.extract import extract_recording
from facemotion.extraction.settings import ExtractionSettings
from facemotion.extraction.video import open_video
from facemotion.prediction.predict import PredictionInputError, read_recordings
from facemotion.report.plots import video_frame
from seed_reference import seed_decision
from test_extract import _counter, draw_face, logged, manifest_rows, write_video
from tiny_run import jobs_of, snakemake, write_config


def video_as_folder(video: Path, folder: Path) -> Path:
    """The decoded frames of `video` as lossless PNGs 1.png, 2.png, ...: the same pixels as a folder."""
    folder.mkdir(parents=True)
    capture = open_video(str(video))
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        index += 1
        cv2.imwrite(str(folder / f"{index}.png"), frame)
    capture.release()
    return folder


def noise_frames(folder: Path, count: int, size=(48, 40), suffix=".png", seed=0) -> Path:
    """`count` frames of noise (no face for HOG), each different, named 1..count."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(1, count + 1):
        cv2.imwrite(str(folder / f"{index}{suffix}"), rng.integers(0, 256, (*size[::-1], 3), dtype=np.uint8))
    return folder


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    gap = write_video(root / "gap.mp4", 60, lambda i: None if 10 <= i < 30 else (320, 180))
    # Faces in 9 scattered frames only: the sampler cannot fill 8 positions, the every-frame scan decides.
    scattered = write_video(root / "scattered.mp4", 90, lambda i: (320, 180) if i % 10 == 4 else None)
    return {"gap": gap, "gap_folder": video_as_folder(gap, root / "gap"),
            "scattered": scattered, "scattered_folder": video_as_folder(scattered, root / "scattered")}


# ----------------------------------------------------------------------------- order and frames


def test_frames_are_read_in_natural_order_and_other_files_are_ignored(tmp_path):
    for name in ["10.jpg", "2.jpg", "1.jpg", "11.JPG", "3.jpeg", "12.png", "notes.txt", "clip.mp4", "._1.jpg"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "4.jpg").mkdir()  # a folder is not a frame
    names = [Path(f).name for f in frame_files(tmp_path)]
    assert names == ["1.jpg", "2.jpg", "3.jpeg", "10.jpg", "11.JPG", "12.png"]
    assert sorted(["10", "2", "1"], key=fold_order) == ["1", "2", "10"]  # one natural order for folds too


def test_a_folder_gives_the_frames_and_crops_of_the_same_video(clips):
    video = extract_recording(clips["gap"], ExtractionSettings())
    folder = extract_recording(clips["gap_folder"], ExtractionSettings())
    assert video.status == folder.status == "ok", (video.detail, folder.detail)
    np.testing.assert_array_equal(folder.frame_index, video.frame_index)
    np.testing.assert_array_equal(folder.pixels, video.pixels)
    assert all(not 10 <= i < 30 for i in folder.frame_index)
    assert "60 images in the folder" in folder.detail


def test_a_folder_the_sampler_cannot_fill_is_scanned_as_the_seed_scans_its_video(clips):
    settings = ExtractionSettings()
    reference = seed_decision(clips["scattered"], settings)  # every frame of the video, the seed's way
    folder = extract_recording(clips["scattered_folder"], settings)
    assert reference.kept and folder.status == "ok", folder.detail
    assert "every frame probed" in folder.detail
    assert list(folder.frame_index) == reference.frame_index
    np.testing.assert_array_equal(folder.pixels, extract_recording(clips["scattered"], settings).pixels)


# ----------------------------------------------------------------------------- bad folders


def test_bad_folders_get_a_reason_naming_the_recording(tmp_path, caplog):
    empty = tmp_path / "empty"
    empty.mkdir()
    others = tmp_path / "others"
    others.mkdir()
    (others / "notes.txt").write_text("not a frame")
    (others / "clip.mp4").write_bytes(b"\0" * 100)
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "1.jpg").write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    one_bad = noise_frames(tmp_path / "one_bad", 10)
    (one_bad / "5.png").write_bytes(b"not a png")
    rows = manifest_rows({"empty_clip": empty, "other_files": others, "corrupt_clip": corrupt, "one_bad": one_bad})
    caplog.set_level(logging.INFO)
    kept, report = run_batch(rows, ExtractionSettings(detector="none", n_frames=8), tmp_path / "cache")
    by_id = {row["recording"]: row for row in report}
    assert [row["status"] for row in report] == ["unreadable", "unreadable", "unreadable", "ok"]
    assert "no .jpg, .jpeg or .png image in the folder (it is empty)" in by_id["empty_clip"]["detail"]
    assert "no .jpg, .jpeg or .png image in the folder (2 other entries)" in by_id["other_files"]["detail"]
    assert "none of its 1 images read could be decoded (e.g. 1.jpg)" in by_id["corrupt_clip"]["detail"]
    # A bad frame among good ones is a frame without a face, named in the report; the rest are used.
    assert "1 images could not be decoded (5.png)" in by_id["one_bad"]["detail"]
    assert 4 not in kept[0].result.frame_index  # 5.png is frame 4
    messages = logged(caplog)
    for recording in ("empty_clip", "other_files", "corrupt_clip"):
        assert any(m.startswith(f"extracted {recording}: unreadable") for m in messages)


def test_a_segment_of_a_folder_is_refused(tmp_path):
    folder = noise_frames(tmp_path / "clip", 10)
    result = extract_recording(folder, ExtractionSettings(detector="none"), start=0.0, end=1.0)
    assert result.status == "unreadable" and "no frame rate" in result.detail


# ----------------------------------------------------------------------------- detector none


def test_detector_none_keeps_every_decodable_frame_resized_to_face_size(tmp_path):
    folder = noise_frames(tmp_path / "clip", 10, size=(64, 48))
    assert extract_recording(folder, ExtractionSettings(n_frames=8)).status == "no_face"  # HOG finds nothing
    result = extract_recording(folder, ExtractionSettings(n_frames=10, face_size=24, detector="none"))
    assert result.status == "ok" and result.faces_found == 10, result.detail
    assert list(result.frame_index) == list(range(10))
    files = frame_files(folder)
    expected = [cv2.resize(cv2.cvtColor(cv2.imread(f), cv2.COLOR_BGR2GRAY), (24, 24), interpolation=cv2.INTER_AREA)
                for f in files]
    np.testing.assert_array_equal(result.pixels, np.stack(expected))
    # An undecodable frame is no face: 9 of the 10 frames remain.
    Path(files[3]).write_bytes(b"broken")
    short = extract_recording(folder, ExtractionSettings(n_frames=10, face_size=24, detector="none"))
    assert short.status == "too_few_faces" and short.faces_found == 9, short.detail


def test_detector_none_with_a_region_takes_that_half_of_the_frame(tmp_path):
    folder = noise_frames(tmp_path / "clip", 4, size=(64, 32))
    result = extract_recording(folder, ExtractionSettings(n_frames=4, face_size=16, detector="none"), region="right")
    grey = cv2.cvtColor(cv2.imread(frame_files(folder)[0]), cv2.COLOR_BGR2GRAY)
    expected = cv2.resize(grey[:, 32:], (16, 16), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(result.pixels[0], expected)


def test_detector_none_on_a_video_takes_whole_frames(clips):
    result = extract_recording(clips["gap"], ExtractionSettings(n_frames=4, face_size=32, detector="none"))
    assert result.status == "ok" and result.pixels.shape == (4, 32, 32)
    assert list(result.frame_index) == [7, 22, 37, 52]  # the even targets: faceless frames count too


def test_detector_none_with_landmarks_fits_the_points_to_the_whole_frame(tmp_path):
    folder = tmp_path / "crop"
    folder.mkdir()
    face = draw_face(112)  # a tight 224x224 face crop
    for index in range(1, 5):
        cv2.imwrite(str(folder / f"{index}.png"), np.roll(face, index, axis=1))
    result = extract_recording(folder, ExtractionSettings(n_frames=4, features="landmarks", detector="none"))
    assert result.status == "ok", result.detail
    assert result.landmarks.shape == (4, 68, 2) and np.isfinite(result.geometry).all()
    # Relative to the whole frame, which holds the face with a margin (HOG's box is tighter: about 0-1.1).
    assert 0.05 < result.landmarks.min() and result.landmarks.max() < 0.95


def test_the_default_detector_keeps_cache_keys_and_tables_as_they_were():
    assert "detector" not in ExtractionSettings().recorded()
    assert ExtractionSettings(detector="none").recorded()["detector"] == "none"
    assert ExtractionSettings().fingerprint() != ExtractionSettings(detector="none").fingerprint()
    with pytest.raises(ValueError, match="detector"):
        ExtractionSettings(detector="cnn")


# ----------------------------------------------------------------------------- cache


@pytest.fixture
def counted(monkeypatch):
    calls = []
    monkeypatch.setattr(batch, "extract_recording", _counter(calls))
    return calls


def test_cache_follows_the_frames_not_the_folders_path(tmp_path, counted):
    folder = noise_frames(tmp_path / "corpus" / "clip", 12)
    settings = ExtractionSettings(n_frames=4, face_size=16, detector="none")
    first = run_batch(manifest_rows({"clip": folder}), settings, tmp_path / "cache")
    copied = tmp_path / "copy" / "clip"
    shutil.copytree(tmp_path / "corpus", tmp_path / "copy")  # as cp -a does: names, bytes and times
    again = run_batch(manifest_rows({"clip": copied}), settings, tmp_path / "cache")
    assert counted == ["clip"]  # the copy comes from the cache
    np.testing.assert_array_equal(again[0][0].result.pixels, first[0][0].result.pixels)
    cv2.imwrite(str(copied / "7.png"), np.zeros((40, 48, 3), np.uint8))  # one frame edited
    run_batch(manifest_rows({"clip": copied}), settings, tmp_path / "cache")
    assert counted == ["clip", "clip"]
    (copied / "7.png").rename(copied / "13.png")  # the frames reordered
    run_batch(manifest_rows({"clip": copied}), settings, tmp_path / "cache")
    assert counted == ["clip", "clip", "clip"]
    (copied / "notes.txt").write_text("not a frame")  # another file: the frames are the same
    run_batch(manifest_rows({"clip": copied}), settings, tmp_path / "cache")
    assert counted == ["clip", "clip", "clip"]


def test_content_hash_of_a_folder(tmp_path):
    folder = noise_frames(tmp_path / "a", 3)
    copy = tmp_path / "b"
    shutil.copytree(folder, copy)
    for whole in (False, True):
        assert content_hash(folder, whole) == content_hash(copy, whole)
    (copy / "2.png").write_bytes((copy / "2.png").read_bytes()[:-1] + b"!")
    assert content_hash(folder, False) != content_hash(copy, False)


# ----------------------------------------------------------------------------- manifest, predict


def folder_manifest(paths: dict, sessions: dict, **columns) -> pd.DataFrame:
    return pd.DataFrame({"recording": list(paths), "path": [str(p) for p in paths.values()],
                         "speaker": [f"spk{sessions[r]}" for r in paths], "session": [sessions[r] for r in paths],
                         "label": "Happy", **columns})


def test_the_manifest_accepts_folders_and_refuses_their_segments(tmp_path):
    a, b = noise_frames(tmp_path / "a", 3), noise_frames(tmp_path / "b", 3, seed=1)
    table = folder_manifest({"a": a, "b": b}, {"a": "1", "b": "2"})
    manifest, _ = normalise_manifest(table, ["Happy"], "m.tsv", drop_unknown_labels=False)
    assert list(manifest["path"]) == [str(a), str(b)]
    with pytest.raises(ManifestError, match=r"row\(s\) 3 name a folder of frames, which has no frame rate"):
        normalise_manifest(table.assign(start=["", "1.0"]), ["Happy"], "m.tsv", drop_unknown_labels=False)


def test_the_leakage_check_finds_a_folder_copied_into_another_session(tmp_path):
    a = noise_frames(tmp_path / "a", 3)
    shutil.copytree(a, tmp_path / "a_copy")
    other = noise_frames(tmp_path / "other", 3, seed=1)
    empty_1, empty_2 = tmp_path / "empty_1", tmp_path / "empty_2"
    empty_1.mkdir()
    empty_2.mkdir()
    table = folder_manifest({"a": a, "a2": tmp_path / "a_copy", "o": other, "e1": empty_1, "e2": empty_2},
                            {"a": "1", "a2": "2", "o": "2", "e1": "1", "e2": "2"},
                            activation=np.nan, valence=np.nan)
    config = {"cv": {"speakers_may_span_sessions": False}, "classes": ["Happy"],
              "rating_scale": {"min": 1.0, "max": 5.0}}
    problems = check_corpus(table, config, rows_are_lines=True)
    assert len(problems) == 1 and "a, a2 in sessions 1, 2 use files of identical content" in problems[0]


def test_predict_accepts_folders_and_refuses_their_segments(tmp_path):
    noise_frames(tmp_path / "clip", 3)
    listing = tmp_path / "new.tsv"
    listing.write_text("recording\tpath\nclip\tclip\n")
    assert read_recordings(listing)["path"].tolist() == [str(tmp_path / "clip")]
    listing.write_text("recording\tpath\tstart\tend\nclip\tclip\t0\t1\n")
    with pytest.raises(PredictionInputError, match=r"row\(s\) 2: .* folder of frames"):
        read_recordings(listing)


def test_the_predict_command_refuses_a_segment_of_a_folder(tmp_path, capsys):
    from facemotion.__main__ import main

    folder = noise_frames(tmp_path / "clip", 3)
    assert main(["predict", str(tmp_path / "final"), str(folder), "--start", "1"]) == 2
    assert "is a folder of frames, which has no frame rate" in capsys.readouterr().err


# ----------------------------------------------------------------------------- workflow


def frame_folder_corpus(root: Path) -> Path:
    """3 sessions x 2 speakers x 4 folders of 10 small frames (two classes, darker for Sad), as a tsv
    manifest whose paths are the folders."""
    rows = []
    for session in (1, 2, 3):
        for speaker in ("a", "b"):
            for take in range(4):
                label = ("Happy", "Sad")[take % 2]
                recording = f"s{session}{speaker}_{take}"
                folder = root / "frames" / recording
                noise_frames(folder, 10, size=(40, 40), suffix=".jpg", seed=session * 100 + take)
                if label == "Sad":
                    for frame in frame_files(folder):
                        cv2.imwrite(frame, cv2.imread(frame) // 3)
                rows.append(f"{recording}\tframes/{recording}\t{speaker}{session}\t{session}\t{label}")
    manifest = root / "manifest.tsv"
    manifest.write_text("recording\tpath\tspeaker\tsession\tlabel\n" + "\n".join(rows) + "\n")
    return manifest


def frame_folder_config(workdir: Path, corpus: Path) -> Path:
    return write_config(workdir, corpus={"format": "tsv", "path": str(corpus)}, classes=["Happy", "Sad"],
                        targets=["label"], extraction={"detector": "none", "n_frames": 4, "face_size": 16},
                        training={"epochs": 1})


def test_a_frame_folder_corpus_is_extracted_through_the_workflow(tmp_path):
    corpus = frame_folder_corpus(tmp_path / "corpus")
    config = frame_folder_config(tmp_path, corpus)
    snakemake(tmp_path, "results/features.parquet", "results/plots/faces_kept.png", "--configfile", str(config))
    report = pd.read_csv(tmp_path / "results/extraction/report.tsv", sep="\t")
    assert len(report) == 24 and (report["status"] == "ok").all(), report["detail"].tolist()
    assert report["detail"].str.contains("10 images in the folder").all()
    # A frame added (or removed, renamed) changes the folder's time: the job that reads it reruns,
    # and the recording's cache entry, keyed on its frames, is extracted again.
    cv2.imwrite(str(tmp_path / "corpus/frames/s1a_0/11.jpg"), np.zeros((40, 40, 3), np.uint8))
    planned = snakemake(tmp_path, "results/features.parquet", "--configfile", str(config), "--dry-run")
    assert "extract_batch" in planned.stdout + planned.stderr
    # The detector is an extraction setting: changing it reruns extraction (and what reads it).
    snakemake(tmp_path, "results/features.parquet", "--configfile", str(config))
    assert jobs_of(snakemake(tmp_path, "results/features.parquet", "--configfile", str(config), "--dry-run")) == {}
    write_config(tmp_path, yaml.safe_load(config.read_text()), extraction={"detector": "hog"})
    planned = jobs_of(snakemake(tmp_path, "results/features.parquet", "--configfile", str(config), "--dry-run"))
    assert planned.get("extract_batch") and planned.get("gather_features") == 1


def test_the_dropped_sheet_shows_the_middle_frame_of_a_folder(tmp_path):
    folder = noise_frames(tmp_path / "clip", 5, size=(48, 40))
    middle = cv2.cvtColor(cv2.imread(frame_files(folder)[2]), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(video_frame(str(folder)), middle)
    (tmp_path / "empty").mkdir()
    assert video_frame(str(tmp_path / "empty")) is None


@pytest.mark.slow
def test_a_frame_folder_corpus_runs_to_the_metrics_and_predicts_a_folder(tmp_path):
    corpus = frame_folder_corpus(tmp_path / "corpus")
    listing = tmp_path / "corpus" / "new.tsv"
    listing.write_text("recording\tpath\nnew\tframes/s2b_1\n")
    config = frame_folder_config(tmp_path, corpus)
    settings = yaml.safe_load(config.read_text())
    settings["predict"] = {"recordings": str(listing)}
    config.write_text(yaml.safe_dump(settings))
    snakemake(tmp_path, "results/metrics.tsv", "results/predict/predictions.tsv", "--configfile", str(config))
    metrics = pd.read_csv(tmp_path / "results/metrics.tsv", sep="\t")
    folds = metrics[metrics["fold"].astype(str).isin(["1", "2", "3"])]
    assert list(folds["n_test"]) == [8, 8, 8]  # every recording of each held-out session tested
    predictions = pd.read_csv(tmp_path / "results/predict/predictions.tsv", sep="\t")
    assert predictions.loc[0, "status"] == "ok" and predictions.loc[0, "label"] in ("Happy", "Sad")


def test_frames_whose_numbers_tie_are_read_in_one_order_whatever_the_file_system_lists(tmp_path, monkeypatch):
    """Issue 35: 1.jpg, 01.jpg and 001.jpg tie in natural order, so a copy on another file system
    (another listing order) read them in another order and missed the cache and the duplicate check."""
    import os

    from facemotion.corpora import recordings

    folder = tmp_path / "clip"
    folder.mkdir()
    for i, name in enumerate(["01.jpg", "1.jpg", "001.jpg", "2.jpg", "10.jpg"]):
        cv2.imwrite(str(folder / name), np.full((8, 8, 3), 40 * i, np.uint8))
    listed = frame_files(folder), content_hash(folder, whole=True)
    scandir = os.scandir

    class Reversed:  # the same entries, listed the other way round
        def __init__(self, path):
            self.entries = list(scandir(path))[::-1]

        def __enter__(self):
            return iter(self.entries)

        def __exit__(self, *_):
            return False

    monkeypatch.setattr(recordings.os, "scandir", Reversed)
    assert (frame_files(folder), content_hash(folder, whole=True)) == listed
    assert [Path(p).name for p in listed[0]] == ["001.jpg", "01.jpg", "1.jpg", "2.jpg", "10.jpg"]
    assert sorted(["1", "01", "001", "2"], key=fold_order) == ["001", "01", "1", "2"]
