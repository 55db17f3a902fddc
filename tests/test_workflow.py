"""The workflow end to end on a tiny demo corpus (.test/tiny/config.yaml), then what reruns after
which change.

Two shared runs (conftest.py) feed the tests: `extracted` (the corpus rendered and extracted, no
training: the fast tier) and `run` (the same run to the end, about a minute on 2 cores). The
rerun tests ask Snakemake what it would run (`--dry-run`) after a change, without running it;
variants (a faceless session, landmarks, experiments, a killed run, prediction) start from a copy
of a shared run, not from nothing. Tests that train are marked `slow`.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from facemotion.evaluation.class_metrics import fold_metrics
from facemotion.extraction.feature_table import read_feature_table
from facemotion.extraction.settings import find_landmark_model
from facemotion.report.plots import read_panels
from tiny_run import (
    ROOT,
    SNAKEMAKE,
    TINY,
    copy_run,
    dot_test_config,
    planned_jobs,
    snakemake,
    write_config,
)


def test_the_extraction_writes_the_manifest_the_report_and_the_feature_table(extracted):
    manifest = pd.read_csv(extracted / "results/manifest.tsv", sep="\t", dtype=str)
    assert len(manifest) == 30
    report = pd.read_csv(extracted / "results/extraction/report.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert report["recording"].tolist() == manifest["recording"].tolist()
    assert set(report["status"]) <= {"ok", "no_face", "too_few_faces", "too_short", "unreadable"}
    table = read_feature_table(extracted / "results/features.parquet")
    assert table.meta["recording"].tolist() == sorted(report.loc[report["status"] == "ok", "recording"])
    assert table.pixels.shape[1:] == (4, 24, 24) and table.pixels.dtype == np.uint8


def test_the_extraction_plots_show_the_faces_and_the_statuses_of_the_run(extracted):
    report = pd.read_csv(extracted / "results/extraction/report.tsv", sep="\t", dtype=str, keep_default_na=False)
    manifest = pd.read_csv(extracted / "results/manifest.tsv", sep="\t", dtype=str, keep_default_na=False)
    kept = read_feature_table(extracted / "results/features.parquet").meta
    faces = read_panels(extracted / "results/plots/faces_kept.png")
    shown = pd.DataFrame(faces)
    assert set(shown["recording"]) <= set(kept["recording"]) and shown["frames"].eq(4).all()
    per_class = kept.groupby("label").size().clip(upper=4)  # plots.faces_per_class
    assert shown.groupby("label").size().to_dict() == per_class.to_dict()
    dropped = read_panels(extracted / "results/plots/faces_dropped.png")
    assert [p["recording"] for p in dropped] == report.loc[report["status"] != "ok", "recording"].tolist()
    assert all(p["frame"] for p in dropped)  # the demo's videos all decode
    by_session, by_speaker = read_panels(extracted / "results/plots/extraction_status.png")
    assert by_session["rows"] == sorted(manifest["session"].unique())
    assert len(by_speaker["rows"]) == manifest["speaker"].nunique()
    assert sum(sum(c.values()) for c in by_speaker["counts"].values()) == len(manifest)


@pytest.mark.slow
def test_every_output_is_written(run):
    """What training, evaluation and the summary write (the extraction's outputs: the test above)."""
    manifest = pd.read_csv(run / "results/manifest.tsv", sep="\t", dtype=str)
    sessions = sorted(manifest["session"].unique())
    for target in ("label", "activation", "valence"):
        for session in sessions:
            assert (run / f"results/models/{target}/fold_{session}.keras").is_file()
            predictions = pd.read_csv(run / f"results/predictions/{target}/fold_{session}.tsv", sep="\t", dtype=str)
            assert list(predictions.columns[:5]) == ["recording", "session", "speaker", "y_true", "y_pred"]
            assert set(predictions["session"]) <= {session}
        for ext in ("png", "pdf"):
            assert (run / f"results/plots/confusion_{target}.{ext}").stat().st_size > 1000
        assert (run / f"results/confusion/{target}.tsv").is_file()
    metrics = pd.read_csv(run / "results/metrics.tsv", sep="\t", dtype={"fold": str})
    assert {"target", "fold", "n_test", "accuracy", "uar", "f1_macro", "f1_weighted"} <= set(metrics.columns)
    for target in ("label", "activation", "valence"):
        folds = metrics.loc[metrics["target"] == target, "fold"].tolist()
        assert folds == sessions + ["mean", "std"]
    assert (run / "logs/evaluate.log").read_text().count("UAR") == 3
    summary = pd.read_csv(run / "results/summary.tsv", sep="\t")
    assert summary["experiment"].tolist() == ["default"] * 3
    means = metrics[metrics["fold"] == "mean"].set_index("target")
    for row in summary.itertuples():
        assert row.uar == pytest.approx(means.loc[row.target, "uar"], abs=1e-4)
        assert row.uar_ci_low <= row.uar <= row.uar_ci_high and 0 < row.p_chance <= 1
    speakers = pd.read_csv(run / "results/speakers.tsv", sep="\t", dtype=str)
    assert set(speakers["speaker"]) == set(manifest["speaker"])
    assert pd.read_csv(run / "results/comparison.tsv", sep="\t").empty  # one experiment: nothing to compare
    assert (run / "results/plots/comparison.png").stat().st_size > 1000


@pytest.mark.slow
def test_the_plots_show_the_training_of_the_run_and_the_front_page_its_corpus(run):
    """The training curves and the front page (the extraction plots: the fast test above)."""
    manifest = pd.read_csv(run / "results/manifest.tsv", sep="\t", dtype=str, keep_default_na=False)
    for target in ("label", "activation", "valence"):
        curves = read_panels(run / f"results/plots/training_{target}.png")
        assert [p["fold"] for p in curves] == sorted(manifest["session"].unique())
        info = json.loads((run / f"results/predictions/{target}/fold_1.info.json").read_text())
        assert curves[0]["chosen_epoch"] == info["best_epoch"] and curves[0]["epochs"] == 2
    front_page = (run / "results/report/front_page.rst").read_text()
    assert f"{len(manifest)} recordings" in front_page and "UAR (95 % CI)" in front_page


# The tests below run Snakemake in the shared run's own folder (each writes its config there): on
# one xdist process, one after another.
IN_THE_SHARED_RUN = pytest.mark.xdist_group("in the shared run")


@pytest.fixture(scope="module")
def report(run):
    """The HTML report of the shared run (snakemake --report), made once for the tests below."""
    snakemake(run, "--configfile", str(write_config(run)), "--report", "report.html")
    return run / "report.html"


@pytest.mark.slow
@IN_THE_SHARED_RUN
def test_the_report_opens_on_the_front_page(report):
    html = report.read_text()
    assert "facemotion: what this run did" in html
    for picture in ("faces_kept.png", "faces_dropped.png", "extraction_status.png", "training_label.png",
                    "confusion_label.png"):
        assert picture in html


@pytest.mark.slow
def test_the_console_shows_progress_not_what_the_jobs_print(run):
    console = (run / "console.txt").read_text()
    assert "steps (100%) done" in console
    for chatter in ("tensorflow", "absl", "onednn", "epoch 1/2"):
        assert chatter not in console.lower(), chatter
    assert not re.search(r"^[\d-]+ [\d:]+ INFO ", console, re.MULTILINE)  # the jobs' log records
    assert "epoch 1/2" in (run / "logs/train/label/fold_1.log").read_text()


@pytest.mark.slow
def test_every_test_recording_is_predicted_once_per_target(run):
    kept = read_feature_table(run / "results/features.parquet").meta
    for target in ("label",):
        predicted = pd.concat(pd.read_csv(p, sep="\t", dtype=str)
                              for p in sorted((run / f"results/predictions/{target}").glob("fold_*.tsv")))
        assert sorted(predicted["recording"]) == sorted(kept["recording"])


@pytest.mark.slow
@IN_THE_SHARED_RUN
def test_nothing_reruns_after_a_complete_run(run):
    assert planned_jobs(run, "--configfile", str(write_config(run))) == {}


@pytest.mark.slow
@IN_THE_SHARED_RUN
def test_a_training_setting_reruns_training_and_evaluation_only(run):
    jobs = planned_jobs(run, "--configfile", str(write_config(run, training={"learning_rate": 0.001})))
    assert set(jobs) == {"train_fold", "evaluate", "confusion", "summarise", "plot_training", "front_page", "all"}
    assert jobs["train_fold"] == 18


@pytest.mark.slow
@IN_THE_SHARED_RUN
def test_a_setting_a_fold_does_not_read_retrains_nothing_of_it(run):
    """The bins retrain activation and valence, not the emotion label; the validation share and the
    split seed retrain nothing where the folds validate on the next session."""
    jobs = planned_jobs(run, "--configfile", str(write_config(run, binning={"low": 2.0, "high": 3.5})))
    assert jobs["train_fold"] == 12 and "fold_1" not in str(jobs)
    text = snakemake(run, "--dry-run", "--configfile",
                     str(write_config(run, binning={"low": 2.0, "high": 3.5}))).stdout
    assert "Training label" not in text and "Training activation" in text
    assert planned_jobs(run, "--configfile", str(write_config(run, cv={"validation_share": 0.3, "split_seed": 5}))) \
        == {}

@pytest.mark.slow
@IN_THE_SHARED_RUN
def test_an_extraction_setting_reruns_extraction_and_everything_after(run):
    jobs = planned_jobs(run, "--configfile", str(write_config(run, extraction={"face_size": 32})))
    assert {"extract_batch", "gather_features", "train_fold", "evaluate"} <= set(jobs)
    assert "manifest" not in jobs and "demo_corpus" not in jobs


@pytest.mark.slow
@IN_THE_SHARED_RUN
def test_a_plot_setting_reruns_only_the_plots(run):
    jobs = planned_jobs(run, "--configfile", str(write_config(run, plots={"dpi": 72})))
    # The summary's forest plot too, and the front page, which shows the summary's numbers.
    assert set(jobs) == {"confusion", "summarise", "front_page", "plot_extraction", "plot_training", "all"}
    # The confusion plots take every plot setting (config/README.md says so).
    jobs = planned_jobs(run, "--configfile", str(write_config(run, plots={"faces_per_class": 2})))
    assert set(jobs) == {"confusion", "plot_extraction", "all"}


@pytest.mark.slow
@IN_THE_SHARED_RUN
def test_key_order_and_number_spelling_rerun_nothing(run):
    """The same values with every section's keys reversed (or sorted, as tools write them), and
    whole numbers written as 6 instead of 6.0: Snakemake compares params as text, so they must be
    canonical for this to rerun nothing."""
    config = json.loads(json.dumps(TINY))
    config["extraction"].update(detect_width=400, upsample=0, margin=0, landmark_model="")
    # The run's learning rate: the project's config/config.yaml, read whatever the working folder.
    shipped = yaml.safe_load((ROOT / "config/config.yaml").read_text())["training"]["learning_rate"]
    config["training"].update(optimizer="adam", learning_rate=shipped, normalisation="global", seed=0)
    config["binning"] = {"high": 3.5, "low": 2.5}
    config["plots"] = {"width": 6, "height": 5, "dpi": 150, "cmap": "Blues"}
    reversed_order = {section: dict(reversed(list(values.items()))) if isinstance(values, dict) else values
                      for section, values in reversed(list(config.items()))}
    for order, sort_keys in ((reversed_order, False), (config, True)):
        path = run / "reordered.yaml"
        path.write_text(yaml.safe_dump(order, sort_keys=sort_keys))
        assert planned_jobs(run, "--configfile", str(path)) == {}, path.read_text()


@pytest.mark.slow
def test_training_repeats_test_every_fold_r_times_on_the_same_recordings(run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run, copy, symlinks=True)
    # Two folds are enough to show it: sessions 1 and 2 held out (the others still train).
    snakemake(copy, "--configfile", str(write_config(copy, targets=["label"], training={"repeats": 2},
                                                     cv={"test_sessions": ["1", "2"]})))
    folds = {f"fold_{s}": pd.read_csv(copy / f"results/predictions/label/fold_{s}.tsv", sep="\t", dtype=str)
             for s in ("1", "2")}
    first, second = (folds["fold_1"][folds["fold_1"]["repeat"] == r] for r in ("0", "1"))
    assert len(first) > 0 and first["recording"].tolist() == second["recording"].tolist()
    info = json.loads((copy / "results/predictions/label/fold_1.info.json").read_text())
    assert [repeat["seed"] for repeat in info["repeats"]] == [0, 1]
    summary = pd.read_csv(copy / "results/summary.tsv", sep="\t").iloc[0]
    assert summary["repeats"] == 2 and summary["uar_repeat_sd"] >= 0
    assert summary["n_test"] == sum(len(frame) for frame in folds.values()) // 2
    # metrics.tsv: a fold's UAR is the mean of its repeats' UARs.
    metrics = pd.read_csv(copy / "results/metrics.tsv", sep="\t", dtype={"fold": str}).set_index("fold")
    classes = [c[2:] for c in first.columns if c.startswith("p_")]
    uars = [fold_metrics(rows["y_true"], rows["y_pred"], classes)["uar"] for rows in (first, second)]
    assert metrics.loc["1", "uar"] == pytest.approx(np.mean(uars), abs=1e-4)


@pytest.mark.slow
def test_deleted_results_are_made_again_not_taken_as_done(run, tmp_path):
    """Snakemake checks a job's outputs only where a rerunning job needs them: a fold model (which
    no later job reads) or the feature table under an up-to-date metrics.tsv were never made again
    ("Nothing to be done"). The default target asks for every result."""
    copy = copy_run(run, tmp_path / "copy")
    config = write_config(copy)
    (copy / "results/models/label/fold_2.keras").unlink()
    jobs = planned_jobs(copy, "--configfile", str(config))
    assert jobs["train_fold"] == 1 and {"evaluate", "confusion", "summarise"} <= set(jobs)
    assert "gather_features" not in jobs and "extract_batch" not in jobs
    (copy / "results/features.parquet").unlink()  # e.g. deleted after it was found corrupted
    jobs = planned_jobs(copy, "--configfile", str(config))
    assert (jobs["gather_features"], jobs["train_fold"], jobs["confusion"]) == (1, 18, 3)
    assert "extract_batch" not in jobs


def tsv_corpus(folder: Path, rows: list[str], header: str = "recording\tpath\tspeaker\tsession\tlabel\tactivation\n",
               encoding: str = "utf-8") -> dict:
    """A hand-written corpus of stand-in videos (a dry run reads none of them), each unique."""
    folder.mkdir(parents=True, exist_ok=True)
    for row in rows:
        video = folder / row.split("\t")[1]
        if not video.exists():
            video.write_bytes(video.name.encode())
    (folder / "manifest.tsv").write_bytes((header + "".join(row + "\n" for row in rows)).encode(encoding))
    return {"format": "tsv", "path": str(folder / "manifest.tsv")}


def dry_run(workdir: Path, **changes) -> tuple[int, str]:
    result = subprocess.run([*SNAKEMAKE, "--cores", "2", "--directory", str(workdir), "--dry-run", "--configfile",
                             str(write_config(workdir, **changes))], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    return result.returncode, result.stdout + result.stderr


CLEAN = [f"r{i}\tr{i}.mp4\tS{i % 4}\t{i % 2 + 1}\t{['Angry', 'Happy', 'Neutral', 'Sad'][i % 4]}\t3" for i in range(8)]


def test_every_start_up_problem_is_reported_by_a_dry_run_before_any_job(tmp_path):
    """Each bad input of the issue stops `snakemake --dry-run` with a message naming the key, row
    or file, before a single job is planned."""
    long_id = "x" * 300
    cases = {
        "leaks_and_scale": (dict(corpus=tsv_corpus(tmp_path / "c1", [
            *CLEAN, "r8\tr8.mp4\tS0\t2\tAngry\t7", "r9\tr1.mp4\tS9\t1\tHappy\t-3"]), classes=[
                "Angry", "Happy", "Neutral", "Sad", "Fear"]),
            ["speaker 'S0' is in sessions 1, 2", "r1, r9 in sessions 1, 2 use the file", "classes ['Fear'] have no "
             "recording", "activation outside rating_scale [1, 5] in row(s) 10, 11: r8, r9"]),
        "long_id": (dict(corpus=tsv_corpus(tmp_path / "c2", [*CLEAN, f"{long_id}\tr9.mp4\tS1\t2\tSad\t3"])),
                    ["recording ids must be at most 200 characters", "row(s) 10"]),
        "latin_1": (dict(corpus=tsv_corpus(tmp_path / "c3", [*CLEAN[:7], "r7\tr7.mp4\tS3\t2\tSad\tÄ"],
                                          encoding="latin-1")), ["manifest.tsv: not UTF-8 text: byte 0xc4 in line 9"]),
        "utf_16": (dict(corpus=tsv_corpus(tmp_path / "c4", CLEAN, encoding="utf-16")),
                   ["manifest.tsv: not UTF-8 text (it looks like UTF-16)"]),
        "no_target_left": (dict(corpus=tsv_corpus(tmp_path / "c5", [r.rsplit("\t", 1)[0] + "\t" for r in CLEAN]),
                                targets=["activation", "valence"]),
                           ["targets: none of ['activation', 'valence'] can be learnt from this corpus"]),
        "colour_map_and_users_folder": (dict(corpus={"format": "demo", "path": str(tmp_path / "c1")},
                                             plots={"cmap": "Bluez"}),
                                        ["plots.cmap: 'Bluez' is not a Matplotlib or seaborn colour map",
                                         "c1' is a folder with files that the demo generator did not create"]),
    }
    for name, (changes, messages) in cases.items():
        workdir = tmp_path / name
        workdir.mkdir()
        returncode, output = dry_run(workdir, **changes)
        assert returncode != 0, name
        for message in messages:
            assert message in output, f"{name}: {message!r} not in\n{output[-3000:]}"
        assert "Job stats" not in output and "rule " not in output, name
        assert not (workdir / "results").exists(), name
    assert (tmp_path / "c1/manifest.tsv").read_text().startswith("recording\tpath")  # the user's file, untouched

    # Warnings that do not stop the run: a misspelt column, and declared speakers across sessions.
    header = "recording\tpath\tspeaker\tsession\tlabel\tactivation\tvalance\n"
    warned = tmp_path / "warned"
    warned.mkdir()
    returncode, output = dry_run(warned, corpus=tsv_corpus(tmp_path / "c6", [r + "\t3" for r in CLEAN[:7]] + [
        "r7\tr7.mp4\tS0\t2\tSad\t3\t3"], header=header), cv={"speakers_may_span_sessions": True})
    assert returncode == 0, output[-3000:]
    assert "column 'valance' is not one facemotion reads and is ignored (did you mean 'valence'?)" in output
    assert "NOT speaker-independent" in output


@pytest.mark.slow
def test_a_session_without_faces_is_skipped_and_the_run_ends_well(extracted, tmp_path):
    """Every video of session 6 shows no face: its fold is listed as skipped in metrics.tsv,
    the other folds are averaged, and the run succeeds. From a copy of the extracted run, whose
    cache spares decoding the other sessions' videos again; sessions 4-6 held out."""
    import cv2

    workdir = copy_run(extracted, tmp_path / "faceless")
    blank = workdir / "blank.avi"
    writer = cv2.VideoWriter(str(blank), cv2.VideoWriter_fourcc(*"MJPG"), 25, (320, 180))
    for shade in range(30):
        writer.write(np.full((180, 320, 3), 60 + shade, np.uint8))
    writer.release()
    manifest = pd.read_csv(extracted / "results/manifest.tsv", sep="\t", dtype=str, keep_default_na=False)
    manifest["path"] = [str(blank) if session == "6" else str(workdir / path)
                        for session, path in zip(manifest["session"], manifest["path"])]
    (workdir / "corpus.tsv").write_text(manifest.to_csv(sep="\t", index=False))
    # One session's recordings share one video: allowed, since they stay within the session.
    snakemake(workdir, "--configfile", str(write_config(workdir, corpus={"format": "tsv", "path": "corpus.tsv"},
                                                        targets=["label"], cv={"test_sessions": ["4", "5", "6"]})))
    metrics = pd.read_csv(workdir / "results/metrics.tsv", sep="\t", dtype={"fold": str}, keep_default_na=False)
    fold = metrics.set_index("fold")
    assert fold.loc["6", "n_test"] == 0
    assert fold.loc["6", "skipped"] == "no recording of session 6 has enough face frames " \
                                       "(see results/extraction/report.tsv)"
    assert fold.loc["mean", "n_test"] == pytest.approx(fold.loc[["4", "5"], "n_test"].mean(), abs=0.01)
    assert "label fold 6 skipped" in (workdir / "logs/evaluate.log").read_text()


def test_corpus_edits_rerun_only_what_they_touch(extracted, tmp_path):
    """A tsv corpus grows by two recordings: only the batches they land in rerun, and inside
    them only the two new recordings are decoded (the rest come from the per-recording cache).
    Then: touching the file reruns nothing; a changed label or a removed row reruns its batch."""
    workdir = tmp_path / "grow"
    workdir.mkdir()
    shutil.copytree(extracted / "resources", workdir / "resources")
    manifest = pd.read_csv(extracted / "results/manifest.tsv", sep="\t", dtype=str, keep_default_na=False)
    manifest["path"] = [str(workdir / p) for p in manifest["path"]]
    first, extra = manifest.iloc[:-2], manifest.iloc[-2:]
    (workdir / "corpus.tsv").write_text(first.to_csv(sep="\t", index=False))
    config = write_config(workdir, corpus={"format": "tsv", "path": "corpus.tsv"})
    targets = ["results/features.parquet", "results/manifest.tsv"]
    snakemake(workdir, *targets, "--configfile", str(config))

    (workdir / "corpus.tsv").write_text(manifest.to_csv(sep="\t", index=False))
    jobs = planned_jobs(workdir, "results/features.parquet", "--configfile", str(config))
    assert jobs["extract_batch"] <= 2
    shutil.rmtree(workdir / "logs" / "extract")  # keep only the logs of the batches that rerun
    snakemake(workdir, *targets, "--configfile", str(config))
    logs = "".join(p.read_text() for p in (workdir / "logs/extract").glob("*.log"))
    extracted = re.findall(r"extracted (\S+):", logs)
    assert sorted(extracted) == sorted(extra["recording"])

    os.utime(workdir / "corpus.tsv")  # touched (an editor's save, a copy), not changed: nothing reruns
    assert planned_jobs(workdir, *targets, "--configfile", str(config)) == {}

    relabelled = manifest.copy()
    relabelled.loc[3, "label"] = "Sad" if relabelled.loc[3, "label"] != "Sad" else "Happy"
    (workdir / "corpus.tsv").write_text(relabelled.to_csv(sep="\t", index=False))
    expected = {"manifest": 1, "extract_batch": 1, "gather_features": 1}
    assert planned_jobs(workdir, *targets, "--configfile", str(config)) == expected
    (workdir / "corpus.tsv").write_text(manifest.drop(index=3).to_csv(sep="\t", index=False))
    assert planned_jobs(workdir, *targets, "--configfile", str(config)) == expected


@pytest.mark.slow
def test_a_corpus_moved_elsewhere_trains_nothing_again_under_the_seed_protocol(extracted, tmp_path):
    """The seed protocol's folds read the manifest for their test halves: a manifest rewritten with
    the new paths is no reason to retrain (the halves, a param, are the same)."""
    manifest = pd.read_csv(extracted / "results/manifest.tsv", sep="\t", dtype=str, keep_default_na=False)
    workdir = copy_run(extracted, tmp_path / "seed")
    settings = {"corpus": {"format": "tsv", "path": "corpus.tsv"}, "targets": ["label"],
                "cv": {"protocol": "seed", "test_sessions": ["1"]}}
    (workdir / "corpus.tsv").write_text(manifest.assign(path=[str(workdir / p) for p in manifest["path"]])
                                        .to_csv(sep="\t", index=False))
    config = write_config(workdir, **settings)
    snakemake(workdir, "results/predictions/label/fold_1.tsv", "--configfile", str(config))
    shutil.copytree(workdir / "resources", workdir / "moved")
    (workdir / "corpus.tsv").write_text(
        manifest.assign(path=[str(workdir / "moved" / Path(p).relative_to("resources")) for p in manifest["path"]])
        .to_csv(sep="\t", index=False))
    snakemake(workdir, "results/manifest.tsv", "results/features.parquet", "--configfile", str(config))
    jobs = planned_jobs(workdir, "results/predictions/label/fold_1.tsv", "--configfile", str(config))
    assert jobs == {}, jobs

@pytest.mark.slow
def test_a_killed_run_resumes_without_redoing_finished_work(run, tmp_path):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while folds train: the
    next plain run redoes exactly the unfinished folds and keeps the finished ones; the
    interrupted jobs' partial outputs are not taken as done. Starts from a copy of the finished
    run with three of the label's folds deleted, so those folds are what is interrupted."""
    import signal
    import time

    tmp_path = copy_run(run, tmp_path / "killed")
    config = write_config(tmp_path, targets=["label"])
    for session in ("4", "5", "6"):
        for made in (tmp_path / "results").glob(f"*/label/fold_{session}.*"):
            made.unlink()
    output = tmp_path / "run.out"
    with open(output, "w") as sink:
        # SIGINT's default action restored, as in a terminal: a shell that starts the tests in
        # the background (`pytest &`) makes its children ignore SIGINT, and Snakemake never sees it.
        process = subprocess.Popen([*SNAKEMAKE, "--cores", "2", "--directory", str(tmp_path), "--configfile",
                                    str(config)], cwd=ROOT, stdout=sink, stderr=sink, start_new_session=True,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    predictions = tmp_path / "results/predictions/label"
    deadline = time.monotonic() + 300
    # Kill once Snakemake has recorded the first finished fold, with others still running.
    while "(Rule: train_fold)" not in output.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=120) != 0
    dry_run = snakemake(tmp_path, "--dry-run", "--configfile", str(config))
    text = dry_run.stdout + dry_run.stderr
    # Jobs are listed by their rules' messages.
    assert "Extracting the faces" not in text and "Gathering the extraction batches" not in text
    redo = set(re.findall(r"Training label with session (\w+) held out", text))
    kept = {f"fold_{s}" for s in ("1", "2", "3", "4", "5", "6")} - {f"fold_{s}" for s in redo}
    assert 3 < len(kept) < 6, text  # folds 1-3, and at least one of 4-6 finished before the kill
    before = {p: p.stat().st_mtime_ns for p in predictions.iterdir() if p.name.split(".")[0] in kept}
    snakemake(tmp_path, "--configfile", str(config))
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert len(list(predictions.glob("fold_*.tsv"))) == 6
    assert (tmp_path / "results/metrics.tsv").is_file()


@pytest.mark.slow
def test_final_models_predict_new_recordings_and_the_command_agrees(run, tmp_path):
    import cv2

    run = copy_run(run, tmp_path / "run")

    blank = run / "blank.avi"
    writer = cv2.VideoWriter(str(blank), cv2.VideoWriter_fourcc(*"MJPG"), 25, (640, 360))
    for _ in range(40):
        writer.write(np.full((360, 640, 3), 90, np.uint8))
    writer.release()
    manifest = pd.read_csv(run / "results/manifest.tsv", sep="\t", dtype=str)
    report = pd.read_csv(run / "results/extraction/report.tsv", sep="\t", dtype=str)
    faces = manifest[manifest["recording"].isin(report.loc[report["status"] == "ok", "recording"])].head(2)
    recordings = pd.DataFrame({"recording": [*faces["recording"], "blank"],
                               "path": [str(run / p) for p in faces["path"]] + ["blank.avi"]})
    recordings.to_csv(run / "to_predict.tsv", sep="\t", index=False)
    config = write_config(run, predict={"recordings": "to_predict.tsv"})
    snakemake(run, "predict", "--configfile", str(config))

    predicted = pd.read_csv(run / "results/predict/predictions.tsv", sep="\t", keep_default_na=False)
    assert predicted["recording"].tolist() == recordings["recording"].tolist()
    assert predicted["status"].tolist() == ["ok", "ok", "no_face"]
    for target, classes in (("label", ["Angry", "Happy", "Neutral", "Sad"]),
                            ("activation", ["low", "medium", "high"]),
                            ("valence", ["negative", "neutral", "positive"])):
        probabilities = predicted[[f"{target}_p_{c}" for c in classes]].iloc[:2].astype(float)
        assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
        assert set(predicted[target].iloc[:2]) <= set(classes) and predicted[target].iloc[2] == ""
    metadata = json.loads((run / "results/final/label/model.keras.json").read_text())
    assert metadata["extraction"]["face_size"] == 24 and metadata["features"] == "pixels"

    command = subprocess.run([sys.executable, "-m", "facemotion", "predict", "results/final", *recordings["path"]],
                             cwd=run, capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT / "workflow")})
    assert command.returncode == 0, command.stderr[-3000:]
    from io import StringIO

    printed = pd.read_csv(StringIO(command.stdout), sep="\t", keep_default_na=False)
    columns = [c for c in predicted.columns if c not in ("recording", "detail")]
    pd.testing.assert_frame_equal(printed[columns], predicted[columns])


@pytest.mark.slow
@IN_THE_SHARED_RUN
def test_the_html_report_holds_the_plots_and_metrics(report):
    html = report.read_text(errors="replace")
    assert "confusion_label.png" in html and "metrics.tsv" in html and "comparison.png" in html
    assert "averaged" in html  # the caption of the confusion matrices


@pytest.mark.slow
def test_the_landmark_variant_runs_end_to_end(extracted, tmp_path):
    """.test/landmarks, from a copy of the extracted run: its corpus is not rendered again."""
    tmp_path = copy_run(extracted, tmp_path / "landmarks")
    model = tmp_path / "landmarks.dat"  # a configured model: an input of the extraction
    shutil.copyfile(find_landmark_model(), model)
    config = write_config(tmp_path, dot_test_config("landmarks"), extraction={"landmark_model": str(model)})
    snakemake(tmp_path, "--configfile", str(config))
    table = read_feature_table(tmp_path / "results/features.parquet")
    assert table.pixels is None
    assert table.landmarks.shape[1:] == (4, 68, 2) and table.geometry.shape[1:] == (4, 6)
    assert np.isfinite(table.geometry).all()
    metadata = json.loads((tmp_path / "results/models/label/fold_1.keras.json").read_text())
    assert metadata["model"] == "seed_dense"
    metrics = pd.read_csv(tmp_path / "results/metrics.tsv", sep="\t", dtype={"fold": str})
    assert metrics["target"].unique().tolist() == ["label"]
    # Another model written over the configured file reruns the extraction (the cache key holds
    # the model's content, so the same content extracts nothing again).
    os.utime(model, (time.time() + 10, time.time() + 10))
    assert "extract_batch" in planned_jobs(tmp_path, "--configfile", str(config))


def test_experiments_with_the_same_extraction_settings_plan_one_extraction(tmp_path):
    one = planned_jobs(tmp_path, "--configfile", str(write_config(tmp_path)))
    config = write_config(tmp_path, dot_test_config("experiments"))
    jobs = planned_jobs(tmp_path, "--configfile", str(config))
    # Same extraction settings: one set of batches and one feature table for both.
    assert jobs["extract_batch"] == one["extract_batch"] and jobs["gather_features"] == 1
    folds = len(dot_test_config("experiments")["cv"]["test_sessions"])
    assert jobs["train_fold"] == 2 * folds and jobs["evaluate"] == 2


@pytest.mark.slow
def test_experiments_share_extraction_and_a_new_one_reruns_only_its_own_jobs(extracted, tmp_path):
    """.test/experiments, from a copy of the extracted run (the extraction both share)."""
    one = planned_jobs(tmp_path, "--configfile", str(write_config(tmp_path)))
    tmp_path = copy_run(extracted, tmp_path / "experiments")
    base = dot_test_config("experiments")
    experiments = base.pop("experiments")
    assert experiments == {"base": {}, "faster": {"training": {"learning_rate": 0.001}}}
    folds = len(base["cv"]["test_sessions"])
    config = write_config(tmp_path, base, experiments=experiments)
    snakemake(tmp_path, "--configfile", str(config))
    for name in experiments:
        assert (tmp_path / f"results/experiments/{name}/metrics.tsv").is_file()
        assert (tmp_path / f"results/experiments/{name}/plots/confusion_label.png").is_file()
        assert len(list((tmp_path / f"results/experiments/{name}/predictions/label").glob("fold_*.tsv"))) == folds
        assert len(list((tmp_path / f"results/experiments/{name}/models/label").glob("fold_*.keras"))) == folds
    assert not (tmp_path / "results/metrics.tsv").exists()
    summary = pd.read_csv(tmp_path / "results/summary.tsv", sep="\t")
    assert summary["experiment"].tolist() == ["base", "faster"]
    comparison = pd.read_csv(tmp_path / "results/comparison.tsv", sep="\t")
    assert comparison[["experiment", "reference", "target"]].values.tolist() == [["faster", "base", "label"]]
    assert comparison["n_test"].iloc[0] == summary["n_test"].iloc[0]

    added = {**experiments, "bigger_batches": {"training": {"batch_size": 16}}}
    jobs = planned_jobs(tmp_path, "--configfile", str(write_config(tmp_path, base, experiments=added)))
    assert jobs == {"train_fold": folds, "evaluate": 1, "confusion": 1, "summarise": 1, "front_page": 1, "all": 1}
    changed = {**experiments, "faster": {"training": {"learning_rate": 0.002}}}
    jobs = planned_jobs(tmp_path, "--configfile", str(write_config(tmp_path, base, experiments=changed)))
    assert jobs == {"train_fold": folds, "evaluate": 1, "confusion": 1, "summarise": 1, "front_page": 1, "all": 1}
    other_extraction = {**experiments, "larger_faces": {"extraction": {"face_size": 32}}}
    jobs = planned_jobs(tmp_path, "--configfile",
                        str(write_config(tmp_path, base, experiments=other_extraction)))
    assert jobs["extract_batch"] == one["extract_batch"] and jobs["gather_features"] == 1
    assert jobs["train_fold"] == folds


def test_an_invalid_experiment_is_named(tmp_path):
    config = write_config(tmp_path, experiments={"bad": {"extraction": {"n_frames": 0}}})
    result = subprocess.run([*SNAKEMAKE, "--cores", "1", "--dry-run", "--directory", str(tmp_path), "--configfile",
                             str(config)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    assert "experiments.bad.extraction.n_frames: got 0" in result.stdout + result.stderr


def test_recordings_per_job_keeps_an_experiments_extraction_folder(tmp_path):
    """It only groups recordings into jobs: an experiment's own extraction keeps its folder (a new
    one retrained the experiment), and its batches follow the setting."""
    plans = []
    for per_job in (8, 16):
        config = write_config(tmp_path, extraction={"recordings_per_job": per_job},
                              experiments={"base": {}, "small": {"extraction": {"face_size": 16}}})
        text = snakemake(tmp_path, "--configfile", str(config), "--dry-run").stdout
        plans.append((set(re.findall(r"results/(extractions/[0-9a-f]{12}/)", text)),
                      text.count("Extracting the faces of batch")))
    (folders_8, batches_8), (folders_16, batches_16) = plans
    assert folders_8 == folders_16 and len(folders_8) == 1 and batches_8 > batches_16

def test_a_corpus_smaller_than_one_batch_is_extracted_on_every_core(tmp_path):
    config = write_config(tmp_path, extraction={"recordings_per_job": 100})  # 30 recordings: one batch
    output = snakemake(tmp_path, "--configfile", str(config), "--dry-run", "results/features.parquet")
    assert "Extracting the faces of batch 0000 (worker processes: 2)" in output.stdout + output.stderr
