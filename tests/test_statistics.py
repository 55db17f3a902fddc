import numpy as np
import pandas as pd
import pytest
from facemotion.evaluation import fold_metrics
from facemotion.statistics import (
    bootstrap_summary,
    bootstrap_weights,
    fold_means,
    metrics_from_counts,
    paired_comparison,
    permutation_p_chance,
    units_from_predictions,
)
from scipy import stats

XY = ["X", "Y"]


def _table(rows):
    return pd.DataFrame(rows, columns=["fold", "speaker", "y_true", "y_pred"])


# One fold, two speakers: A gets both recordings right, B only its Y.
HAND = _table([("1", "A", "X", "X"), ("1", "A", "Y", "Y"), ("1", "B", "X", "Y"), ("1", "B", "Y", "Y")])


def test_metrics_from_counts_match_the_fold_metrics():
    rng = np.random.default_rng(3)
    classes = ["a", "b", "c", "d"]
    for _ in range(20):
        y_true = rng.choice(classes[:3], size=30)  # one class never true: it may still be predicted
        y_pred = rng.choice(classes, size=30)
        units = units_from_predictions(_table({"fold": "1", "speaker": "s", "y_true": y_true, "y_pred": y_pred}),
                                       classes, ["1"])
        ours = metrics_from_counts(units.counts[0])
        expected = fold_metrics(y_true, y_pred, classes)
        for name in ("accuracy", "uar", "f1_macro"):
            assert ours[name] == pytest.approx(expected[name])


def test_bootstrap_by_hand():
    units = units_from_predictions(HAND, XY, ["1"])
    assert units.speakers == ["A", "B"]
    # Drawing A twice, B twice, or each once: UAR 1, 1/2 (X never recalled), 3/4 (X half, Y all).
    resampled = fold_means(np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]]), units)
    assert resampled["uar"].tolist() == [1.0, 0.5, 0.75]
    assert resampled["accuracy"].tolist() == [1.0, 0.5, 0.75]
    # Each draw is AA, BB with probability 1/4 and AB with 1/2, so the interval spans 1/2 to 1.
    weights = bootstrap_weights(units.folds, 4000, np.random.default_rng(0))
    assert set(map(tuple, weights)) == {(2.0, 0.0), (0.0, 2.0), (1.0, 1.0)}
    assert np.mean(weights[:, 0] == 2) == pytest.approx(0.25, abs=0.03)
    summary = bootstrap_summary(units, 2000, seed=0)
    assert (summary["uar"], summary["uar_ci_low"], summary["uar_ci_high"]) == (0.75, 0.5, 1.0)


def test_bootstrap_resamples_within_folds_and_averages_the_folds():
    # A second fold with one speaker: it is always drawn, so it shifts every resample alike.
    two_folds = pd.concat([HAND, _table([("2", "C", "X", "Y"), ("2", "C", "Y", "X")])])
    units = units_from_predictions(two_folds, XY, ["1", "2", "3"])  # fold 3 has no test recordings
    weights = bootstrap_weights(units.folds, 500, np.random.default_rng(1))
    assert (weights[:, :2].sum(axis=1) == 2).all() and (weights[:, 2] == 1).all()
    summary = bootstrap_summary(units, 2000, seed=0)
    assert (summary["uar"], summary["uar_ci_low"], summary["uar_ci_high"]) == (0.375, 0.25, 0.5)


def test_bootstrap_is_deterministic_for_a_seed():
    units = units_from_predictions(HAND, XY, ["1"])
    assert bootstrap_summary(units, 2000, seed=5) == bootstrap_summary(units, 2000, seed=5)


def _simulated(rng, skills, n_classes=3, per_speaker=20, folds=6):
    """Predictions of speakers with the given chance of being right (else a wrong class at random)."""
    speaker = np.repeat(np.arange(len(skills)), per_speaker)
    true = rng.integers(0, n_classes, len(speaker))
    wrong = (true + rng.integers(1, n_classes, len(speaker))) % n_classes
    predicted = np.where(rng.random(len(speaker)) < np.asarray(skills)[speaker], true, wrong)
    return pd.DataFrame({"fold": (speaker % folds).astype(str), "speaker": np.char.add("s", speaker.astype(str)),
                         "y_true": true.astype(str), "y_pred": predicted.astype(str)})


def test_intervals_cover_the_true_uar_about_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    classes = ["0", "1", "2"]
    covered = []
    for trial in range(200):
        skills = rng.beta(6, 4, size=36)  # 36 speakers, 6 per fold, mean chance of being right 0.6
        units = units_from_predictions(_simulated(rng, skills), classes, [str(f) for f in range(6)])
        summary = bootstrap_summary(units, 1000, seed=trial)
        covered.append(summary["uar_ci_low"] <= 0.6 <= summary["uar_ci_high"])
    assert 0.85 <= np.mean(covered) <= 0.99


def test_p_values_against_chance_are_uniform_when_predictions_ignore_the_labels():
    rng = np.random.default_rng(11)
    p_values = []
    for trial in range(300):
        true, predicted = rng.integers(0, 4, 240), rng.integers(0, 4, 240)
        p_values.append(permutation_p_chance(true, predicted, np.arange(240) % 6, 4, 199, seed=trial))
    p_values = np.array(p_values)
    assert 0.01 <= np.mean(p_values <= 0.05) <= 0.10
    assert stats.kstest(p_values, "uniform").pvalue > 0.001


def test_p_value_against_chance_is_small_for_a_good_model():
    rng = np.random.default_rng(2)
    true = rng.integers(0, 4, 240)
    predicted = np.where(rng.random(240) < 0.5, true, rng.integers(0, 4, 240))
    assert permutation_p_chance(true, predicted, np.arange(240) % 6, 4, 2000, seed=0) == 1 / 2001


def test_paired_p_values_are_uniform_when_two_systems_are_equally_good():
    rng = np.random.default_rng(13)
    classes = ["0", "1", "2"]
    p_values, covered = [], []
    for trial in range(200):
        data = _simulated(rng, np.full(36, 0.6))
        # A second system right as often (0.6), on other draws: the two are exchangeable.
        true = data["y_true"].astype(int).to_numpy()
        wrong = (true + rng.integers(1, 3, len(true))) % 3
        data_b = data.assign(y_pred=np.where(rng.random(len(true)) < 0.6, true, wrong).astype(str))
        folds = [str(f) for f in range(6)]
        result = paired_comparison(units_from_predictions(data, classes, folds),
                                   units_from_predictions(data_b, classes, folds), 499, seed=trial)
        p_values.append(result["p_value"])
        covered.append(result["delta_ci_low"] <= 0 <= result["delta_ci_high"])
    p_values = np.array(p_values)
    assert 0.01 <= np.mean(p_values <= 0.05) <= 0.10
    assert stats.kstest(p_values, "uniform").pvalue > 0.001
    assert 0.85 <= np.mean(covered) <= 0.99


def test_a_clearly_better_system_has_a_positive_difference_and_a_small_p_value():
    rng = np.random.default_rng(4)
    classes = ["0", "1", "2"]
    folds = [str(f) for f in range(6)]
    weak = _simulated(rng, np.full(36, 0.4))
    strong = weak.assign(y_pred=np.where(rng.random(len(weak)) < 0.5, weak["y_true"], weak["y_pred"]))
    result = paired_comparison(units_from_predictions(weak, classes, folds),
                               units_from_predictions(strong, classes, folds), 2000, seed=0)
    assert result["delta_uar"] > 0.2 and result["delta_ci_low"] > 0.1
    assert result["p_value"] < 0.01


def test_a_target_without_test_recordings_gives_empty_values_not_an_error():
    units = units_from_predictions(_table([]), XY, ["1", "2"])
    assert np.isnan(list(bootstrap_summary(units, 2000, seed=0).values())).all()
    assert np.isnan(permutation_p_chance(np.array([], int), np.array([], int), np.array([], int), 2, 100, seed=0))
    assert np.isnan(list(paired_comparison(units, units, 100, seed=0).values())).all()
