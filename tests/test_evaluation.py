import json

import numpy as np
import pandas as pd
import pytest
from facemotion.evaluation.class_metrics import (
    aggregate,
    average_confusion,
    confusion_counts,
    confusion_summary,
    confusion_title,
    fold_metrics,
    majority_baseline,
    row_percent,
)
from facemotion.evaluation.metrics_table import benchmark_folds, write_benchmark_folds, write_metrics
from facemotion.evaluation.predictions import fold_files

ABC = ["A", "B", "C"]
Y_TRUE = ["A", "A", "A", "B", "B", "C"]
Y_PRED = ["A", "A", "B", "B", "C", "C"]


def _frame(y_true, y_pred, classes=ABC):
    frame = pd.DataFrame({"y_true": y_true, "y_pred": y_pred})
    for c in classes:
        frame[f"p_{c}"] = 1.0 / len(classes)
    return frame


def test_metrics_against_a_hand_computed_confusion_matrix():
    assert confusion_counts(Y_TRUE, Y_PRED, ABC).tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    m = fold_metrics(Y_TRUE, Y_PRED, ABC)
    assert m["n_test"] == 6
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["uar"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    f1 = {"A": 0.8, "B": 0.5, "C": 2 / 3}  # 2PR/(P+R) per class, by hand
    assert m["f1_macro"] == pytest.approx(np.mean(list(f1.values())))
    assert m["f1_weighted"] == pytest.approx((3 * f1["A"] + 2 * f1["B"] + 1 * f1["C"]) / 6)


def test_macro_f1_averages_the_classes_present_as_the_uar_does():
    """The same hits and misses give the same macro F1 whichever absent class a miss lands on
    (issue 34, D5: sklearn's default gave 0.556 or 0.733)."""
    classes = ["A", "B", "C", "D"]
    y_true = ["A", "A", "B", "B", "C", "C"]
    on_absent = fold_metrics(y_true, ["A", "D", "B", "B", "C", "C"], classes)
    on_present = fold_metrics(y_true, ["A", "C", "B", "B", "C", "C"], classes)
    f1 = {"A": 2 / 3, "B": 1.0}  # by hand; C is 1.0 when the miss lands on D, 0.8 on C
    assert on_absent["f1_macro"] == pytest.approx((f1["A"] + f1["B"] + 1.0) / 3)
    assert on_present["f1_macro"] == pytest.approx((f1["A"] + f1["B"] + 0.8) / 3)
    assert on_absent["uar"] == on_present["uar"]


def test_row_normalisation_marks_absent_classes_nan_and_averaging_skips_them():
    fold1 = row_percent([[2, 2, 0], [0, 0, 0], [1, 0, 3]])  # no true B in this fold
    assert np.isnan(fold1[1]).all()
    assert fold1[0].tolist() == [50.0, 50.0, 0.0]
    fold2 = row_percent([[4, 0, 0], [1, 3, 0], [0, 0, 2]])
    mean = average_confusion([fold1, fold2])
    assert mean[0].tolist() == [75.0, 25.0, 0.0]
    assert mean[1].tolist() == [25.0, 75.0, 0.0]  # from fold 2 alone
    assert mean[2].tolist() == pytest.approx([12.5, 0.0, 87.5])
    assert np.isnan(average_confusion([fold1, fold1])[1]).all()


def test_confusion_summary_pools_counts_and_matches_fold_uar():
    folds = {"1": _frame(Y_TRUE, Y_PRED), "2": _frame(["A", "B", "C"], ["A", "A", "C"])}
    summary = confusion_summary(folds)
    assert summary.pooled_counts.to_numpy().tolist() == [[3, 1, 0], [1, 1, 1], [0, 0, 2]]
    assert list(summary.mean_percent.index) == ABC
    fold_uars = [fold_metrics(f.y_true, f.y_pred, ABC)["uar"] for f in folds.values()]
    assert summary.uar == pytest.approx(100 * np.mean(fold_uars))
    assert summary.diagonal_mean == pytest.approx(summary.uar)  # every fold tests every class


def test_the_heatmap_title_gives_the_tables_uar_where_a_fold_lacks_a_class():
    """Issue 34, D6: with class B absent from fold 1's test set the averaged matrix's diagonal
    (the seed's figure) is not the UAR the tables report; the title gives the latter first."""
    folds = {"1": _frame(["A", "A", "C", "C"], ["A", "B", "C", "C"]), "2": _frame(["A", "B", "C"], ["A", "A", "C"])}
    summary = confusion_summary(folds)
    fold_uars = [fold_metrics(f.y_true, f.y_pred, ABC)["uar"] for f in folds.values()]
    assert summary.uar == pytest.approx(100 * np.mean(fold_uars))  # (75 + 66.7) / 2
    assert summary.diagonal_mean == pytest.approx((75 + 0 + 100) / 3)
    title = confusion_title("label", summary)
    assert title.startswith(f"Emotion: UAR {summary.uar:.1f}%") and f"{summary.diagonal_mean:.1f}%" in title


def test_majority_baseline_uses_training_counts():
    base = majority_baseline([1, 5, 2], Y_TRUE, ABC)
    assert base["majority_class"] == "B"
    assert base["majority_accuracy"] == pytest.approx(2 / 6)
    assert base["majority_uar"] == pytest.approx(1 / 3)
    assert majority_baseline({"C": 9}, Y_TRUE, ABC)["majority_class"] == "C"


def test_aggregate_has_fold_mean_and_std_rows_per_target():
    predictions = {
        ("label", "1"): _frame(Y_TRUE, Y_PRED),
        ("label", "2"): _frame(["A", "B"], ["A", "B"]),
        ("valence", "1"): _frame(["A", "C"], ["C", "C"]),
    }
    table = aggregate(predictions, train_counts={("label", "1"): [5, 1, 1]})
    assert list(table.columns[:7]) == [
        "target", "fold", "n_test", "accuracy", "uar", "f1_macro", "f1_weighted"
    ]
    assert {"chance_uar", "majority_accuracy", "majority_uar"} <= set(table.columns)
    label = table[table.target == "label"].set_index("fold")
    assert list(label.index) == ["1", "2", "mean", "std"]
    assert label.loc["mean", "accuracy"] == pytest.approx((4 / 6 + 1) / 2)
    assert label.loc["std", "accuracy"] == pytest.approx(np.std([4 / 6, 1], ddof=1))
    assert label.loc["1", "majority_accuracy"] == pytest.approx(0.5)
    assert np.isnan(label.loc["2", "majority_accuracy"])
    assert label.loc["1", "chance_uar"] == pytest.approx(1 / 3)
    assert table[table.target == "valence"].fold.tolist() == ["1", "mean", "std"]


def test_a_skipped_fold_is_listed_with_its_reason_and_left_out_of_the_mean():
    predictions = {
        ("label", "1"): _frame(Y_TRUE, Y_PRED),
        ("label", "2"): _frame(["A", "B"], ["A", "B"]),
        ("label", "3"): _frame([], []),
    }
    reason = "no recording of session 3 has enough face frames"
    table = aggregate(predictions, skipped={("label", "3"): reason}).set_index("fold")
    assert table.loc["3", "n_test"] == 0 and table.loc["3", "skipped"] == reason
    assert table.loc["1", "skipped"] == "" and table.loc["mean", "skipped"] == ""
    assert table.loc["mean", "n_test"] == pytest.approx(4)  # (6 + 2) / 2: the skipped fold is not averaged
    assert table.loc["mean", "accuracy"] == pytest.approx((4 / 6 + 1) / 2)


def test_fold_files_are_keyed_by_their_target_folder_and_session():
    files = fold_files(["r/predictions/valence/fold_Ses01.a.tsv", "r/predictions/label/fold_10.info.json"])
    assert files == {("valence", "Ses01.a"): "r/predictions/valence/fold_Ses01.a.tsv",
                     ("label", "10"): "r/predictions/label/fold_10.info.json"}
    for bad in ("r/label/10.tsv", "r/label/fold_1.csv", "r/label/fold_.tsv"):
        with pytest.raises(ValueError, match="not a fold file"):
            fold_files([bad])
    with pytest.raises(ValueError, match="two files for target 'label', session '1'"):
        fold_files(["a/label/fold_1.tsv", "b/label/fold_1.tsv"])


def _write_folds(folder, folds):
    """{(target, session): (y_true, y_pred, train counts)} as rule train_fold names and writes them."""
    predictions, infos = [], []
    for (target, session), (y_true, y_pred, counts) in folds.items():
        (folder / target).mkdir(parents=True, exist_ok=True)
        frame = _frame(y_true, y_pred).assign(session=session)
        predictions.append(folder / target / f"fold_{session}.tsv")
        frame.to_csv(predictions[-1], sep="\t", index=False)
        infos.append(folder / target / f"fold_{session}.info.json")
        infos[-1].write_text(json.dumps({"train_class_counts": counts, "classes": ABC}))
    return predictions, infos


def test_metrics_rows_are_keyed_by_the_files_not_by_their_order(tmp_path):
    predictions, infos = _write_folds(tmp_path / "predictions", {
        ("label", "1"): (Y_TRUE, Y_PRED, [1, 5, 2]),
        ("label", "2"): (["A", "B"], ["A", "A"], [1, 1, 9]),
        ("valence", "1"): (["A", "C", "C"], ["C", "C", "C"], [1, 1, 9]),
    })
    in_order = tmp_path / "in_order.tsv"
    write_metrics(fold_files(predictions), fold_files(infos), in_order)
    table = pd.read_csv(in_order, sep="\t", dtype={"fold": str}).set_index(["target", "fold"])
    assert table.loc[("label", "1"), "n_test"] == 6 and table.loc[("label", "2"), "n_test"] == 2
    assert table.loc[("label", "2"), "majority_accuracy"] == 0  # C, from its own counts (fold 1's: B, 0.5)
    assert table.loc[("valence", "1"), "accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    # Two sessions' files swapped in the lists, predictions and infos in different orders: the same table.
    swapped = tmp_path / "swapped.tsv"
    write_metrics(fold_files([predictions[1], predictions[0], predictions[2]]), fold_files(infos[::-1]), swapped)
    assert swapped.read_bytes() == in_order.read_bytes()
    with pytest.raises(ValueError, match=r"\('label', '2'\)\] has only one of them"):
        write_metrics(fold_files(predictions), fold_files(infos[:1] + infos[2:]), tmp_path / "broken.tsv")


def test_every_official_test_clip_is_scored_with_a_dropped_one_as_a_miss(tmp_path):
    """cv.dropped_test_clips miss: metrics.tsv's label rows score each fold's official test list
    (by hand: fold 1 lost one A clip, fold 2 none), and the papers' table shows those scores."""
    predictions, infos = _write_folds(tmp_path / "predictions", {
        ("label", "set_1"): (Y_TRUE, Y_PRED, [1, 5, 2]),  # A 2/3, B 1/2, C 1/1 correct
        ("label", "set_2"): (["A", "B"], ["A", "A"], [1, 1, 9]),
    })
    official = {"set_1": {"A": 4, "B": 2, "C": 1}, "set_2": {"A": 1, "B": 1}}
    metrics = write_metrics(fold_files(predictions), fold_files(infos), tmp_path / "metrics.tsv", official=official)
    rows = metrics.set_index("fold")
    assert rows.loc["set_1", "n_official"] == 7 and rows.loc["set_1", "n_dropped"] == 1
    assert rows.loc["set_1", "uar_official"] == pytest.approx((2 / 4 + 1 / 2 + 1) / 3)
    assert rows.loc["set_1", "war_official"] == pytest.approx(4 / 7)
    assert rows.loc["set_1", "uar"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)  # over the clips scored, as before
    assert rows.loc["set_2", "uar_official"] == rows.loc["set_2", "uar"] == 0.5
    assert rows.loc["mean", "uar_official"] == pytest.approx(((2 / 4 + 1 / 2 + 1) / 3 + 0.5) / 2)
    written = pd.read_csv(tmp_path / "metrics.tsv", sep="\t")
    assert list(written.columns[2:7]) == ["n_test", "n_official", "n_dropped", "uar_official", "war_official"]
    table = write_benchmark_folds(tmp_path / "metrics.tsv", tmp_path / "benchmark_folds.tsv")
    assert list(table.columns) == ["set_1", "set_2", "mean"]
    assert table.loc["UAR (%)"].round(2).tolist() == [66.67, 50.0, 58.33]
    assert table.loc["WAR (%)"].round(2).tolist() == [57.14, 50.0, 53.57]
    assert table.loc["dropped, scored as misses", "set_1"] == 1
    text = (tmp_path / "benchmark_folds.tsv").read_text().splitlines()
    assert text[:3] == ["metric\tset_1\tset_2\tmean", "UAR (%)\t66.67\t50.00\t58.33", "WAR (%)\t57.14\t50.00\t53.57"]
    assert text[3:] == ["test clips\t7\t2\t", "dropped, scored as misses\t1\t0\t"]
    # Without the official lists the table is over the clips scored, and says nothing of drops.
    write_metrics(fold_files(predictions), fold_files(infos), tmp_path / "scored.tsv")
    scored = benchmark_folds(pd.read_csv(tmp_path / "scored.tsv", sep="\t", dtype={"fold": str}))
    assert scored.index.tolist() == ["UAR (%)", "WAR (%)", "test clips"]
    assert scored.loc["test clips", "set_1"] == 6
