import numpy as np
import pandas as pd
import pytest
from facemotion.common.targets import bin_ratings, encode_target, target_classes
from facemotion.learning.folds import sorted_sessions, split_fold, validation_session

CLASSES = ["Angry", "Happy", "Neutral", "Sad"]


def test_target_classes():
    assert target_classes("label", CLASSES) == CLASSES
    assert target_classes("activation", CLASSES) == ["low", "medium", "high"]
    assert target_classes("valence") == ["negative", "neutral", "positive"]
    with pytest.raises(ValueError):
        target_classes("arousal")


def test_binning_at_the_thresholds():
    ratings = [1.0, 2.5, 2.5000001, 3.0, 3.4999999, 3.5, 5.0, np.nan]
    assert bin_ratings(ratings).tolist() == [0, 0, 1, 1, 1, 2, 2, -1]
    assert bin_ratings([2.0, 2.1, 4.0], low=2.0, high=4.0).tolist() == [0, 1, 2]
    with pytest.raises(ValueError):
        bin_ratings([3.0], low=3.5, high=2.5)


def test_nan_rating_leaves_out_only_that_target():
    meta = pd.DataFrame(
        {
            "label": ["Angry", "Other", "Sad", None],
            "activation": [np.nan, 2.5, 3.5, 3.0],
            "valence": [1.0, np.nan, 3.0, 4.0],
        }
    )
    mask, y = encode_target(meta, "activation")
    assert mask.tolist() == [False, True, True, True]
    assert y.tolist() == [0, 2, 1]
    mask, y = encode_target(meta, "valence")
    assert mask.tolist() == [True, False, True, True]
    assert y.tolist() == [0, 1, 2]
    # Labels outside the configured classes (and missing labels) are excluded.
    mask, y = encode_target(meta, "label", CLASSES)
    assert mask.tolist() == [True, False, True, False]
    assert y.tolist() == [0, 3]
    mask, y = encode_target(meta, "label", ["Sad", "Angry"])
    assert y.tolist() == [1, 0]


def _folds_data(n_sessions=4, per_session=10):
    sessions = np.repeat([str(s + 1) for s in range(n_sessions)], per_session)
    y = np.tile(np.arange(per_session) % 3, n_sessions)
    return sessions, y


@pytest.mark.parametrize("protocol", ["loso", "seed"])
def test_folds_never_share_sessions_or_rows(protocol):
    sessions, y = _folds_data()
    for test_session in sorted_sessions(sessions):
        split = split_fold(sessions, y, test_session, protocol, seed=3)
        assert set(sessions[split.train]).isdisjoint(sessions[split.test])
        assert set(sessions[split.test]) == {test_session}
        parts = [split.train, split.val, split.test]
        assert sum(len(p) for p in parts) == len(sessions)
        assert len(np.unique(np.concatenate(parts))) == len(sessions)
        if protocol == "loso":
            assert set(sessions[split.train]).isdisjoint(sessions[split.val])


def test_loso_uses_the_next_session_for_validation_cyclically():
    sessions, y = _folds_data()
    split = split_fold(sessions, y, "2", "loso")
    assert split.val_session == "3"
    assert set(sessions[split.val]) == {"3"}
    assert set(sessions[split.train]) == {"1", "4"}
    assert len(split.test) == 10  # the whole held-out session is reported
    assert split_fold(sessions, y, "4", "loso").val_session == "1"


def test_loso_with_two_sessions_has_no_validation():
    sessions, y = _folds_data(n_sessions=2)
    split = split_fold(sessions, y, "1", "loso")
    assert split.val_session is None and len(split.val) == 0
    assert set(sessions[split.train]) == {"2"}


def test_seed_protocol_halves_the_held_out_session_stratified_and_reproducibly():
    sessions, y = _folds_data(per_session=40)
    split = split_fold(sessions, y, "3", "seed", seed=7)
    assert set(sessions[split.train]) == {"1", "2", "4"}
    assert set(sessions[split.val]) == set(sessions[split.test]) == {"3"}
    assert len(split.val) == len(split.test) == 20
    val_counts = np.bincount(y[split.val], minlength=3)
    test_counts = np.bincount(y[split.test], minlength=3)
    assert np.abs(val_counts - test_counts).max() <= 1
    again = split_fold(sessions, y, "3", "seed", seed=7)
    assert np.array_equal(again.test, split.test)


def test_session_order_is_natural_and_errors_are_clear():
    assert sorted_sessions(["10", "2", "1", "2"]) == ["1", "2", "10"]
    assert validation_session(["1", "2", "10"], "2") == "10"
    sessions, y = _folds_data()
    with pytest.raises(ValueError):
        split_fold(sessions, y, "9", "loso")
    with pytest.raises(ValueError):
        split_fold(sessions, y, "1", "kfold")
    with pytest.raises(ValueError):
        split_fold(["1", "1"], [0, 1], "1", "loso")


def test_the_seed_protocols_halves_of_a_manifest_do_not_depend_on_its_row_order():
    """The workflow counts the test halves at start from the manifest it built, and each fold draws
    them from results/manifest.tsv: the same halves, half of each session, stratified by label."""
    from facemotion.learning.folds import manifest_test_halves

    manifest = pd.DataFrame({"recording": [f"r{i}" for i in range(60)], "session": np.repeat(["1", "2", "10"], 20),
                             "label": np.tile(["Angry", "Happy", "Sad", "Neutral", ""], 12)})
    halves = manifest_test_halves(manifest, 4)
    assert manifest_test_halves(manifest.sample(frac=1, random_state=1), 4) == halves
    assert manifest_test_halves(manifest, 5) != halves
    tested = manifest[manifest.recording.isin(halves)]
    assert tested.groupby("session").size().tolist() == [10, 10, 10]
    assert (tested.groupby(["session", "label"]).size() == 2).all()
