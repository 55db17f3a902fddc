"""The front page of `snakemake --report`: the corpus, the settings and the headline results of
this run, as reStructuredText (the report's workflow description)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

import facemotion
from facemotion.common.files import reading
from facemotion.common.targets import TARGET_TITLES, learnt_as_rating
from facemotion.corpora.reading import BENCHMARKS, protocol_sentence
from facemotion.extraction.records import OK


def _counts(values: pd.Series, order: Sequence[str] | None = None) -> str:
    counts = values.value_counts()
    keys = [k for k in (order or []) if k in counts] + sorted(set(counts.index) - set(order or []))
    return ", ".join(f"{key} {counts[key]}" for key in keys)


def _list_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    return lines + [""]


def _repeats_sentence(training: Mapping) -> str:
    if training["repeats"] == 1:
        return ("Each fold was trained once: the variance between training runs (seeds) was not estimated "
                "separately (set training.repeats to estimate it).")
    return (f"Each fold was trained {training['repeats']} times (seeds {training['seed']} to "
            f"{training['seed'] + training['repeats'] - 1}); the UARs average them, and results/summary.tsv "
            "gives the standard deviation of the UAR across these repeats (uar_repeat_sd).")


# The settings the page states (rule front_page's params): a change to any other key leaves the page as it is.
PAGE_SETTINGS = {"cv": ("protocol",),
                 "extraction": ("n_frames", "face_size", "detector", "detect_width", "upsample", "margin"),
                 "training": ("model", "optimizer", "learning_rate", "batch_size", "epochs", "normalisation", "seed",
                              "repeats", "rating_calibration")}


def page_settings(settings: Mapping, validation: str, fold_corpora: Mapping | None = None) -> dict:
    """What the page states of an experiment's validated settings; ``validation``: cv.validation as
    resolved for the corpus (share, next_session or none); ``fold_corpora``: several corpora, per
    fold the corpora it trains on and the one it tests (corpora.cross_corpus.fold_corpora)."""
    corpus = settings["corpus"]
    if isinstance(corpus, list):
        stated = [{key: entry[key] for key in ("name", "format", "path")} for entry in corpus]
    else:
        stated = {key: corpus[key] for key in ("format", "path")}
    return {**{key: settings[key] for key in ("classes", "features", "binning", "dimensions")},
            **{section: {key: settings[section][key] for key in keys} for section, keys in PAGE_SETTINGS.items()},
            "corpus": stated, "validation": validation,
            **({"fold_corpora": dict(fold_corpora)} if fold_corpora else {})}


def _detector(extraction: Mapping) -> str:
    """How faces were found, as the settings say: without a detector the HOG settings are unused."""
    if extraction["detector"] == "none":
        return "each frame taken as the face (extraction.detector: none), resized whole"
    return f"HOG detector at width {extraction['detect_width']}, upsample {extraction['upsample']}, " \
           f"margin {extraction['margin']}"


def _epoch_choice(validation: str, classes: bool, ratings: bool) -> str:
    """What chose each fold's epoch: the validation UAR for class targets, the CCC for rating ones."""
    by = {(True, True): "the UAR (classes) and by the CCC (ratings)", (False, True): "the CCC (ratings)"}
    return f"each fold's epoch chosen on {validation} by {by.get((classes, ratings), 'the UAR')}"


def has_interval(row: Mapping) -> bool:
    """Whether a summary.tsv row has a UAR interval (NaN bounds: none, e.g. one fold)."""
    return bool(np.isfinite(row["uar_ci_low"]) and np.isfinite(row["uar_ci_high"]))


def uar_cell(row: Mapping) -> str:
    """A summary.tsv row's UAR and 95 % interval as the page's tables show them; without an
    interval, why in words."""
    cell = f"**{row['uar']:.3f}**"
    if has_interval(row):
        return f"{cell} ({row['uar_ci_low']:.3f}-{row['uar_ci_high']:.3f})"
    unit, n = row["ci_over"].split()[0], int(row["ci_folds"])
    if unit in ("folds", "speakers"):
        return f"{cell} (no interval: {n} {unit[:-1] if n == 1 else unit})"
    return f"{cell} (no interval)"


def interval_about(row: Mapping) -> str:
    """What a summary.tsv row's interval is over and about, from its ci_over and ci_note."""
    # Here, not at the top: Snakemake imports this module (page_settings) to plan every run,
    # and SciPy (imported by the evaluation modules) would be a second of its start-up.
    from facemotion.evaluation.summary import SPANNING_NOTE

    over = row["ci_over"]
    if over == "folds":
        if SPANNING_NOTE in row["ci_note"]:
            return ("t-intervals over the folds, which share speakers: they are about new recordings of these "
                    "speakers, not about new speakers")
        return "t-intervals over the folds, which hold disjoint speakers: they are about new speakers"
    if over.startswith("speakers"):
        return ("over the test corpus's speakers (the UAR of a test corpus that is one fold is the mean of its "
                "speakers' UARs; metrics.tsv's UAR of that fold is pooled over its clips): they are about "
                + ("new speakers of this corpus and training again, not about new corpora" if over.endswith("runs")
                   else "this trained model on new speakers of this corpus, not about training again nor new corpora"))
    return ("from a bootstrap of the test clips, as the corpus does not name its speakers and the folds may share "
            "them: " + (f"they include the spread between the {int(row['repeats'])} training runs; not about new "
                        "speakers" if over.endswith("runs") else
                        "with one training run per fold they are about these trained models only, not about "
                        "training again, nor new speakers"))


def _about_sentence(rows: Sequence[tuple[str, Mapping]]) -> str:
    """The sentence on what the intervals of these (label, summary row) pairs are about."""
    groups: dict[str, list[str]] = {}
    for label, row in rows:
        if has_interval(row):
            groups.setdefault(interval_about(row), []).append(label)
    source = " (results/summary.tsv's ci_over and ci_note; docs/statistics.md)."
    if not groups:
        return "No UAR here has a 95 % interval: results/summary.tsv's ci_note says why."
    if len(groups) == 1:
        return f"The 95 % intervals are {next(iter(groups))}{source}"
    return "The 95 % intervals are, " + "; ".join(f"for {', '.join(labels)}, {about}"
                                                  for about, labels in groups.items()) + source


def _reference_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """summary.tsv's rows of the first (reference) experiment, the one whose results the page shows."""
    return summary[summary["experiment"] == summary["experiment"].iloc[0]] if len(summary) else summary


def _summary_row(summary: pd.DataFrame, target: str, **corpora: str) -> pd.Series:
    """The reference experiment's summary.tsv row of a target (several corpora: and of its corpora)."""
    match = summary["target"] == target
    for column, value in corpora.items():
        match &= summary[column] == value
    if not match.any():
        raise ValueError(f"results/summary.tsv has no row for target {target}"
                         + "".join(f", {column} {value}" for column, value in corpora.items())
                         + ": it is not of these metrics; rerun the summarise rule")
    return summary[match].iloc[0]


def front_page(config: Mapping, manifest: pd.DataFrame, report: pd.DataFrame, metrics: pd.DataFrame,
               summary: pd.DataFrame) -> str:
    """The page's text. ``config``: the validated workflow config; the tables as read from
    results/manifest.tsv, results/extraction/report.tsv, results/metrics.tsv and results/summary.tsv.
    The class targets' UARs and intervals are summary.tsv's (its first experiment's rows); the
    baselines, accuracies and fold counts are metrics.tsv's."""
    corpus, extraction, training = config["corpus"], config["extraction"], config["training"]
    kept = report["status"] == OK
    dropped = report.loc[~kept, "status"]
    summary = _reference_rows(summary)
    speakers = bool((manifest["speaker"] != "").any())
    several = isinstance(corpus, list)
    corpus_name = "" if several else (
        "synthetic demo corpus" if corpus["format"] == "demo" else f"{corpus['format']} corpus")
    validation = ("a random share of the training recordings" if config.get("validation") == "share"
                  else "a validation session")
    rated = {target for target in set(metrics["target"]) if learnt_as_rating(target, config["dimensions"])}
    epoch = (f"no validation: each fold trains on every other session for {config['training']['epochs']} epochs "
             "and its last epoch is tested" if config.get("validation") == "none"
             else _epoch_choice(validation, bool(set(metrics["target"]) - rated), bool(rated)))
    fixed_epochs = config["cv"]["protocol"] == "seed" or config.get("validation") == "none"
    epochs_bound = "" if fixed_epochs else " at most"
    protocol = {"loso": f"leave one session out; {epoch}",
                "seed": "the seed's: the held-out session split into dev and test halves, fixed epochs",
                "cross_corpus": f"cross-corpus: trained on the training corpora, each test corpus one fold that "
                                f"never trains on it; {epoch}",
                "leave_one_corpus_out": f"leave one corpus out: each corpus a fold, trained on the others; {epoch}"}
    lines = [
        "facemotion: what this run did",
        "=============================",
        "",
        f"**Workflow**: facemotion {facemotion.__version__}.",
        "",
        (_corpora_sentence(corpus, manifest) if several else f"**Corpus**: {corpus_name} at ``{corpus['path']}``: ")
        + f"{len(manifest)} recordings, "
        + (f"{manifest['speaker'].nunique()} speakers, " if speakers else "speakers not named, ")
        + f"{manifest['session'].nunique()} sessions; "
        f"{_counts(manifest['label'], config['classes'])}.",
        "",
        *([f"**Protocol**: {protocol_sentence(corpus['format'], config['classes'])}", ""]
          if not several and protocol_sentence(corpus["format"], config["classes"]) else []),
        f"**Face extraction**: {extraction['n_frames']} face frames per recording "
        + (f"as {extraction['face_size']} x {extraction['face_size']} greyscale crops"
           if config["features"] == "pixels" else "as dlib's 68 landmarks and 6 geometric features")
        + f" ({_detector(extraction)}): **{int(kept.sum())} of {len(report)} recordings kept**"
        + (f"; dropped: {_counts(dropped)}." if len(dropped) else "."),
        "",
        f"**Training**: {training['model']}, {training['optimizer']} with learning rate "
        f"{training['learning_rate']}, batch size {training['batch_size']}, {training['epochs']} epochs{epochs_bound}, "
        f"{training['normalisation']} normalisation, seed {training['seed']}; protocol: "
        f"{protocol.get(config['cv']['protocol'], config['cv']['protocol'])}. Activation and valence ratings "
        f"binned at <= {config['binning']['low']} and >= {config['binning']['high']}.",
        "",
        "Results",
        "-------",
        "",
        _repeats_sentence(training),
        "",
    ]
    if config.get("fold_corpora") and set(metrics["target"]) - rated:
        lines += _corpora_results(metrics, summary,
                                  sorted(set(metrics["target"]) - rated, key=list(TARGET_TITLES).index),
                                  config["fold_corpora"])
    rows, summarised = [], []
    # Several corpora: the table per test corpus above instead.
    for target in [] if config.get("fold_corpora") else sorted(set(metrics["target"]) - rated,
                                                                key=list(TARGET_TITLES).index):
        by_fold = metrics[metrics["target"] == target].set_index("fold")
        trained = by_fold.get("skipped", pd.Series("", index=by_fold.index)).fillna("") == ""
        folds = [f for f in by_fold.index[trained] if f not in ("mean", "std")]
        mean, row = by_fold.loc["mean"], _summary_row(summary, target)
        summarised.append((TARGET_TITLES.get(target, target), row))
        rows.append([TARGET_TITLES.get(target, target), uar_cell(row),
                     f"{mean['majority_uar']:.3f}", f"{mean['chance_uar']:.3f}", f"{mean['accuracy']:.3f}",
                     str(len(folds))])
    if rows:  # none when every target is learnt as ratings
        lines += ["Unweighted average recall (UAR, the mean of the per-class recalls) over the folds, against "
                  "always predicting the training folds' most frequent class (majority) and chance; beside it the "
                  "weighted average recall (WAR, the accuracy: recalls weighted by the classes' test shares), the "
                  "two numbers papers print. " + _about_sentence(summarised), ""]
        lines += _list_table(["target", "UAR (95 % CI)", "majority UAR", "chance UAR", "WAR (accuracy)", "folds"],
                             rows)
    if not several and corpus["format"] in BENCHMARKS and "label" in set(metrics["target"]):
        lines += _benchmark_lines(metrics)
    if rated:
        lines += _rating_lines(metrics, rated, training["rating_calibration"])
    lines += [
        "What to look at",
        "---------------",
        "",
        "1. `Faces`_: are the crops faces, centred, of the right person? Then the dropped recordings "
        "and why.",
        "2. `Extraction`_: how many recordings each session and speaker lost, and for what reason.",
        "3. `Training`_: did the loss fall and the validation UAR rise; was the chosen epoch at the end "
        "(more epochs may help) or early (overfitting)?",
        "4. `Confusion matrices`_ and `Metrics`_: which classes are confused, and how far each fold is "
        "above the baselines.",
        "",
    ]
    # The report renders this page with Jinja before reStructuredText: keep names from the data
    # (speakers, paths) from being read as Jinja syntax.
    return "{% raw %}\n" + "\n".join(lines) + "\n{% endraw %}\n"


def _corpora_sentence(corpora: Sequence[Mapping], manifest: pd.DataFrame) -> str:
    """Several corpora: each with its format, path and recordings in the manifest."""
    counts = manifest["corpus"].value_counts() if "corpus" in manifest else pd.Series(dtype=int)
    listed = "; ".join(f"{c['name']} ({c['format']} at ``{c['path']}``, {int(counts.get(c['name'], 0))} recordings)"
                       for c in corpora)
    return f"**Corpora**: {listed}. Together: "


def _corpora_results(metrics: pd.DataFrame, summary: pd.DataFrame, targets: Sequence[str],
                     fold_corpora: Mapping) -> list[str]:
    """Several corpora: the class targets' UAR and interval per test corpus (summary.tsv's rows),
    naming the corpora its models trained on; the chance UAR and the folds from metrics.tsv."""
    rows, summarised = [], []
    for target in targets:
        by_fold = metrics[metrics["target"] == target].set_index("fold")
        trained = by_fold.get("skipped", pd.Series("", index=by_fold.index)).fillna("") == ""
        folds = [f for f in by_fold.index[trained] if f not in ("mean", "std") and f in fold_corpora]
        parts: dict[tuple[str, str], list[str]] = {}
        for fold in folds:
            parts.setdefault((fold_corpora[fold]["train_corpora"], fold_corpora[fold]["test_corpus"]), []).append(fold)
        for (train, test), part in parts.items():
            row = _summary_row(summary, target, train_corpora=train, test_corpus=test)
            summarised.append((f"{TARGET_TITLES.get(target, target)} tested on {test}", row))
            rows.append([TARGET_TITLES.get(target, target), train, test, uar_cell(row),
                         f"{by_fold.loc[part, 'chance_uar'].astype(float).mean():.3f}", str(len(part))])
    return ["Unweighted average recall (UAR) per test corpus, with the corpora its models trained on. "
            + _about_sentence(summarised), "",
            *_list_table(["target", "trained on", "tested on", "UAR (95 % CI)", "chance UAR", "folds"], rows)]


def _benchmark_lines(metrics: pd.DataFrame) -> list[str]:
    """The label results per official fold, as the benchmark's papers print them (results/benchmark_folds.tsv)."""
    from facemotion.evaluation.metrics_table import benchmark_folds  # not at the top: see interval_about

    table = benchmark_folds(metrics)
    official = "dropped, scored as misses" in table.index
    lines = ["Per official fold, as the benchmark's papers print them (results/benchmark_folds.tsv; "
             + ("every clip of the official test lists scored, a dropped one as a miss)." if official
                else "the clips scored; dropped ones left out)."), ""]
    rows = [[metric, *("" if pd.isna(v) else f"{v:.2f}" if "%" in metric else f"{v:.0f}" for v in values)]
            for metric, values in table.iterrows()]
    return lines + _list_table(["", *table.columns], rows)


def _rating_lines(metrics: pd.DataFrame, rated: set[str], calibration: str) -> list[str]:
    """The rating targets' results (dimensions: regression): CCC and the binned predictions' UAR."""
    from facemotion.evaluation.statistics import t_interval  # not at the top: see interval_about

    stretched = (" Each model's predictions are stretched to the mean and standard deviation of its training "
                 "ratings (training.rating_calibration: training)." if calibration == "training" else
                 " The network's outputs are used as they are (training.rating_calibration: none).")
    lines = ["Activation and valence are learnt as ratings: the concordance correlation coefficient (CCC, 1 "
             "is perfect agreement, 0 none) of the predicted and the rated values, the folds' mean, and the "
             "UAR of the predictions binned as the classes are (see `Ratings`_)." + stretched, ""]
    rows = []
    for target in sorted(rated, key=list(TARGET_TITLES).index):
        by_fold = metrics[metrics["target"] == target].set_index("fold")
        mean = by_fold.loc["mean"]
        folds = [f for f in by_fold.index if f not in ("mean", "std")]
        _, low, high, _ = t_interval(by_fold.loc[folds, "ccc"].to_numpy(dtype=float), (-1.0, 1.0))
        rows.append([TARGET_TITLES.get(target, target), f"**{mean['ccc']:.3f}** ({low:.3f} to {high:.3f})",
                     f"{mean['pearson']:.3f}", f"{mean['rmse']:.3f}", f"{mean['uar_binned']:.3f}",
                     f"{mean['chance_uar']:.3f}"])
    return lines + _list_table(["target", "CCC, folds' mean (95 % CI)", "Pearson r", "RMSE", "binned UAR",
                                "chance UAR"], rows)


# summary.tsv's columns of text (the others are numbers, NaN where empty).
SUMMARY_TEXT = ("experiment", "target", "train_corpora", "test_corpus", "ci_over", "ci_note")


def write_front_page(config: Mapping, manifest_path, report_path, metrics_path, summary_path, path) -> None:
    def read(p, **options):
        with reading(p):
            return pd.read_csv(p, sep="\t", **options)

    # Metrics keep NaN for a skipped fold's empty cells; the others read as text.
    metrics = read(metrics_path, dtype={"fold": str, "target": str, "skipped": str})
    summary = read(summary_path, dtype=dict.fromkeys(SUMMARY_TEXT, str))
    text = [column for column in SUMMARY_TEXT if column in summary]
    summary[text] = summary[text].fillna("")
    manifest, report = (read(p, dtype=str, keep_default_na=False) for p in (manifest_path, report_path))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(front_page(config, manifest, report, metrics, summary))
