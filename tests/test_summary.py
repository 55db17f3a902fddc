import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from facemotion.evaluation.summary import (
    CLIP_NOTE,
    COMPARISON_COLUMNS,
    ONE_RUN_COMPARISON_NOTE,
    SUMMARY_COLUMNS,
    TargetResults,
    compare_target,
    forest_table,
    results_from_files,
    summary_inputs,
    write_summary,
)
from facemotion.report.plots import FOREST_AXES, plot_forest

CLASSES = ["Angry", "Happy", "Neutral", "Sad"]
WORKFLOW = Path(__file__).resolve().parents[1] / "workflow"


def _write_fold(folder, target, fold, frame):
    """A fold's predictions and info file as train_fold writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    for c in CLASSES:
        frame[f"p_{c}"] = 0.25
    predictions = folder / f"{target}_fold_{fold}.tsv"
    frame.to_csv(predictions, sep="\t", index=False)
    info = folder / f"{target}_fold_{fold}.info.json"
    info.write_text(json.dumps({"train_class_counts": [10, 30, 40, 10]}))
    return str(predictions), str(info)


def _experiment(folder, accuracy, rng, empty_fold=None):
    files = {}
    for fold in ("1", "2", "3"):
        recordings = [f"r{fold}_{i:02d}" for i in range(40)]
        true = np.array(CLASSES)[np.arange(40) % 4]
        right = rng.random(40) < accuracy
        predicted = np.where(right, true, np.array(CLASSES)[rng.integers(0, 4, 40)])
        frame = pd.DataFrame({"recording": recordings, "session": fold,
                              "speaker": [f"s{fold}{'ab'[i % 2]}" for i in range(40)],
                              "y_true": true, "y_pred": predicted})
        if fold == empty_fold:
            frame = frame.iloc[:0].copy()
        files[("label", fold)] = _write_fold(folder, "label", fold, frame)
    return files


@pytest.fixture
def written(tmp_path):
    rng = np.random.default_rng(0)
    experiments = {"base": results_from_files(_experiment(tmp_path / "base", 0.3, rng)),
                   "better": results_from_files(_experiment(tmp_path / "better", 0.9, rng, empty_fold="3"))}
    paths = [tmp_path / name for name in ("summary.tsv", "speakers.tsv", "comparison.tsv", "comparison.png")]
    summary = write_summary(experiments, *paths[:3], resamples=2000, seed=0)
    plot_forest(forest_table(summary), paths[3])
    return paths


def test_summary_has_a_row_per_experiment_and_target_with_intervals(written):
    summary = pd.read_csv(written[0], sep="\t")
    assert list(summary.columns) == SUMMARY_COLUMNS + [f"recall_{c}{s}" for c in CLASSES for s in ("", "_ci_low",
                                                                                                   "_ci_high")]
    assert summary["experiment"].tolist() == ["base", "better"]
    assert summary["n_test"].tolist() == [120, 80]  # the empty fold is skipped, not fatal
    for metric in ("uar", "accuracy", "f1_macro"):
        assert (summary[f"{metric}_ci_low"] <= summary[metric]).all()
        assert (summary[metric] <= summary[f"{metric}_ci_high"]).all()
    assert summary["chance_uar"].tolist() == [0.25, 0.25]
    assert summary["repeats"].tolist() == [1, 1] and summary["uar_repeat_sd"].isna().all()
    assert summary["ci_folds"].tolist() == [3, 2]
    # Fewer folds than the coverage simulation checked: said in the table, not only in docs/statistics.md.
    assert summary["ci_note"].str.contains("only 3 folds").tolist() == [True, False]
    # The majority baseline always predicts Neutral: recall 1 for one class of four.
    assert summary["majority_uar"].tolist() == [0.25, 0.25]
    better = summary.iloc[1]
    assert better["uar"] > 0.8 and better["p_chance"] == pytest.approx(1 / 2001, abs=1e-4)


def test_speakers_table_has_each_speakers_metrics_and_recalls(written):
    speakers = pd.read_csv(written[1], sep="\t", dtype={"fold": str})
    base = speakers[speakers["experiment"] == "base"]
    assert sorted(base["speaker"]) == ["s1a", "s1b", "s2a", "s2b", "s3a", "s3b"]
    assert (base["n_test"] == 20).all()
    assert {f"recall_{c}" for c in CLASSES} <= set(speakers.columns)
    # Speaker "a" holds the even recordings (Angry and Neutral): other recalls are empty.
    assert base.loc[base["speaker"] == "s1a", "recall_Happy"].isna().all()


def test_comparison_is_paired_against_the_first_experiment(written):
    comparison = pd.read_csv(written[2], sep="\t")
    assert list(comparison.columns) == COMPARISON_COLUMNS
    row = comparison.iloc[0]
    assert (row["experiment"], row["reference"], row["target"], row["n_test"]) == ("better", "base", "label", 80)
    assert row["delta_ci_low"] <= row["delta_uar"] <= row["delta_ci_high"]
    assert row["delta_uar"] > 0.4
    assert written[3].stat().st_size > 1000


def test_the_outputs_are_the_same_on_every_run(written, tmp_path):
    first = [path.read_bytes() for path in written[:3]]
    experiments = {name: {("label", f): (str(tmp_path / name / f"label_fold_{f}.tsv"),
                                         str(tmp_path / name / f"label_fold_{f}.info.json")) for f in "123"}
                   for name in ("base", "better")}
    again = [tmp_path / f"again_{path.name}" for path in written[:3]]
    write_summary({name: results_from_files(files) for name, files in experiments.items()}, *again,
                  resamples=2000, seed=0)
    assert [path.read_bytes() for path in again[:3]] == first


def test_rule_inputs_are_regrouped_by_experiment_and_keyed_by_their_paths():
    dirs = {"a": "results/experiments/a/predictions", "b": "results/predictions"}
    files = [f"{dirs[name]}/{target}/fold_{session}" for name, target in (("a", "label"), ("a", "valence"),
                                                                          ("b", "label")) for session in "12"]
    # In no particular order: the keys come from the paths.
    grouped = summary_inputs(dirs, [f"{f}.tsv" for f in reversed(files)], [f"{f}.info.json" for f in files])
    assert list(grouped) == ["a", "b"]
    valence = f"{dirs['a']}/valence/fold_2"
    assert grouped["a"][("valence", "2")] == (f"{valence}.tsv", f"{valence}.info.json")
    label = f"{dirs['b']}/label/fold_"
    assert grouped["b"] == {("label", s): (f"{label}{s}.tsv", f"{label}{s}.info.json") for s in "12"}
    with pytest.raises(ValueError, match="experiment a: predictions and training infos are not of the same folds"):
        summary_inputs(dirs, [f"{f}.tsv" for f in files[1:]], [f"{f}.info.json" for f in files])


def test_a_benchmark_summary_says_in_a_column_and_the_log_which_protocol_each_experiment_ran(tmp_path, caplog):
    rng = np.random.default_rng(0)
    experiments = {"all7": results_from_files(_experiment(tmp_path / "all7", 0.5, rng)),
                   "four": results_from_files(_experiment(tmp_path / "four", 0.5, rng))}
    protocols = {"all7": "official 7-class protocol", "four": "not the official 7-class protocol (4 of 7 classes)"}
    paths = [tmp_path / name for name in ("summary.tsv", "speakers.tsv", "comparison.tsv")]
    with caplog.at_level("INFO"):
        write_summary(experiments, *paths, resamples=50, seed=0, protocols=protocols)
    summary = pd.read_csv(paths[0], sep="\t")
    assert list(summary.columns[:4]) == ["experiment", "target", "protocol", "n_test"]
    assert summary["protocol"].tolist() == list(protocols.values())
    assert ("four: not the official 7-class protocol (4 of 7 classes); these numbers cannot be put beside the "
            "benchmark's published results") in caplog.text
    assert "all7: official" not in caplog.text
    assert summary["war"].tolist() == summary["accuracy"].tolist()  # the name papers print it by
    assert list(summary.columns).index("war") == list(summary.columns).index("accuracy") - 1
    write_summary(experiments, *paths, resamples=50, seed=0)  # any other corpus: neither column
    assert not {"protocol", "war"} & set(pd.read_csv(paths[0], sep="\t").columns)


def test_a_dropped_test_clip_is_scored_as_a_miss_where_asked_and_counted(tmp_path, caplog):
    """Folds 1-3 score 40 clips each (10 a class); the official lists also hold clips the extraction
    dropped: fold 1 two Angry, fold 3 four Sad. They count as misses in uar_official and war_official."""
    rng = np.random.default_rng(0)
    results = results_from_files(_experiment(tmp_path / "base", 0.5, rng))
    counts = {"1": {"Angry": 12, "Happy": 10, "Neutral": 10, "Sad": 10}, "2": dict.fromkeys(CLASSES, 10),
              "3": {"Angry": 10, "Happy": 10, "Neutral": 10, "Sad": 14}}
    paths = [tmp_path / name for name in ("summary.tsv", "speakers.tsv", "comparison.tsv")]
    with caplog.at_level("INFO"):
        write_summary({"base": results}, *paths, resamples=50, seed=0, official={"base": counts})
    row = pd.read_csv(paths[0], sep="\t").iloc[0]
    assert list(pd.read_csv(paths[0], sep="\t").columns[2:7]) == ["n_test", "n_official", "n_dropped",
                                                                  "uar_official", "war_official"]
    assert (row["n_test"], row["n_official"], row["n_dropped"]) == (120, 126, 6)
    wars, uars = [], []
    for fold, frame in results["label"].folds.items():
        right = frame["y_true"] == frame["y_pred"]
        wars.append(right.sum() / sum(counts[fold].values()))
        uars.append(np.mean([(right & (frame["y_true"] == c)).sum() / counts[fold][c] for c in CLASSES]))
    assert row["war_official"] == pytest.approx(np.mean(wars), abs=1e-4)
    assert row["uar_official"] == pytest.approx(np.mean(uars), abs=1e-4)
    assert row["war_official"] < row["accuracy"] and row["uar_official"] < row["uar"]
    assert ("base label: 6 of the 126 test recordings were dropped by the extraction and are scored as misses"
            in caplog.text)
    write_summary({"base": results}, *paths, resamples=50, seed=0)  # leave_out: no such columns
    assert "n_official" not in pd.read_csv(paths[0], sep="\t").columns


# ------------------------------------------------------------------ python -m facemotion summarise


def _prediction_dir(folder, accuracy, rng, repeats=1, folds="123"):
    """A published system's per-recording predictions: fold files without probabilities or infos."""
    folder.mkdir(parents=True)
    for fold in folds:
        true = np.array(CLASSES)[np.arange(40) % 4]
        frames = []
        for repeat in range(repeats):
            right = rng.random(40) < accuracy
            frames.append(pd.DataFrame({
                "recording": [f"r{fold}_{i:02d}" for i in range(40)], "session": fold,
                "speaker": [f"s{fold}{'ab'[i % 2]}" for i in range(40)], "y_true": true,
                "y_pred": np.where(right, true, np.array(CLASSES)[rng.integers(0, 4, 40)]), "repeat": repeat,
                "notes": "ignored"}))
        pd.concat(frames).to_csv(folder / f"fold_{fold}.tsv", sep="\t", index=False)
    return folder


def test_the_command_says_when_speakers_span_folds(tmp_path):
    """Issue 34, item 5: a speaker tested in two folds makes the folds share speakers: ci_note says
    so and p_chance_speakers, a test about new speakers, is left empty, as in the workflow."""
    folder = _prediction_dir(tmp_path / "system", 0.7, np.random.default_rng(4), folds="123")
    fold = folder / "fold_2.tsv"
    frame = pd.read_csv(fold, sep="\t")
    frame["speaker"] = frame["speaker"].str.replace("s2a", "s1a")  # s1a also speaks in fold 1
    frame.to_csv(fold, sep="\t", index=False)
    result = _summarise(folder, "--out", tmp_path / "summary.tsv", "--classes", *CLASSES)
    assert result.returncode == 0, result.stderr
    row = pd.read_csv(tmp_path / "summary.tsv", sep="\t").iloc[0]
    assert "speakers span folds" in row["ci_note"] and np.isnan(row["p_chance_speakers"])
    untouched = _prediction_dir(tmp_path / "other", 0.7, np.random.default_rng(4), folds="123")
    assert _summarise(untouched, "--out", tmp_path / "other.tsv", "--classes", *CLASSES).returncode == 0
    row = pd.read_csv(tmp_path / "other.tsv", sep="\t").iloc[0]
    assert "speakers" not in str(row["ci_note"]) and row["p_chance_speakers"] < 0.05


def _summarise(*args):
    return subprocess.run([sys.executable, "-m", "facemotion", "summarise", *map(str, args)],
                          capture_output=True, text=True, cwd=WORKFLOW)


def test_the_command_summarises_any_prediction_folders_and_compares_them(tmp_path):
    rng = np.random.default_rng(1)
    ours = _prediction_dir(tmp_path / "ours", 0.5, rng, repeats=3)
    published = _prediction_dir(tmp_path / "published", 0.9, rng)
    result = _summarise(ours, published, "--out", tmp_path / "summary.tsv", "--comparison", tmp_path / "c.tsv")
    assert result.returncode == 0, result.stderr
    summary = pd.read_csv(tmp_path / "summary.tsv", sep="\t")
    assert summary["experiment"].tolist() == ["ours", "published"] and summary["repeats"].tolist() == [3, 1]
    assert summary["n_test"].tolist() == [120, 120] and summary["ci_folds"].tolist() == [3, 3]
    assert summary["uar_repeat_sd"].notna().tolist() == [True, False]
    assert summary["majority_uar"].isna().all()  # no training counts beside these predictions
    comparison = pd.read_csv(tmp_path / "c.tsv", sep="\t")
    assert comparison[["experiment", "reference", "n_test"]].values.tolist() == [["published", "ours", 120]]
    assert comparison["delta_uar"].iloc[0] > 0.2


@pytest.mark.parametrize("breakage, message", [
    ("empty", "no fold_*.tsv prediction files"),
    ("column", "missing column(s) y_pred"),
    ("class", "classes ['Bored'] are not among"),
    ("two folds", "recording r1_00 is also in fold 1"),
])
def test_bad_prediction_folders_are_refused_in_one_line_naming_the_file(tmp_path, breakage, message):
    folder = _prediction_dir(tmp_path / "system", 0.5, np.random.default_rng(2), folds="12")
    broken = folder / "fold_2.tsv"
    frame = pd.read_csv(broken, sep="\t")
    if breakage == "empty":
        for path in folder.iterdir():
            path.unlink()
    elif breakage == "column":
        frame.drop(columns="y_pred").to_csv(broken, sep="\t", index=False)
    elif breakage == "class":
        frame.assign(y_true=frame["y_true"].where(frame.index > 0, "Bored")).to_csv(broken, sep="\t", index=False)
    else:
        frame.assign(recording=frame["recording"].where(frame.index > 0, "r1_00")).to_csv(broken, sep="\t",
                                                                                            index=False)
    result = _summarise(folder, "--out", tmp_path / "summary.tsv", "--classes", *CLASSES)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert str(folder if breakage == "empty" else broken) in result.stderr
    assert not (tmp_path / "summary.tsv").exists()


# ------------------------------------------------------------------ issue 35: the command's faults


@pytest.mark.parametrize("option", ["--out", "--comparison"])
def test_the_command_never_writes_over_a_prediction_file_it_reads(tmp_path, option):
    rng = np.random.default_rng(3)
    ours, published = _prediction_dir(tmp_path / "ours", 0.5, rng), _prediction_dir(tmp_path / "published", 0.9, rng)
    fold = ours / "fold_1.tsv"
    before = fold.read_bytes()
    outputs = {"--out": str(tmp_path / "summary.tsv"), "--comparison": str(tmp_path / "c.tsv"), option: str(fold)}
    result = _summarise(ours, published, *[part for pair in outputs.items() for part in pair])
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and str(fold) in result.stderr and option in result.stderr
    assert fold.read_bytes() == before


def test_the_command_refuses_a_new_fold_file_in_a_folder_it_reads(tmp_path):
    """fold_9.tsv would be read as a fold by the next call."""
    ours = _prediction_dir(tmp_path / "ours", 0.5, np.random.default_rng(3))
    result = _summarise(ours, "--out", ours / "fold_9.tsv")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert not (ours / "fold_9.tsv").exists()


def test_a_command_that_fails_half_way_leaves_no_table_behind(tmp_path, monkeypatch, capsys):
    """The tables are written in a scratch folder and copied out only once all are written."""
    import facemotion.evaluation.summary as summary_module
    from facemotion.__main__ import main

    def summary_then_failure(experiments, summary_path, *rest, **options):
        Path(summary_path).write_text("experiment\n")
        raise ValueError("the comparison failed")

    monkeypatch.setattr(summary_module, "write_summary", summary_then_failure)
    rng = np.random.default_rng(3)
    folders = [_prediction_dir(tmp_path / name, 0.6, rng) for name in ("ours", "theirs")]
    code = main(["summarise", *map(str, folders), "--out", str(tmp_path / "summary.tsv"),
                 "--comparison", str(tmp_path / "comparison.tsv"), "--classes", *CLASSES])
    assert code == 2 and "error: the comparison failed" in capsys.readouterr().err
    assert not (tmp_path / "summary.tsv").exists() and not (tmp_path / "comparison.tsv").exists()

def test_the_command_refuses_one_file_for_summary_and_comparison(tmp_path):
    rng = np.random.default_rng(3)
    ours, published = _prediction_dir(tmp_path / "ours", 0.5, rng), _prediction_dir(tmp_path / "published", 0.9, rng)
    same = tmp_path / "tables.tsv"
    result = _summarise(ours, published, "--out", same, "--comparison", same)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "--out and --comparison" in result.stderr and not same.exists()


def test_the_command_refuses_an_output_in_a_missing_folder_in_one_line(tmp_path):
    ours = _prediction_dir(tmp_path / "ours", 0.5, np.random.default_rng(3))
    result = _summarise(ours, "--out", tmp_path / "missing" / "dir" / "x.tsv")
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert str(tmp_path / "missing" / "dir") in result.stderr
    (tmp_path / "tables").mkdir()  # a folder where a file is meant: an IsADirectoryError traceback
    result = _summarise(ours, "--out", tmp_path / "tables")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "is a folder" in result.stderr


def test_a_recording_listed_twice_in_one_fold_file_is_refused_naming_the_lines(tmp_path):
    """Counted once per recording: a copied row would add a test recording (n_test 16 -> 21)."""
    folder = _prediction_dir(tmp_path / "system", 0.5, np.random.default_rng(2), repeats=2, folds="12")
    fold = folder / "fold_2.tsv"
    frame = pd.read_csv(fold, sep="\t")
    # Row 3 of the file (after the header) again as the last row, and in the same repeat.
    pd.concat([frame, frame.iloc[[1]]]).to_csv(fold, sep="\t", index=False)
    result = _summarise(folder, "--out", tmp_path / "summary.tsv", "--classes", *CLASSES)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1
    assert f"{fold}: line {len(frame) + 2}: recording r2_01 is already on line 3" in result.stderr
    assert not (tmp_path / "summary.tsv").exists()


def test_repeats_that_test_other_recordings_are_refused_naming_the_file(tmp_path):
    folder = _prediction_dir(tmp_path / "system", 0.5, np.random.default_rng(2), repeats=2, folds="12")
    fold = folder / "fold_2.tsv"
    frame = pd.read_csv(fold, sep="\t")
    frame.loc[frame["repeat"] == 1, "recording"] = frame["recording"].str.replace("r2_", "x2_")
    frame.to_csv(fold, sep="\t", index=False)
    result = _summarise(folder, "--out", tmp_path / "summary.tsv", "--classes", *CLASSES)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1
    assert f"{fold}: repeat 1 tests other recordings than repeat 0" in result.stderr
    assert not (tmp_path / "summary.tsv").exists()


def _rating_dir(folder, rng, info=True, folds="123"):
    """A rating target's fold files (dimensions: regression), with or without their infos."""
    folder.mkdir(parents=True)
    for fold in folds:
        true = rng.uniform(1, 5, 30).round(2)
        pd.DataFrame({"recording": [f"r{fold}_{i:02d}" for i in range(30)], "session": fold,
                      "speaker": [f"s{fold}{'ab'[i % 2]}" for i in range(30)], "y_true": true,
                      "y_pred": (true + rng.normal(0, 0.5, 30)).round(2)}).to_csv(folder / f"fold_{fold}.tsv",
                                                                                   sep="\t", index=False)
        if info:
            (folder / f"fold_{fold}.info.json").write_text(json.dumps(
                {"task": "regression", "thresholds": {"low": 2.5, "high": 3.5}, "train_class_counts": [8, 6, 9]}))
    return folder


def test_ratings_without_their_infos_are_not_read_as_classes(tmp_path):
    """Issue 35: every distinct rating became a class (32 recall_1.630000 columns, UAR 0.0, exit 0)."""
    folder = _rating_dir(tmp_path / "valence", np.random.default_rng(4), info=False)
    result = _summarise(folder, "--out", tmp_path / "summary.tsv", "--target", "valence")
    assert result.returncode == 2, result.stdout
    assert result.stderr.count("\n") == 1
    assert f"{folder / 'fold_1.tsv'}: y_true holds only numbers" in result.stderr
    assert "fold_<name>.info.json" in result.stderr and "--classes" in result.stderr
    assert not (tmp_path / "summary.tsv").exists()


def test_a_rating_folder_needs_a_rating_target_and_then_compares_with_a_class_folder(tmp_path):
    """Issue 35: a class folder and a rating folder together ended in a KeyError traceback."""
    rng = np.random.default_rng(5)
    classes = _prediction_dir(tmp_path / "binned", 0.6, rng)
    for path in classes.glob("fold_*.tsv"):  # valence as classes, as `dimensions: binned` learns it
        frame = pd.read_csv(path, sep="\t")
        names = dict(zip(CLASSES, ["negative", "neutral", "positive", "neutral"]))
        frame.assign(y_true=frame["y_true"].map(names), y_pred=frame["y_pred"].map(names)).to_csv(
            path, sep="\t", index=False)
    ratings = _rating_dir(tmp_path / "ratings", rng)
    result = _summarise(classes, ratings, "--out", tmp_path / "summary.tsv")  # --target label, the default
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"{ratings / 'fold_1.info.json'}: a rating target's predictions" in result.stderr
    assert "--target activation or --target valence" in result.stderr
    result = _summarise(classes, ratings, "--out", tmp_path / "summary.tsv", "--comparison", tmp_path / "c.tsv",
                        "--target", "valence")
    assert result.returncode == 0, result.stderr
    summary = pd.read_csv(tmp_path / "summary.tsv", sep="\t")
    assert summary["n_test"].tolist() == [120, 90] and summary["ccc"].notna().tolist() == [False, True]


@pytest.mark.parametrize("count", ["0", "-3"])
def test_the_command_refuses_fewer_than_one_permutation_in_one_line(tmp_path, count):
    """Issue 35: 0 gave p_chance 1.0 from no permutations; -3 "negative dimensions are not allowed"."""
    ours = _prediction_dir(tmp_path / "ours", 0.5, np.random.default_rng(3))
    result = _summarise(ours, "--out", tmp_path / "summary.tsv", "--permutations", count)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"--permutations {count}: p_chance needs at least 1 permutation" in result.stderr
    assert not (tmp_path / "summary.tsv").exists()


def _clip_experiment(rng, accuracy, repeats, folds=("1", "2")):
    """A benchmark without speaker ids: 200 clips a fold, each repeat right with ``accuracy``."""
    frames = {}
    for fold in folds:
        true = np.array(CLASSES)[rng.integers(0, 4, 200)]
        frames[fold] = pd.concat([pd.DataFrame({"recording": [f"{fold}_{i}" for i in range(200)], "speaker": "",
                                                "y_true": true, "repeat": r,
                                                "y_pred": np.where(rng.random(200) < accuracy, true,
                                                                   np.array(CLASSES)[rng.integers(0, 4, 200)])})
                                  for r in range(repeats)], ignore_index=True)
    return TargetResults(frames, CLASSES, {fold: [100] * 4 for fold in folds})


def test_without_speaker_ids_the_outputs_say_what_the_intervals_are_about(tmp_path):
    """Issue 34, item 1: with one training run the intervals over clips are about these trained
    models only (summary.tsv's ci_note, the forest plot's axis, comparison.tsv's note); with
    repeats they include the spread between runs."""
    rng = np.random.default_rng(8)
    experiments = {"one run": {"label": _clip_experiment(rng, 0.5, 1)},
                   "other run": {"label": _clip_experiment(rng, 0.6, 1)},
                   "three runs": {"label": _clip_experiment(rng, 0.6, 3)}}
    # the same clips for every experiment, so that the comparisons pair them
    for name in ("other run", "three runs"):
        for fold, frame in experiments[name]["label"].folds.items():
            reference = experiments["one run"]["label"].folds[fold]
            frame["y_true"] = np.tile(reference["y_true"].to_numpy(), len(frame) // len(reference))
    paths = [tmp_path / name for name in ("summary.tsv", "speakers.tsv", "comparison.tsv")]
    summary = write_summary(experiments, *paths, resamples=500, seed=0)
    notes = dict(zip(summary["experiment"], summary["ci_note"]))
    assert notes["one run"] == CLIP_NOTE and "these trained models only" in notes["one run"]
    assert "not about training again" in notes["one run"]
    assert "the spread between the 3 training runs" in notes["three runs"]
    assert pd.read_csv(paths[0], sep="\t")["ci_over"].tolist() == ["clips", "clips", "clips and runs"]
    assert "these trained models only" in FOREST_AXES["clips"] and "over folds" not in FOREST_AXES["clips"]
    assert "training runs" in FOREST_AXES["clips and runs"] and "over folds" not in FOREST_AXES["clips and runs"]
    comparison = pd.read_csv(paths[2], sep="\t", keep_default_na=False)
    assert list(comparison.columns) == COMPARISON_COLUMNS
    assert comparison["note"].tolist() == [ONE_RUN_COMPARISON_NOTE] * 2  # the reference ran once
    assert "ignore" in ONE_RUN_COMPARISON_NOTE and "training randomness" in ONE_RUN_COMPARISON_NOTE
    both_repeated = compare_target("a", "b", "label", experiments["three runs"]["label"],
                                   experiments["three runs"]["label"], 500, 0)
    assert both_repeated["note"] == "" and both_repeated["p_value"] == pytest.approx(1.0)


def test_the_front_page_shows_the_interval_over_clips_and_says_what_it_is_about(tmp_path):
    """A corpus without speaker ids: summary.tsv's interval over test clips is on the page (it said
    "(summary.tsv)"), and what it is about follows the summary's training runs."""
    from test_plots import predicted, tsv_config, written_page

    config = tsv_config(tmp_path)
    for repeats in (1, 3):
        folds = {fold: predicted({"": (10, right)}, repeats, fold) for fold, right in (("1", 6), ("2", 8), ("3", 7))}
        page, _, summary = written_page(tmp_path / str(repeats), {**config, "training": {
            **config["training"], "repeats": repeats}}, folds)
        row = summary.iloc[0]
        assert row["ci_over"] == ("clips" if repeats == 1 else "clips and runs") and row["repeats"] == repeats
        assert f"**{row['uar']:.3f}** ({row['uar_ci_low']:.3f}-{row['uar_ci_high']:.3f})" in page
        said = " ".join(page.split())
        assert "from a bootstrap of the test clips" in said and "they are about new speakers" not in said
        if repeats == 1:
            assert "about these trained models only, not about training again" in said
        else:
            assert "include the spread between the 3 training runs" in said and "these trained models only" not in said
