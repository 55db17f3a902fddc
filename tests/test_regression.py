"""Activation and valence as ratings (dimensions: regression): the CCC and its intervals, the tables
and pictures of a rating target, and the workflow with a binned and a regression experiment."""

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from facemotion.common.scores import ccc
from facemotion.config import ConfigError
from facemotion.evaluation.class_metrics import write_confusion
from facemotion.evaluation.metrics_table import write_metrics
from facemotion.evaluation.rating_metrics import (
    ccc_summary,
    corrected_pooled_ccc,
    fold_ccc,
    fold_metrics,
    pooled_ccc_interval,
)
from facemotion.evaluation.summary import results_from_files, write_summary
from facemotion.report.plots import read_panels, write_rating_scatter
from scipy import stats
from tiny_run import copy_run, planned_jobs, snakemake, validated

# ------------------------------------------------------------------ the CCC by its formula


def test_ccc_by_the_formula():
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert ccc(y, y) == pytest.approx(1.0)
    # A constant offset c: cov = var(y), the denominator 2 var(y) + c^2; Pearson's r stays 1.
    assert ccc(y, y + 1.0) == pytest.approx(2 * 2.0 / (2 * 2.0 + 1.0))
    assert ccc(y, y + 1.0) < ccc(y, y + 0.5) < 1
    assert fold_metrics(y, y + 1.0)["pearson"] == pytest.approx(1.0)
    assert ccc(y, 6.0 - y) == pytest.approx(-1.0)  # mirrored around the same mean
    assert ccc(y, 3.0 + 0.5 * (3.0 - y)) < 0
    # By hand: y = (1, 2, 3), p = (1, 3, 2): means 2 and 2, var 2/3 each, cov 1/3 -> 2 (1/3) / (4/3).
    assert ccc([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert ccc(y, np.full(5, 3.0)) == 0.0  # a constant prediction at the mean agrees with nothing
    assert np.isnan(ccc([2.0], [2.0])) and np.isnan(ccc([3.0, 3.0], [3.0, 3.0]))
    metrics = fold_metrics([1, 2, 3], [2, 2, 5])
    assert metrics["rmse"] == pytest.approx(np.sqrt((1 + 0 + 4) / 3)) and metrics["mae"] == pytest.approx(1.0)


def _table(folds, repeats=1):
    """{fold: (ratings, predictions of repeat 0, ...)} -> a pooled predictions table."""
    rows = []
    for fold, (y, *predictions) in folds.items():
        for repeat in range(repeats):
            for i, (rating, predicted) in enumerate(zip(y, predictions[repeat])):
                rows.append({"fold": fold, "recording": f"{fold}_{i}", "speaker": f"s{fold}", "y_true": rating,
                             "y_pred": predicted, "repeat": repeat})
    return pd.DataFrame(rows)


def test_pooled_and_fold_mean_ccc_by_hand():
    # Fold "a" rates low, fold "b" high; the model gets each fold's order right but not its level.
    folds = {"a": ([1.0, 2.0, 3.0], [2.0, 2.5, 3.0]), "b": ([3.0, 4.0, 5.0], [3.0, 3.5, 4.0])}
    table = _table(folds)
    y, p = np.array([1, 2, 3, 3, 4, 5.0]), np.array([2, 2.5, 3, 3, 3.5, 4.0])
    by_hand = 2 * np.mean((y - y.mean()) * (p - p.mean())) / (y.var() + p.var() + (y.mean() - p.mean()) ** 2)
    fold_a = 2 * (1 / 3) / (2 / 3 + 1 / 6 + 0.25)  # cov 1/3, var 2/3 and 1/6, mean difference 0.5
    fold_b = 2 * (1 / 3) / (2 / 3 + 1 / 6 + 0.25)
    summary = ccc_summary(table, ["a", "b"])
    assert summary["ccc"] == pytest.approx(by_hand)
    assert summary["ccc_fold_mean"] == pytest.approx((fold_a + fold_b) / 2)
    assert summary["ccc"] != pytest.approx(summary["ccc_fold_mean"])  # the folds' levels differ
    np.testing.assert_allclose(fold_ccc(table, ["a", "b", "c"]), [fold_a, fold_b, np.nan])
    # Two repeats: each fold's value and the pooled value are the repeats' means.
    repeated = _table({"a": (*folds["a"], [1.0, 2.0, 3.0]), "b": (*folds["b"], [3.0, 4.0, 5.0])}, repeats=2)
    again = ccc_summary(repeated, ["a", "b"])
    assert again["ccc"] == pytest.approx((by_hand + 1.0) / 2)
    assert again["ccc_fold_mean"] == pytest.approx(((fold_a + 1) / 2 + (fold_b + 1) / 2) / 2)


def test_a_fold_whose_pearson_is_undefined_is_left_out_of_the_mean_as_metrics_tsv_leaves_it():
    """A repeat that predicts a constant has no Pearson's r, so its fold has none: summary.tsv's
    fold mean is over the other folds, as metrics.tsv's mean row is (it was NaN)."""
    folds = {"a": ([1.0, 2.0, 3.0], [1.5, 2.0, 3.5]), "b": ([3.0, 4.0, 5.0], [4.0, 4.0, 4.0]),
             "c": ([2.0, 3.0, 5.0], [2.5, 2.5, 4.0])}
    summary = ccc_summary(_table(folds), list(folds))
    by_fold = [fold_metrics(y, p) for y, p in folds.values()]
    assert np.isnan(by_fold[1]["pearson"])
    assert summary["pearson"] == pytest.approx((by_fold[0]["pearson"] + by_fold[2]["pearson"]) / 2)
    assert summary["rmse"] == pytest.approx(np.mean([m["rmse"] for m in by_fold]))

def test_the_pooled_interval_is_the_jackknife_over_folds_on_fishers_z_of_the_corrected_ccc():
    rng = np.random.default_rng(3)
    folds = {str(f): (y := rng.normal(3, 1, 20), y + rng.normal(0, 0.7, 20)) for f in range(5)}
    table = _table(folds)
    value, low, high, n = pooled_ccc_interval(table)
    kept = [table[table["fold"] != f] for f in folds]
    left_out = np.array([corrected_pooled_ccc(t["y_true"], t["y_pred"], t["fold"]) for t in kept])
    z = np.arctanh(left_out)
    se = np.sqrt(4 / 5 * np.sum((z - z.mean()) ** 2))
    half = stats.t.ppf(0.975, 4) * se
    centre = np.arctanh(corrected_pooled_ccc(table["y_true"], table["y_pred"], table["fold"]))
    assert n == 5 and value == pytest.approx(ccc(table["y_true"], table["y_pred"]))
    assert (low, high) == pytest.approx((np.tanh(centre - half), np.tanh(centre + half)))
    assert np.isnan(pooled_ccc_interval(table[table["fold"] == "0"])[1])  # one fold: no interval


def _draw(rng, n_folds, per_fold):
    """Folds that differ in their rating level and in how well their model does."""
    level, slope, bias = rng.normal(3, 0.35, n_folds), rng.normal(0.6, 0.15, n_folds), rng.normal(0, 0.25, n_folds)
    y = level[:, None] + rng.normal(0, 0.8, (n_folds, per_fold))
    return y, 3 + slope[:, None] * (y - 3) + bias[:, None] + rng.normal(0, 0.5, (n_folds, per_fold))


def test_the_intervals_keep_their_level_in_a_simulation_with_folds_that_differ():
    rng = np.random.default_rng(1)
    y, p = _draw(rng, 4000, 40)  # the population the folds are drawn from
    truth_pooled = ccc(y.ravel(), p.ravel())
    truth_fold_mean = np.mean([ccc(a, b) for a, b in zip(y, p)])
    hits = np.zeros(2)
    datasets, n_folds = 200, 6
    for _ in range(datasets):
        y, p = _draw(rng, n_folds, 40)
        table = pd.DataFrame({"fold": np.repeat([str(f) for f in range(n_folds)], 40),
                              "recording": [f"r{i}" for i in range(y.size)], "y_true": y.ravel(), "y_pred": p.ravel()})
        summary = ccc_summary(table, [str(f) for f in range(n_folds)])
        hits += [summary["ccc_ci_low"] <= truth_pooled <= summary["ccc_ci_high"],
                 summary["ccc_fold_mean_ci_low"] <= truth_fold_mean <= summary["ccc_fold_mean_ci_high"]]
    # 95 % intervals: 200 data sets put the coverage within about +-3 points of the truth.
    assert (0.90 <= hits / datasets).all() and (hits / datasets <= 0.99).all(), hits / datasets


# ------------------------------------------------------------------ the tables of a rating target


def _write_folds(folder: Path, target: str, folds: dict, regression: bool, train_counts=(4, 4, 4)):
    """Prediction and info files as train_fold writes them; ``folds``: {session: (y_true, y_pred)}."""
    folder.mkdir(parents=True, exist_ok=True)
    for session, (y_true, y_pred) in folds.items():
        frame = pd.DataFrame({"recording": [f"{session}_{i}" for i in range(len(y_true))], "session": session,
                              "speaker": [f"spk{session}{i % 2}" for i in range(len(y_true))], "y_true": y_true,
                              "y_pred": y_pred, "repeat": 0})
        info = {"train_class_counts": list(train_counts), "classes": ["low", "medium", "high"]}
        if regression:
            info.update(task="regression", thresholds={"low": 2.5, "high": 3.5})
        else:
            for name in ("low", "medium", "high"):
                frame.insert(5, f"p_{name}", 1 / 3)
        frame.to_csv(folder / f"fold_{session}.tsv", sep="\t", index=False, float_format="%.6f")
        (folder / f"fold_{session}.info.json").write_text(json.dumps(info))


RATINGS = {"1": ([1.0, 2.0, 3.0, 4.0, 5.0, 3.0], [1.5, 2.0, 3.2, 3.6, 4.0, 2.0]),
           "2": ([2.0, 2.0, 4.0, 5.0, 3.0, 1.0], [2.5, 3.0, 3.0, 4.5, 3.0, 2.0]),
           "3": ([1.0, 4.0, 5.0, 2.0, 3.0, 4.5], [2.0, 3.8, 4.1, 2.1, 3.3, 4.0])}


def _bins(values):
    return ["low" if v <= 2.5 else "high" if v >= 3.5 else "medium" for v in values]


def test_metrics_of_a_rating_target_beside_a_class_target(tmp_path):
    _write_folds(tmp_path / "activation", "activation", RATINGS, regression=True)
    classes = {s: (_bins(y), _bins(y)) for s, (y, _) in RATINGS.items()}  # a perfect binned model
    _write_folds(tmp_path / "valence", "valence", classes, regression=False)
    paths = {(t, s): tmp_path / t / f"fold_{s}.tsv" for t in ("valence", "activation") for s in RATINGS}
    infos = {key: Path(str(path)[:-4] + ".info.json") for key, path in paths.items()}
    metrics = write_metrics(paths, infos, tmp_path / "metrics.tsv").set_index(["target", "fold"])
    written = pd.read_csv(tmp_path / "metrics.tsv", sep="\t", dtype={"fold": str})
    assert written["target"].tolist() == ["valence"] * 5 + ["activation"] * 5  # the mapping's order
    assert list(written.columns[-5:]) == ["uar_binned", "ccc", "pearson", "rmse", "mae"]
    for session, (y, p) in RATINGS.items():
        row = metrics.loc[("activation", session)]
        assert row["ccc"] == pytest.approx(ccc(y, p)) and row["rmse"] == pytest.approx(fold_metrics(y, p)["rmse"])
        hits = [[t == q for t, q in zip(_bins(y), _bins(p))][i] for i in range(len(y))]
        recalls = [np.mean([h for h, t in zip(hits, _bins(y)) if t == c]) for c in ("low", "medium", "high")
                   if c in _bins(y)]
        assert row["uar_binned"] == pytest.approx(np.mean(recalls))
        assert np.isnan(row["uar"]) and row["chance_uar"] == pytest.approx(1 / 3)
    mean = metrics.loc[("activation", "mean")]
    assert mean["ccc"] == pytest.approx(np.mean([ccc(y, p) for y, p in RATINGS.values()]))
    assert metrics.loc[("valence", "mean"), "uar"] == 1.0 and np.isnan(metrics.loc[("valence", "mean"), "ccc"])
    # Rating targets alone: the same rows, rounded as every table.
    only = write_metrics({k: v for k, v in paths.items() if k[0] == "activation"},
                         {k: v for k, v in infos.items() if k[0] == "activation"}, tmp_path / "only.tsv")
    assert only["ccc"].tolist() == pytest.approx(metrics.loc["activation", "ccc"].tolist())
    assert "0.3333\t" in (tmp_path / "only.tsv").read_text() and "0.33333" not in (tmp_path / "only.tsv").read_text()
    # The confusion matrix of a rating target is that of its binned predictions.
    summary = write_confusion("activation", [paths[("activation", s)] for s in RATINGS], tmp_path / "c.tsv")
    assert list(summary.mean_percent.index) == ["low", "medium", "high"]
    assert summary.pooled_counts.to_numpy().sum() == 18


def _experiment(tmp_path: Path, name: str, regression: bool, shift: float = 0.0) -> dict:
    folder = tmp_path / name / "activation"
    folds = {s: (y, [v + shift for v in p]) if regression else (_bins(y), _bins([v + shift for v in p]))
             for s, (y, p) in RATINGS.items()}
    _write_folds(folder, "activation", folds, regression)
    files = {("activation", s): (str(folder / f"fold_{s}.tsv"), str(folder / f"fold_{s}.info.json")) for s in RATINGS}
    return results_from_files(files)


def test_summary_speakers_and_comparison_of_rating_and_binned_experiments(tmp_path):
    experiments = {"ratings": _experiment(tmp_path, "ratings", True),
                   "shifted": _experiment(tmp_path, "shifted", True, shift=0.4),
                   "binned": _experiment(tmp_path, "binned", False)}
    paths = [tmp_path / name for name in ("summary.tsv", "speakers.tsv", "comparison.tsv")]
    write_summary(experiments, *paths, resamples=2000, seed=0)
    summary = pd.read_csv(paths[0], sep="\t").set_index("experiment")
    everything = pd.concat([pd.DataFrame({"fold": s, "y_true": y, "y_pred": p}) for s, (y, p) in RATINGS.items()])
    row = summary.loc["ratings"]
    assert row["ccc"] == pytest.approx(ccc(everything["y_true"], everything["y_pred"]), abs=1e-4)
    assert row["ccc_fold_mean"] == pytest.approx(np.mean([ccc(y, p) for y, p in RATINGS.values()]), abs=1e-4)
    assert row["ccc_ci_low"] <= row["ccc"] <= row["ccc_ci_high"]
    assert row["ccc_fold_mean_ci_low"] <= row["ccc_fold_mean"] <= row["ccc_fold_mean_ci_high"]
    # The binned predictions of "ratings" are exactly "binned"'s: one UAR.
    assert row["uar_binned"] == pytest.approx(summary.loc["binned", "uar"], abs=1e-4)
    assert np.isnan(row["uar"]) and np.isnan(summary.loc["binned", "ccc"])
    speakers = pd.read_csv(paths[1], sep="\t", dtype={"fold": str})
    spk = speakers[(speakers["experiment"] == "ratings") & (speakers["speaker"] == "spk10")].iloc[0]
    assert spk["ccc"] == pytest.approx(ccc([1.0, 3.0, 5.0], [1.5, 3.2, 4.0]), abs=1e-4) and spk["n_test"] == 3
    comparison = pd.read_csv(paths[2], sep="\t").set_index("experiment")
    shifted = comparison.loc["shifted"]
    differences = [ccc(y, np.add(p, 0.4)) - ccc(y, p) for y, p in RATINGS.values()]
    assert shifted["delta_ccc"] == pytest.approx(np.mean(differences), abs=1e-4)
    assert shifted["delta_ccc"] < 0
    assert shifted["delta_ccc_ci_low"] <= shifted["delta_ccc"] <= shifted["delta_ccc_ci_high"]
    assert 0 <= shifted["p_value_ccc"] <= shifted["p_holm_ccc"] <= 1
    binned = comparison.loc["binned"]  # a binned experiment against a rating one: on the binned UAR only
    assert binned["delta_uar"] == pytest.approx(0.0) and np.isnan(binned["delta_ccc"])
    assert binned["n_test"] == 18


def test_a_folder_of_rating_predictions_is_summarised_as_the_workflow_summarises_it(tmp_path):
    from facemotion.evaluation.summary import read_prediction_dir, summarise_target

    workflow = _experiment(tmp_path, "ratings", True)["activation"]
    folder = read_prediction_dir(tmp_path / "ratings" / "activation", "activation")
    assert folder.thresholds == (2.5, 3.5) and folder.classes == ["low", "medium", "high"]
    assert summarise_target("x", "activation", folder, 2000, 0) == pytest.approx(
        summarise_target("x", "activation", workflow, 2000, 0), nan_ok=True)


def test_a_rating_that_is_not_a_number_is_refused_not_binned_as_high(tmp_path):
    """bin_ratings codes NaN as -1, which indexed the top bin: an empty rating counted as 'high'."""
    from facemotion.evaluation.rating_metrics import binned
    from facemotion.evaluation.summary import PredictionsError, read_prediction_dir

    _experiment(tmp_path, "ratings", True)
    path = tmp_path / "ratings" / "activation" / f"fold_{next(iter(RATINGS))}.tsv"
    frame = pd.read_csv(path, sep="\t", dtype=str)
    frame.loc[1, "y_true"] = ""
    frame.to_csv(path, sep="\t", index=False)
    with pytest.raises(PredictionsError, match=rf"{path}: line 3: y_true or y_pred is empty or not a number"):
        read_prediction_dir(path.parent, "activation")
    diverged = pd.DataFrame({"y_true": [1.0, 4.0], "y_pred": [np.nan, 4.0]})
    with pytest.raises(ValueError, match="1 rating"):
        binned(diverged, "activation", 2.5, 3.5)

def test_the_scatter_shows_each_folds_ccc(tmp_path):
    _write_folds(tmp_path / "activation", "activation", RATINGS, regression=True)
    write_rating_scatter([tmp_path / "activation" / f"fold_{s}.tsv" for s in RATINGS], "activation",
                         tmp_path / "scatter.png", 50)
    panels = read_panels(tmp_path / "scatter.png")
    assert [p["fold"] for p in panels] == list(RATINGS)
    for panel, (y, p) in zip(panels, RATINGS.values()):
        assert panel["ccc"] == pytest.approx(ccc(y, p)) and panel["n_test"] == len(y)


# ------------------------------------------------------------------ configuration


def test_dimensions_is_validated_at_the_top_level_and_in_experiments(tmp_path):
    config = {"corpus": {"path": str(tmp_path / "demo")}, "dimensions": "regression",
              "experiments": {"binned": {"dimensions": "binned"}, "ratings": {}}}
    validated(config, tmp_path)
    assert config["dimensions"] == "regression"
    default = {"corpus": {"path": str(tmp_path / "demo")}}
    assert validated(default, tmp_path)["dimensions"] == "binned"
    with pytest.raises(ConfigError, match=r"experiments\.bad\.dimensions: got 'continuous'; allowed: one of "
                                          r"'binned', 'regression'"):
        validated({"corpus": {"path": str(tmp_path / "demo")},
                         "experiments": {"bad": {"dimensions": "continuous"}}}, tmp_path)
    shipped = yaml.safe_load((Path(__file__).resolve().parents[1] / "config/config.yaml").read_text())
    assert shipped["dimensions"] == "binned"


def test_the_rating_calibration_is_validated_and_defaults_to_the_training_rows(tmp_path):
    corpus = {"path": str(tmp_path / "demo")}
    assert validated({"corpus": corpus}, tmp_path)["training"]["rating_calibration"] == "training"
    with pytest.raises(ConfigError, match=r"training\.rating_calibration: got 'validation'; allowed: one of "
                                          r"'none', 'training'"):
        validated({"corpus": corpus, "training": {"rating_calibration": "validation"}}, tmp_path)


# ------------------------------------------------------------------ training, the final model and prediction


def test_a_rating_fold_trains_a_linear_output_and_its_final_model_predicts_a_rating_and_its_bin(tmp_path):
    from facemotion.learning.fitting import train_final, train_fold
    from facemotion.learning.model import save_model
    from facemotion.prediction.predict import load_final_models, predict_rating
    from test_training import FAST, make_data

    meta, _, geometry = make_data()
    params = {**FAST, "dimensions": "regression", "rating_calibration": "training"}
    model, predictions, info = train_fold(meta, geometry, "valence", "4", params)
    assert model.output_shape == (None, 1)
    assert model.layers[-1].get_layer("rating").get_config()["activation"] == "linear"
    assert list(predictions.columns) == ["recording", "session", "speaker", "y_true", "y_pred", "repeat"]
    test = meta[meta.session == "4"]
    np.testing.assert_array_equal(predictions["y_true"], test["valence"])
    assert predictions["y_pred"].dtype == float and predictions["y_pred"].notna().all()
    assert info["task"] == "regression" and info["thresholds"] == {"low": 2.5, "high": 3.5}
    assert {"val_ccc", "val_rmse", "loss"} <= set(info["history"][0]) and info["loss"] == "mean_squared_error"
    best = max(info["history"], key=lambda h: (h["val_ccc"], -h["val_rmse"]))
    assert info["best_epoch"] == best["epoch"]  # the epoch of the validation session's best CCC
    metadata = info["model_metadata"]
    assert metadata["task"] == "regression" and metadata["params"]["dimensions"] == "regression"
    assert metadata["output_scaling"] == info["output_scaling"]
    # The label stays a class under dimensions: regression.
    _, label_predictions, label_info = train_fold(meta, geometry, "label", "4", {**params, "epochs": 1})
    assert "task" not in label_info and "p_Angry" in label_predictions

    final, final_info = train_final(meta, geometry, "valence", params, [info],
                                    {"features": "landmarks", "n_frames": geometry.shape[1]})
    assert final_info["epochs_run"] == info["best_epoch"] and final.output_shape == (None, 1)
    save_model(final, tmp_path / "final" / "valence" / "model.keras", final_info["model_metadata"])
    loaded, loaded_metadata = load_final_models(tmp_path / "final")["valence"]
    row = predict_rating(loaded, geometry[:1], loaded_metadata, "valence")
    z = final.predict_on_batch(geometry[:1])[0, 0]
    scaling, outputs = (final_info["model_metadata"][key] for key in ("target_scaling", "output_scaling"))
    assert row["valence"] == pytest.approx((z - outputs["mean"]) / outputs["std"] * scaling["std"] + scaling["mean"],
                                           rel=1e-5)
    assert row["valence_bin"] == _bins([row["valence"]])[0].replace("low", "negative").replace(
        "medium", "neutral").replace("high", "positive")
    assert predict_rating(loaded, None, loaded_metadata, "valence")["valence_bin"] == ""


def test_the_calibration_gives_the_training_rows_predictions_the_spread_of_their_ratings():
    from facemotion.learning.fitting import train_fold
    from facemotion.learning.model import predict_ratings
    from test_training import FAST, make_data

    meta, _, geometry = make_data()
    params = {**FAST, "dimensions": "regression", "epochs": 1}
    model, predictions, info = train_fold(meta, geometry, "valence", "4", {**params, "rating_calibration": "training"})
    train = np.flatnonzero(meta.session.isin(info["train_sessions"]))
    scaling, outputs = info["target_scaling"], info["output_scaling"]
    on_training = predict_ratings(model, geometry, train, scaling, output_scaling=outputs)
    assert on_training.mean() == pytest.approx(meta.valence.iloc[train].mean())
    assert on_training.std() == pytest.approx(meta.valence.iloc[train].std(ddof=0))
    test = np.flatnonzero(meta.session == "4")
    np.testing.assert_allclose(predictions["y_pred"], predict_ratings(model, geometry, test, scaling,
                                                                      output_scaling=outputs), rtol=1e-5)

    # Off: the same model (the calibration is applied after training), its outputs as they are.
    plain, plain_predictions, plain_info = train_fold(meta, geometry, "valence", "4",
                                                      {**params, "rating_calibration": "none"})
    assert "output_scaling" not in plain_info and "output_scaling" not in plain_info["model_metadata"]
    for w1, w2 in zip(model.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(w1, w2)
    z = (plain_predictions["y_pred"] - scaling["mean"]) / scaling["std"]
    np.testing.assert_allclose((z - outputs["mean"]) / outputs["std"] * scaling["std"] + scaling["mean"],
                               predictions["y_pred"], rtol=1e-6)


# ------------------------------------------------------------------ the workflow: a rating and a binned experiment

TINY = {
    "demo": {"recordings": 30, "seed": 1},
    "targets": ["label", "activation"],
    "extraction": {"n_frames": 4, "face_size": 24, "recordings_per_job": 8},
    "training": {"epochs": 2, "batch_size": 8, "threads": 1},
    # The rating experiment first: the training curves and the front page are drawn for it.
    "experiments": {"ratings": {"dimensions": "regression"}, "binned": {"targets": ["activation"]}},
    "cv": {"test_sessions": ["1", "2", "3"]},  # three folds; the other sessions still train
}


def _snakemake(workdir: Path, *args: str) -> str:
    result = snakemake(workdir, *args, timeout=1200)
    return result.stdout + result.stderr


@pytest.mark.slow
def test_a_workflow_with_a_rating_and_a_binned_experiment(extracted, tmp_path):
    """From a copy of the shared tiny run's extraction (same corpus and extraction settings): only
    the two experiments' trainings, evaluation and plots run."""
    tmp_path = copy_run(extracted, tmp_path / "ratings")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(TINY, sort_keys=False))
    _snakemake(tmp_path, "--configfile", str(config))
    results = tmp_path / "results"
    sessions = TINY["cv"]["test_sessions"]  # the folds
    rated = pd.read_csv(results / "experiments/ratings/predictions/activation/fold_1.tsv", sep="\t")
    assert list(rated.columns) == ["recording", "session", "speaker", "y_true", "y_pred", "repeat"]
    assert rated["y_true"].dtype == float and rated["y_pred"].dtype == float
    metrics = pd.read_csv(results / "experiments/ratings/metrics.tsv", sep="\t", dtype={"fold": str})
    activation = metrics[metrics["target"] == "activation"].set_index("fold")
    assert list(activation.index) == sessions + ["mean", "std"]
    assert activation[["ccc", "pearson", "rmse", "mae", "uar_binned"]].loc[sessions].notna().all().all()
    assert metrics.loc[metrics["target"] == "label", "uar"].notna().all()  # the label stays a class
    binned_metrics = pd.read_csv(results / "experiments/binned/metrics.tsv", sep="\t")
    assert "ccc" not in binned_metrics  # a binned experiment's table is as before

    summary = pd.read_csv(results / "summary.tsv", sep="\t").set_index(["experiment", "target"])
    row = summary.loc[("ratings", "activation")]
    assert row["ccc_ci_low"] <= row["ccc"] <= row["ccc_ci_high"]
    assert row["ccc_fold_mean"] == pytest.approx(activation.loc["mean", "ccc"], abs=1e-4)
    assert row["uar_binned"] == pytest.approx(activation.loc["mean", "uar_binned"], abs=1e-4)
    comparison = pd.read_csv(results / "comparison.tsv", sep="\t")
    assert comparison[["experiment", "reference", "target"]].values.tolist() == [["binned", "ratings", "activation"]]
    assert np.isfinite(comparison["delta_uar"].iloc[0])  # on the binned UAR
    speakers = pd.read_csv(results / "speakers.tsv", sep="\t")
    rated_speakers = speakers[(speakers["experiment"] == "ratings") & (speakers["target"] == "activation")]
    assert rated_speakers["ccc"].notna().any()

    panels = read_panels(results / "experiments/ratings/plots/scatter_activation.png")
    assert [p["fold"] for p in panels] == sessions
    assert panels[0]["ccc"] == pytest.approx(activation.loc[sessions[0], "ccc"], abs=1e-4)
    assert not (results / "experiments/binned/plots/scatter_activation.png").exists()
    assert (results / "experiments/ratings/plots/confusion_activation.png").stat().st_size > 1000
    info = json.loads((results / "experiments/ratings/predictions/activation/fold_1.info.json").read_text())
    curves = read_panels(results / "plots/training_activation.png")
    assert curves[0]["chosen_epoch"] == info["best_epoch"] and "val_ccc" in info["history"][0]
    front_page = (results / "report/front_page.rst").read_text()
    assert "CCC, folds' mean (95 % CI)" in front_page and "Activation" in front_page

    # Final models and predict: the predicted rating and its bin.
    manifest = pd.read_csv(results / "manifest.tsv", sep="\t", dtype=str)
    report = pd.read_csv(results / "extraction/report.tsv", sep="\t", dtype=str)
    faces = manifest[manifest["recording"].isin(report.loc[report["status"] == "ok", "recording"])].head(2)
    pd.DataFrame({"recording": faces["recording"], "path": [str(tmp_path / p) for p in faces["path"]]}).to_csv(
        tmp_path / "to_predict.tsv", sep="\t", index=False)
    config.write_text(yaml.safe_dump({**TINY, "predict": {"recordings": "to_predict.tsv"}}, sort_keys=False))
    _snakemake(tmp_path, "predict", "--configfile", str(config))
    predicted = pd.read_csv(results / "predict/predictions.tsv", sep="\t", keep_default_na=False)
    assert predicted["activation"].astype(float).between(0, 6).all()
    assert set(predicted["activation_bin"]) <= {"low", "medium", "high"}
    assert set(predicted["label"]) <= {"Angry", "Happy", "Neutral", "Sad"}

    # What reruns: the binned experiment's activation turned into ratings retrains just that.
    changed = json.loads(json.dumps(TINY))
    changed["experiments"]["binned"]["dimensions"] = "regression"
    config.write_text(yaml.safe_dump(changed, sort_keys=False))
    jobs = planned_jobs(tmp_path, "--configfile", str(config))
    assert jobs["train_fold"] == len(sessions) and "extract_batch" not in jobs and "plot_training" not in jobs
    assert jobs["rating_scatter"] == 1
    # The calibration is read by rating targets only: the label's and the binned experiment's folds stay.
    changed = json.loads(json.dumps(TINY))
    changed["training"]["rating_calibration"] = "none"
    config.write_text(yaml.safe_dump(changed, sort_keys=False))
    assert planned_jobs(tmp_path, "--configfile", str(config))["train_fold"] == len(sessions)


def test_a_fold_with_one_rated_recording_logs_no_interval_instead_of_nan(tmp_path, caplog):
    """Two folds, one of them with a single rated recording: its CCC is undefined, so the folds give
    no interval; the log says so in words rather than "95% CI nan-nan"."""
    folds = {"1": RATINGS["1"], "2": ([4.0], [3.5])}
    folder = tmp_path / "ratings" / "activation"
    _write_folds(folder, "activation", folds, regression=True)
    files = {("activation", s): (str(folder / f"fold_{s}.tsv"), str(folder / f"fold_{s}.info.json")) for s in folds}
    paths = [tmp_path / name for name in ("summary.tsv", "speakers.tsv", "comparison.tsv")]
    with caplog.at_level(logging.INFO):
        write_summary({"ratings": results_from_files(files)}, *paths, resamples=200, seed=0)
    said = " ".join(record.getMessage() for record in caplog.records if "(ratings)" in record.getMessage())
    assert "no interval" in said and "nan" not in said


def test_the_folds_mean_ccc_interval_stays_within_minus_one_and_one():
    """Issue 34, item 3: three folds of near-perfect predictions, one a little worse: the t-interval
    would reach past 1 (the review's 0.824-1.085); a CCC cannot."""
    rng = np.random.default_rng(0)
    folds = {}
    for fold, noise in (("1", 0.02), ("2", 0.02), ("3", 0.6)):
        y = rng.normal(3, 1, 30)
        folds[fold] = (y, y + rng.normal(0, noise, 30))
    summary = ccc_summary(_table(folds), list(folds))
    assert summary["ccc_fold_mean_ci_high"] == 1.0 and -1.0 <= summary["ccc_fold_mean_ci_low"] < 1.0
