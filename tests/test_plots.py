import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import facemotion
import numpy as np
import pandas as pd
import pytest
from facemotion.evaluation.class_metrics import confusion_summary
from facemotion.evaluation.metrics_table import write_metrics
from facemotion.evaluation.summary import SPANNING_NOTE, results_from_files, write_summary
from facemotion.extraction.feature_table import FeatureTable
from facemotion.report.plots import (
    dropped_sheet,
    extraction_overview,
    face_sheet,
    plot_confusion,
    read_panels,
    sample_per_class,
    save_figure,
    training_curves,
    video_frame,
)

CLASSES = ["Angry", "Happy", "Neutral", "Sad"]
# The front page's tables as summary.tsv has them (a row of the label target's, the first experiment's).
SUMMARY = pd.DataFrame({"experiment": ["default"], "target": "label", "uar": 0.6, "uar_ci_low": 0.0,
                        "uar_ci_high": 1.0, "ci_folds": 2, "ci_over": "folds", "repeats": 1,
                        "ci_note": "only 2 folds: coverage was simulated from 5 folds up, and the interval rests on "
                                   "1 degree(s) of freedom"})


def _meta(labels_speakers):
    rows = [{"recording": f"r{i:02d}", "speaker": speaker, "session": speaker[-1], "label": label,
             "frame_index": np.arange(3, dtype=np.int32) * 10 + i}
            for i, (label, speaker) in enumerate(labels_speakers)]
    return pd.DataFrame(rows)


def test_a_class_sample_shows_every_speaker_before_any_speaker_twice():
    meta = _meta([("Happy", "F1")] * 5 + [("Happy", "M1"), ("Happy", "M2"), ("Sad", "F1")])
    happy = sample_per_class(meta, CLASSES, per_class=3)
    assert happy["label"].tolist() == ["Happy", "Happy", "Happy", "Sad"]
    assert sorted(happy["speaker"].iloc[:3]) == ["F1", "M1", "M2"]
    assert sample_per_class(meta, CLASSES, per_class=3).equals(happy)  # the same sample every time


def test_face_sheet_has_one_row_of_all_frames_per_sampled_recording(tmp_path):
    meta = _meta([("Angry", "F1"), ("Angry", "M1"), ("Angry", "M2"), ("Sad", "F2")])
    pixels = np.arange(len(meta) * 3 * 8 * 8, dtype=np.uint64).reshape(len(meta), 3, 8, 8).astype(np.uint8)
    table = FeatureTable(meta, pixels, None, None, {"n_frames": 3})
    figure, panels = face_sheet(table, CLASSES, per_class=2)
    assert [(p["label"], p["frames"]) for p in panels] == [("Angry", 3), ("Angry", 3), ("Sad", 3)]
    assert len(figure.axes) == 3 * 3
    row_labels = [ax.get_ylabel() for ax in figure.axes if ax.get_ylabel()]
    assert row_labels[2] == "Sad\nr03\nF2"
    sad_crops = [ax.images[0].get_array() for ax in figure.axes[6:9]]
    assert all(np.array_equal(crop, pixels[3, f]) for f, crop in enumerate(sad_crops))
    assert figure.axes[6].get_xlabel() == "frame 3"  # the source frame of each crop
    save_figure(figure, tmp_path / "faces.png", panels, dpi=50)
    assert read_panels(tmp_path / "faces.png") == panels


def test_face_sheet_of_landmarks_plots_the_68_points_of_each_frame():
    meta = _meta([("Happy", "F1")])
    landmarks = np.random.default_rng(0).random((1, 3, 68, 2), dtype=np.float32)
    figure, panels = face_sheet(FeatureTable(meta, None, landmarks, None, {"n_frames": 3}), CLASSES, 4)
    assert len(panels) == 1 and len(figure.axes) == 3
    assert figure.axes[1].collections[0].get_offsets().shape == (68, 2)


def _video(path, frames=20, size=(64, 48)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), (10 * i, 100, 200), np.uint8))
    writer.release()
    return str(path)


def test_video_frame_is_the_middle_frame_in_rgb_or_none(tmp_path):
    video = _video(tmp_path / "v.avi")
    middle = video_frame(video)
    assert middle.shape == (48, 64, 3)
    assert middle[0, 0, 2] == pytest.approx(100, abs=6)  # blue channel (BGR 10 * 10) of frame 10
    assert video_frame(video, start=0.0, end=1.0)[0, 0, 2] == pytest.approx(50, abs=6)  # frame 5 of 0..10
    assert video_frame(str(tmp_path / "missing.avi")) is None
    (tmp_path / "broken.avi").write_bytes(b"not a video")
    assert video_frame(str(tmp_path / "broken.avi")) is None


def _manifest(tmp_path):
    return pd.DataFrame({"recording": ["a", "b", "c", "d"], "path": [_video(tmp_path / "a.avi"), "", "gone.avi",
                                                                     _video(tmp_path / "d.avi")],
                         "speaker": ["F1", "F1", "M1", "F2"], "session": ["1", "1", "1", "2"],
                         "start": "", "end": ""})


def _report(statuses):
    return pd.DataFrame({"recording": ["a", "b", "c", "d"], "status": statuses, "faces_found": "0",
                         "frames_read": "0", "detail": "no face in 64 probed frames; 20 frames read"})


def test_dropped_sheet_shows_each_dropped_recording_with_a_frame_where_possible(tmp_path):
    manifest = _manifest(tmp_path)
    figure, panels = dropped_sheet(_report(["no_face", "ok", "unreadable", "too_few_faces"]), manifest, 10)
    assert [(p["recording"], p["status"], p["frame"]) for p in panels] == [
        ("a", "no_face", True), ("c", "unreadable", False), ("d", "too_few_faces", True)]
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titles[0] == "a (F1)\nno_face"
    assert "no face in 64 probed frames" in figure.axes[0].get_xlabel()
    _, first_two = dropped_sheet(_report(["no_face", "ok", "unreadable", "too_few_faces"]), manifest, 2)
    assert len(first_two) == 2
    _, none = dropped_sheet(_report(["ok"] * 4), manifest, 10)
    assert none == []


def test_extraction_overview_counts_statuses_per_session_and_speaker(tmp_path):
    figure, panels = extraction_overview(_report(["no_face", "ok", "unreadable", "ok"]), _manifest(tmp_path))
    by_session, by_speaker = panels
    assert by_session["rows"] == ["1", "2"]
    assert by_session["counts"]["1"] == {"ok": 1, "no_face": 1, "unreadable": 1}
    assert by_speaker["rows"] == ["F1 (session 1)", "M1 (session 1)", "F2 (session 2)"]
    assert by_speaker["counts"]["F2 (session 2)"] == {"ok": 1, "no_face": 0, "unreadable": 0}
    assert len(figure.axes) == 2


def _info(best, epochs=4, val_uar=True):
    history = [{"epoch": e, "loss": 2.0 / e, **({"val_uar": 0.3 + 0.1 * e} if val_uar else {})}
               for e in range(1, epochs + 1)]
    return {"history": history, "best_epoch": best, "epochs_run": epochs, "classes": ["a", "b", "c"],
            "val_session": "3"}


def test_training_curves_have_one_panel_per_fold_with_the_chosen_epoch_marked():
    infos = {"10": _info(2), "2": _info(4), "1": _info(1, val_uar=False)}
    figure, panels = training_curves(infos, "label")
    assert [(p["fold"], p["chosen_epoch"], p["epochs"]) for p in panels] == [("1", 1, 4), ("2", 4, 4),
                                                                            ("10", 2, 4)]
    fold_2 = next(ax for ax in figure.axes if ax.get_title().startswith("test session 2,"))
    loss, chosen = fold_2.lines[0], fold_2.lines[-1]
    assert loss.get_ydata().tolist() == [2.0, 1.0, 2.0 / 3, 0.5]
    assert list(chosen.get_xdata()) == [4, 4]
    uar_axes = [ax for ax in figure.axes if ax.get_ylabel() == "validation UAR"]
    assert len(uar_axes) == 2  # fold 1 had no validation data


def test_a_skipped_fold_gets_a_panel_saying_why():
    skipped = {"skipped": "no recording of session 2 has a valence rating", "best_epoch": None, "classes": ["a"]}
    figure, panels = training_curves({"1": _info(2), "2": skipped}, "valence")
    assert panels[1] == {"fold": "2", "skipped": skipped["skipped"]}
    assert "skipped: no recording of session 2" in figure.axes[1].texts[0].get_text().replace("\n", " ")


def test_front_page_states_corpus_settings_and_results_and_renders_as_the_report_does(tmp_path):
    from docutils.core import publish_parts
    from facemotion.report.front_page import front_page
    from jinja2 import Environment
    from tiny_run import validated

    (tmp_path / "corpus.tsv").write_text("")
    config = validated({"corpus": {"format": "tsv", "path": "corpus.tsv"}}, tmp_path)
    manifest = pd.DataFrame({"recording": ["a", "b", "c"], "speaker": ["{{ x }}", "F1", "M1"],
                             "session": ["1", "1", "2"], "label": ["Sad", "Happy", "Sad"]})
    report = pd.DataFrame({"recording": ["a", "b", "c"], "status": ["ok", "ok", "no_face"]})
    metrics = pd.DataFrame({"target": "label", "fold": ["1", "2", "3", "mean", "std"],
                            "uar": [0.5, 0.7, None, 0.6, 0.1414], "majority_uar": 0.25, "chance_uar": 0.25,
                            "accuracy": 0.55, "skipped": ["", "", "no recording", "", ""]})
    page = front_page(config, manifest, report, metrics, SUMMARY)
    # As Snakemake builds the report: Jinja, the category links appended, then reStructuredText.
    links = "".join(f"\n.. _{name}: javascript:void(0)"
                    for name in ("Faces", "Extraction", "Training", "Confusion matrices", "Metrics"))
    html = publish_parts(Environment().from_string(page + links).render(), writer="html",
                         settings_overrides={"report_level": 2, "halt_level": 2})["html_body"]
    assert "3 recordings, 3 speakers, 2 sessions; Happy 1, Sad 2." in html
    assert f"facemotion {facemotion.__version__}." in html  # the release that made the run
    assert "2 of 3 recordings kept</strong>; dropped: no_face 1." in html
    assert "100 x 100 greyscale crops" in html and "seed_cnn, adam with learning rate 0.0001" in html
    # summary.tsv's UAR and interval (the tests below make it from predictions).
    assert "<strong>0.600</strong> (0.000-1.000)" in html and "t-intervals over the folds" in html
    assert "the variance between training runs (seeds) was not estimated" in html
    repeated = front_page({**config, "training": {**config["training"], "repeats": 5}}, manifest, report, metrics,
                          SUMMARY)
    assert "trained 5 times (seeds 0 to 4)" in repeated and "(uar_repeat_sd)" in repeated
    assert "Emotion" in html and "<td>2</td>" in html  # folds: the skipped one not counted


def test_the_confusion_heatmap_is_written_as_png_and_pdf(tmp_path):
    frame = pd.DataFrame({"y_true": ["A", "A", "A", "B", "B", "C"], "y_pred": ["A", "A", "B", "B", "C", "C"],
                          "p_A": 1 / 3, "p_B": 1 / 3, "p_C": 1 / 3})
    matrix = confusion_summary({"1": frame}).mean_percent
    paths = plot_confusion(
        matrix, [tmp_path / "cm.png", tmp_path / "cm.pdf"], "Emotion: UAR 72.2%", dpi=50
    )
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG"
    assert paths[1].read_bytes()[:4] == b"%PDF"


def test_front_page_states_the_detector_and_the_epoch_choice_the_run_used(tmp_path):
    """Issue 35: "HOG detector at width 400" under extraction.detector: none, and "epoch chosen by
    the UAR" for rating targets, which choose it by the validation CCC."""
    from facemotion.report.front_page import front_page, page_settings
    from tiny_run import validated

    (tmp_path / "corpus.tsv").write_text("")
    config = validated({"corpus": {"format": "tsv", "path": "corpus.tsv"}, "extraction": {"detector": "none"},
                        "dimensions": "regression"}, tmp_path)
    manifest = pd.DataFrame({"recording": ["a", "b"], "speaker": ["F1", "M1"], "session": ["1", "2"],
                             "label": ["Sad", "Happy"]})
    report = pd.DataFrame({"recording": ["a", "b"], "status": ["ok", "ok"]})
    folds = ["1", "2", "mean", "std"]
    metrics = pd.concat([
        pd.DataFrame({"target": "label", "fold": folds, "uar": [0.5, 0.7, 0.6, 0.14], "majority_uar": 0.25,
                      "chance_uar": 0.25, "accuracy": 0.55}),
        pd.DataFrame({"target": "valence", "fold": folds, "ccc": [0.3, 0.5, 0.4, 0.14], "pearson": 0.4,
                      "rmse": 0.8, "uar_binned": 0.4, "chance_uar": 1 / 3})])
    page = front_page(page_settings(config, "next_session"), manifest, report, metrics, SUMMARY)
    assert "HOG" not in page and "width 400" not in page and "upsample" not in page
    assert "each frame taken as the face (extraction.detector: none), resized whole" in page
    assert "each fold's epoch chosen on a validation session by the UAR (classes) and by the CCC (ratings)" in page
    assert "predictions are stretched to the mean and standard deviation of its training ratings" in page
    uncalibrated = {**config, "training": {**config["training"], "rating_calibration": "none"}}
    assert "outputs are used as they are" in front_page(page_settings(uncalibrated, "next_session"), manifest,
                                                        report, metrics, SUMMARY)
    ratings_only = metrics[metrics["target"] == "valence"]
    page = front_page(page_settings(config, "share"), manifest, report, ratings_only, SUMMARY)
    assert "epoch chosen on a random share of the training recordings by the CCC (ratings)." in page
    hog = validated({"corpus": {"format": "tsv", "path": "corpus.tsv"}}, tmp_path)
    page = front_page(page_settings(hog, "next_session"), manifest, report, metrics[metrics["target"] == "label"],
                      SUMMARY)
    assert "(HOG detector at width 400, upsample 0, margin 0.0)" in page
    assert "epoch chosen on a validation session by the UAR." in page


def predicted(speakers: Mapping[str, tuple[int, int]], repeats: int = 1, fold: str = "") -> pd.DataFrame:
    """A fold's label predictions: per speaker (clips, right) that many clips, Happy and Sad in
    turn, the first ``right`` predicted right and the others as the other class; each repeat alike.
    The recordings are named after the fold (if given), the speaker and the clip."""
    rows = [{"recording": f"{fold}{speaker or 'clip'}.{i}", "speaker": speaker, "y_true": ["Happy", "Sad"][i % 2],
             "y_pred": ["Happy", "Sad"][(i + (i >= right)) % 2]}
            for speaker, (clips, right) in speakers.items() for i in range(clips)]
    frame = pd.DataFrame(rows, columns=["recording", "speaker", "y_true", "y_pred"])
    return pd.concat([frame.assign(repeat=r) for r in range(repeats)], ignore_index=True) if repeats > 1 else frame


def manifest_of(folds: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The manifest of these folds' recordings, each fold a session."""
    frames = [frame.drop_duplicates("recording").assign(session=fold) for fold, frame in folds.items()]
    return pd.concat(frames, ignore_index=True).rename(columns={"y_true": "label"})[
        ["recording", "speaker", "session", "label"]]


def written_page(folder: Path, config: Mapping, folds: Mapping[str, pd.DataFrame], skipped: Sequence[str] = (),
                 manifest: pd.DataFrame | None = None, **summary_options) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """The front page as rule front_page writes it, from the files the workflow writes before it:
    each fold's label predictions and info as train_fold writes them (``folds``: {fold: predictions};
    ``skipped``: folds without test recordings), metrics.tsv as evaluate writes it and summary.tsv as
    summarise does (``summary_options``: write_summary's), the experiment named default. Returns the
    page, metrics.tsv and summary.tsv as read back."""
    from facemotion.report.front_page import write_front_page

    folder.mkdir(parents=True, exist_ok=True)
    predictions, infos = {}, {}
    for fold, frame in {**folds, **{fold: predicted({}) for fold in skipped}}.items():
        predictions[("label", fold)], infos[("label", fold)] = folder / f"fold_{fold}.tsv", folder / f"{fold}.json"
        frame.assign(p_Happy=0.5, p_Sad=0.5).to_csv(predictions[("label", fold)], sep="\t", index=False)
        infos[("label", fold)].write_text(json.dumps({"train_class_counts": [6, 4], **(
            {"skipped": f"no recording of session {fold} has a label in classes"} if fold in skipped else {})}))
    write_metrics(predictions, infos, folder / "metrics.tsv")
    results = results_from_files({key: (path, infos[key]) for key, path in predictions.items()})
    write_summary({"default": results}, *(folder / name for name in ("summary.tsv", "speakers.tsv", "comparison.tsv")),
                  200, 0, **summary_options)
    manifest = manifest_of(folds) if manifest is None else manifest
    manifest.to_csv(folder / "manifest.tsv", sep="\t", index=False)
    manifest[["recording"]].assign(status="ok").to_csv(folder / "report.tsv", sep="\t", index=False)
    write_front_page(config, *(folder / name for name in ("manifest.tsv", "report.tsv", "metrics.tsv", "summary.tsv",
                                                          "front_page.rst")))
    return ((folder / "front_page.rst").read_text(), pd.read_csv(folder / "metrics.tsv", sep="\t", dtype={"fold": str}),
            pd.read_csv(folder / "summary.tsv", sep="\t", keep_default_na=False, na_values=[""]))


def tsv_config(folder: Path) -> dict:
    from tiny_run import validated

    (folder / "corpus.tsv").write_text("")
    return validated({"corpus": {"format": "tsv", "path": "corpus.tsv"}, "classes": ["Happy", "Sad"]}, folder)


def test_the_front_page_says_what_the_intervals_are_about_where_speakers_span_sessions(tmp_path):
    """cv.speakers_may_span_sessions: true (the summary's speaker_independent False), the same two
    speakers in every fold: summary.tsv's interval is about new recordings of these speakers, and
    the page said that it is about new speakers."""
    folds = {str(f): predicted({"A": (8, 5 + f), "B": (8, 3 + f)}, fold=str(f)) for f in (1, 2, 3)}
    page, _, summary = written_page(tmp_path, tsv_config(tmp_path), folds, speaker_independent=False)
    row = summary.iloc[0]
    assert SPANNING_NOTE in row["ci_note"] and row["ci_over"] == "folds"
    assert f"**{row['uar']:.3f}** ({row['uar_ci_low']:.3f}-{row['uar_ci_high']:.3f})" in page
    said = " ".join(page.split())
    assert "about new recordings of these speakers, not about new speakers" in said
    assert "disjoint speakers" not in said and "they are about new speakers" not in said


def test_the_front_page_says_in_words_that_one_trained_fold_has_no_interval(tmp_path):
    """Fold 2 skipped (no test recordings): summary.tsv has no interval, and the page said (nan-nan)."""
    folds = {"1": predicted({"A": (8, 6), "B": (8, 4)})}
    page, _, summary = written_page(tmp_path, tsv_config(tmp_path), folds, skipped=["2"])
    row = summary.iloc[0]
    assert np.isnan(row["uar_ci_low"]) and np.isnan(row["uar_ci_high"]) and row["ci_folds"] == 1
    results = page[page.index("Results"):]  # (the settings above name paths)
    assert f"**{row['uar']:.3f}** (no interval: 1 fold)" in results and "nan" not in results
    assert "No UAR here has a 95 % interval" in " ".join(results.split())
