"""Folds as a corpus defines them: training-only sessions, held-out sessions named in
cv.test_sessions, validation drawn from the training data, and statistics over test clips where
the corpus does not name its speakers (DFEW, MAFW, FERV39k)."""

import json

import numpy as np
import pandas as pd
import pytest
from corpus_simulation import CLIP_SHAPES, simulate_clips
from facemotion.corpora.manifest import ManifestError, check_corpus, normalise_manifest, train_only_sessions
from facemotion.evaluation.statistics import clip_intervals, paired_clip_comparison
from facemotion.evaluation.summary import CLIP_NOTE, TargetResults, compare_target, speaker_rows, summarise_target
from facemotion.learning.folds import split_fold, validation_method
from test_faults import planned_jobs, refusal, snakemake, write_config

CLASSES = ["Angry", "Happy", "Neutral", "Sad"]


def _table(rows):
    columns = ["recording", "path", "speaker", "session", "label", "split"]
    return pd.DataFrame([dict(zip(columns, row)) for row in rows], dtype=str)


# ----------------------------------------------------------------------------- the manifest


def test_training_only_sessions_and_unknown_speakers_are_read():
    table = _table([(f"c{i}", f"c{i}.mp4", "", "train" if i < 4 else "test", CLASSES[i % 4],
                     "train" if i < 4 else "") for i in range(8)])
    manifest, _ = normalise_manifest(table, CLASSES, "m.tsv", drop_unknown_labels=False, check_files=False)
    assert train_only_sessions(manifest) == ["train"]
    config = {"cv": {"speakers_may_span_sessions": False}, "classes": CLASSES, "rating_scale": {"min": 1, "max": 5}}
    assert check_corpus(manifest.assign(activation=np.nan, valence=np.nan), config, rows_are_lines=True) == []


@pytest.mark.parametrize("rows, message", [
    # a session both tested and training-only
    ([("a", "a", "s1", "1", "Angry", "train"), ("b", "b", "s1", "1", "Happy", ""), ("c", "c", "s2", "2", "Sad", "")],
     r"session\(s\) 1 mix split 'train' with tested recordings"),
    ([("a", "a", "s1", "1", "Angry", "train"), ("b", "b", "s2", "2", "Happy", "train")],
     "nothing would be tested"),
    ([("a", "a", "s1", "1", "Angry", "test"), ("b", "b", "s2", "2", "Happy", "")],
     r"split must be empty or 'train' in row\(s\) 2"),
    # speakers named in some rows only
    ([("a", "a", "s1", "1", "Angry", ""), ("b", "b", "", "2", "Happy", "")],
     r"empty speaker in row\(s\) 3 \(leave speaker empty in every row"),
])
def test_a_bad_split_or_half_known_speakers_are_refused_naming_the_rows(rows, message):
    with pytest.raises(ManifestError, match=message):
        normalise_manifest(_table(rows), CLASSES, "m.tsv", drop_unknown_labels=False, check_files=False)


# ----------------------------------------------------------------------------- the split of a fold


def test_auto_validation_draws_a_share_only_where_the_corpus_defines_its_splits():
    assert validation_method("auto", has_train_only_sessions=False, speakers_known=True) == "next_session"
    assert validation_method("auto", has_train_only_sessions=True, speakers_known=True) == "share"
    assert validation_method("auto", has_train_only_sessions=False, speakers_known=False) == "share"
    assert validation_method("next_session", True, False) == "next_session"


def test_a_validation_share_comes_from_the_training_data_and_never_from_the_test_session():
    rng = np.random.default_rng(0)
    sessions = np.array(["train"] * 800 + ["test"] * 200)
    y = rng.integers(0, 4, 1000)
    split = split_fold(sessions, y, "test", "loso", seed=3, validation="share", share=0.1)
    assert set(sessions[split.test]) == {"test"} and len(split.test) == 200
    assert set(sessions[split.val]) == {"train"} and len(split.val) == 80
    assert not set(split.val) & set(split.train) and len(split.train) == 720
    assert split.val_session is None
    # stratified by class: each class's share of the validation set is its share of the training data
    train_shares = np.bincount(y[:800], minlength=4) / 800
    assert np.allclose(np.bincount(y[split.val], minlength=4) / 80, train_shares, atol=0.02)
    # the same recordings for every model seed: only split_seed decides
    again = split_fold(sessions, y, "test", "loso", seed=3, validation="share", share=0.1)
    assert np.array_equal(again.val, split.val)
    assert not np.array_equal(split_fold(sessions, y, "test", "loso", seed=4, validation="share").val, split.val)


def test_a_validation_share_takes_whole_speakers_where_they_are_known():
    sessions = np.repeat(["1", "2", "3", "4"], 50)
    speakers = np.repeat([f"spk{i}" for i in range(20)], 10)
    y = np.tile(np.arange(4), 50)
    split = split_fold(sessions, y, "2", "loso", seed=0, validation="share", share=0.2, speakers=speakers)
    val_speakers, train_speakers = set(speakers[split.val]), set(speakers[split.train])
    assert val_speakers and not val_speakers & train_speakers
    assert not set(sessions[split.val]) & {"2"}



@pytest.mark.parametrize("seed", range(6))
def test_a_validation_share_over_corpora_with_and_without_speakers_takes_its_share_of_each(seed):
    """Pooled corpora, one naming no speakers (600 recordings) and one with 20 speakers (400): the
    speakerless recordings are not one speaker; one seed in six moved all 600 of them to validation."""
    sessions = np.array(["test"] * 100 + ["a"] * 600 + ["b"] * 400)
    speakers = np.array([""] * 100 + [""] * 600 + [f"b.S{i % 20}" for i in range(400)])
    y = np.arange(len(sessions)) % 2
    split = split_fold(sessions, y, "test", "loso", seed=seed, validation="share", share=0.1, speakers=speakers)
    assert (speakers[split.val] == "").sum() == 60
    assert 20 <= (speakers[split.val] != "").sum() <= 60  # whole speakers of 20 recordings each
    assert not set(speakers[split.val]) - {""} & set(speakers[split.train])

def test_without_validation_a_fold_trains_on_the_whole_training_list_for_the_configured_epochs():
    """cv.validation none: every other session trains (the whole official training list), nothing
    is held out to choose an epoch, and the final model trains the configured epochs."""
    from facemotion.learning.fitting import final_epochs

    sessions = np.array(["train"] * 30 + ["set_1"] * 10 + ["set_2"] * 10)
    y = np.arange(50) % 4
    split = split_fold(sessions, y, "set_1", "loso", validation="none")
    assert len(split.val) == 0 and split.val_session is None
    assert sorted(split.train) == sorted(np.flatnonzero(sessions != "set_1"))
    assert sorted(split.test) == list(range(30, 40))
    infos = [{"best_epoch": 4, "repeats": [{"best_epoch": 4}]}]  # what a fold with validation would have chosen
    assert final_epochs(infos, {"protocol": "loso", "validation": "none", "epochs": 12}) == 12
    assert final_epochs(infos, {"protocol": "loso", "validation": "share", "epochs": 12}) == 4


# ----------------------------------------------------------------------------- intervals over clips


def test_the_interval_over_clips_holds_95_percent_in_a_benchmark_of_ferv39ks_shape():
    """FERV39k's one test set: a t-interval over folds has nothing to stand on; the bootstrap of
    test clips must hold the models' true UAR at least 93 % of the time (bench_coverage --clips)."""
    shape = CLIP_SHAPES["FERV39k (1 test set of 7,847 clips, 7 classes)"]
    rng = np.random.default_rng(3)
    covered = []
    for _ in range(300):
        true, predicted, folds, truth = simulate_clips(shape, 1, rng)
        out = clip_intervals(true, predicted, folds, [str(c) for c in range(7)], 500, int(rng.integers(1 << 30)))
        covered.append(out["uar_ci_low"] <= truth <= out["uar_ci_high"])
    assert np.mean(covered) >= 0.93


def _clip_results(rng, accuracy, folds=("1",), n=400, repeats=1, speaker=""):
    frames = {}
    for fold in folds:
        true = rng.integers(0, 4, n)
        rows = []
        for r in range(repeats):
            predicted = np.where(rng.random(n) < accuracy, true, rng.integers(0, 4, n))
            rows.append(pd.DataFrame({"recording": [f"{fold}_{i}" for i in range(n)], "speaker": speaker,
                                      "y_true": np.array(CLASSES)[true], "y_pred": np.array(CLASSES)[predicted],
                                      "repeat": r}))
        frames[fold] = pd.concat(rows, ignore_index=True)
    return TargetResults(frames, CLASSES, {fold: [100] * 4 for fold in folds})


def test_without_speakers_a_single_test_set_gets_an_interval_over_clips_and_says_so():
    rng = np.random.default_rng(1)
    results = _clip_results(rng, 0.6)
    row = summarise_target("default", "label", results, 2000, 0)
    assert row["ci_note"] == CLIP_NOTE
    assert row["uar_ci_low"] < row["uar"] < row["uar_ci_high"] and row["uar_ci_high"] - row["uar_ci_low"] < 0.15
    assert row["recall_Sad_ci_low"] < row["recall_Sad"] < row["recall_Sad_ci_high"]
    assert np.isnan(row["p_chance_speakers"])
    assert speaker_rows("default", "label", results) == []
    # with speakers named, the same single fold has no interval (t over one fold)
    named = _clip_results(np.random.default_rng(1), 0.6, speaker="s1")
    assert np.isnan(summarise_target("default", "label", named, 2000, 0)["uar_ci_low"])


def test_a_paired_comparison_over_clips_finds_a_real_difference_and_not_a_null_one():
    rng = np.random.default_rng(2)
    true = rng.integers(0, 4, 3000)
    folds = np.repeat(np.arange(3), 1000)
    worse = np.where(rng.random(3000) < 0.5, true, rng.integers(0, 4, 3000))[None]
    better = np.where(rng.random(3000) < 0.6, true, rng.integers(0, 4, 3000))[None]
    found = paired_clip_comparison(true, worse, better, folds, 4, 2000, 0)
    assert found["delta_uar"] > 0.05 and found["delta_ci_low"] > 0 and found["p_value"] < 0.01
    same = paired_clip_comparison(true, worse, worse, folds, 4, 2000, 0)
    assert same["delta_uar"] == 0 and same["p_value"] == 1.0
    # through compare_target: two experiments of a benchmark without speakers
    a, b = _clip_results(np.random.default_rng(5), 0.5, folds=("1", "2")), None
    b = TargetResults({f: frame.assign(y_pred=frame["y_true"]) for f, frame in a.folds.items()}, CLASSES)
    row = compare_target("a", "b", "label", a, b)
    assert 0.3 < row["delta_ci_low"] < row["delta_uar"] < row["delta_ci_high"] and row["p_value"] < 0.01


# ----------------------------------------------------------------------------- the workflow


@pytest.fixture
def benchmark_corpus(tmp_path):
    """A FERV39k-like manifest: 8 training-only clips, 8 test clips, no speakers (never opened)."""
    (tmp_path / "clips").mkdir()
    rows = ["recording\tpath\tspeaker\tsession\tlabel\tsplit"]
    for i in range(16):
        (tmp_path / "clips" / f"c{i}.mp4").write_bytes(f"clip {i}".encode())
        session, split = ("train", "train") if i < 8 else ("test", "")
        rows.append(f"c{i}\tclips/c{i}.mp4\t\t{session}\t{CLASSES[i % 4]}\t{split}")
    manifest = tmp_path / "corpus.tsv"
    manifest.write_text("\n".join(rows) + "\n")
    return tmp_path, manifest


def test_only_tested_sessions_become_folds(benchmark_corpus):
    workdir, manifest = benchmark_corpus
    config = write_config(workdir, manifest, targets=["label"])
    jobs = planned_jobs(workdir, "--configfile", str(config))
    assert jobs["train_fold"] == 1  # the test set; the training-only session is never held out
    result = snakemake(workdir, "--dry-run", "--configfile", str(config))
    assert "does not name its speakers" in result.stdout + result.stderr


def test_a_held_out_session_the_corpus_does_not_test_is_refused(benchmark_corpus):
    workdir, manifest = benchmark_corpus
    config = write_config(workdir, manifest, targets=["label"], cv={"test_sessions": ["train"]})
    text = refusal(snakemake(workdir, "--dry-run", "--configfile", str(config), ok=False))
    assert "cv.test_sessions: ['train'] are not sessions the corpus tests" in text
    assert "training only: ['train']" in text


@pytest.mark.slow
def test_a_benchmark_without_speakers_runs_through_with_intervals_over_clips(extracted, tmp_path):
    """The tiny demo's videos as a benchmark: no speaker ids, sessions 1-2 training only, 3-6 its
    folds. Four folds train (validation drawn from the training data), and the summary's
    intervals are over test clips."""
    demo = pd.read_csv(extracted / "resources" / "demo" / "manifest.tsv", sep="\t", dtype=str, keep_default_na=False)
    demo["path"] = [str(extracted / "resources" / "demo" / p) for p in demo["path"]]
    demo["speaker"] = ""
    demo["split"] = np.where(demo["session"].isin(["1", "2"]), "train", "")
    demo.loc[demo["split"] == "train", "session"] = "train"
    manifest = tmp_path / "benchmark.tsv"
    demo.to_csv(manifest, sep="\t", index=False)
    config = write_config(tmp_path, manifest, targets=["label"], cv={"dropped_test_clips": "miss"})
    console = snakemake(tmp_path, "--configfile", str(config))
    text = console.stdout + console.stderr
    assert "does not name its speakers" in text
    trained = sorted(p.name for p in (tmp_path / "results" / "predictions" / "label").glob("fold_*.info.json"))
    assert trained == [f"fold_{s}.info.json" for s in ("3", "4", "5", "6")]
    info = json.loads((tmp_path / "results" / "predictions" / "label" / "fold_3.info.json").read_text())
    assert info["val_session"] is None and "train" in info["train_sessions"]
    assert info["model_metadata"]["params"]["validation"] == "share"
    summary = pd.read_csv(tmp_path / "results" / "summary.tsv", sep="\t")
    row = summary.iloc[0]
    assert row["ci_note"] == CLIP_NOTE and row["uar_ci_low"] <= row["uar"] <= row["uar_ci_high"]
    # cv.dropped_test_clips miss: every test clip of the manifest scored, a dropped one as a miss
    assert row["n_official"] == (demo["split"] != "train").sum()
    assert row["n_dropped"] == row["n_official"] - row["n_test"] >= 0
    assert row["war_official"] == pytest.approx(row["accuracy"] * row["n_test"] / row["n_official"], abs=0.05)
    assert "bootstrap of the test clips" in (tmp_path / "results" / "report" / "front_page.rst").read_text()


def test_a_rating_target_without_speakers_says_which_intervals_are_over_clips():
    from facemotion.evaluation.summary import summarise_ratings

    rng = np.random.default_rng(4)
    frames = {}
    for fold in ("1", "2", "3"):
        rated = rng.uniform(1, 5, 300)
        frames[fold] = pd.DataFrame({"recording": [f"{fold}_{i}" for i in range(300)], "speaker": "",
                                     "y_true": rated, "y_pred": rated + rng.normal(0, 0.8, 300), "repeat": 0})
    results = TargetResults(frames, ["low", "medium", "high"], None, (2.5, 3.5))
    row = summarise_ratings("default", "activation", results, 2000, 0)
    assert row["ci_note"].startswith(CLIP_NOTE) and "CCC intervals are t-intervals over folds" in row["ci_note"]
