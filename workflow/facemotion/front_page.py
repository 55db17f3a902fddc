"""The front page of `snakemake --report`: the corpus, the settings and the headline results of
this run, as reStructuredText (the report's workflow description)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from .evaluation import TARGET_TITLES
from .files import reading
from .sampling import OK


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


def front_page(config: Mapping, manifest: pd.DataFrame, report: pd.DataFrame, metrics: pd.DataFrame) -> str:
    """The page's text. ``config``: the validated workflow config; the tables as read from
    results/manifest.tsv, results/extraction/report.tsv and results/metrics.tsv."""
    corpus, extraction, training = config["corpus"], config["extraction"], config["training"]
    kept = report["status"] == OK
    dropped = report.loc[~kept, "status"]
    corpus_name = "synthetic demo corpus" if corpus["format"] == "demo" else f"{corpus['format']} corpus"
    protocol = {"loso": "leave one session out; each fold's epoch chosen by the UAR on a validation session",
                "seed": "the seed's: the held-out session split into dev and test halves, fixed epochs"}
    lines = [
        "facemotion: what this run did",
        "=============================",
        "",
        f"**Corpus**: {corpus_name} at ``{corpus['path']}``: {len(manifest)} recordings, "
        f"{manifest['speaker'].nunique()} speakers, {manifest['session'].nunique()} sessions; "
        f"{_counts(manifest['label'], config['classes'])}.",
        "",
        f"**Face extraction**: {extraction['n_frames']} face frames per recording "
        + (f"as {extraction['face_size']} x {extraction['face_size']} greyscale crops"
           if config["features"] == "pixels" else "as dlib's 68 landmarks and 6 geometric features")
        + f" (HOG detector at width {extraction['detect_width']}, upsample {extraction['upsample']}, "
        f"margin {extraction['margin']}): **{int(kept.sum())} of {len(report)} recordings kept**"
        + (f"; dropped: {_counts(dropped)}." if len(dropped) else "."),
        "",
        f"**Training**: {training['model']}, {training['optimizer']} with learning rate "
        f"{training['learning_rate']}, batch size {training['batch_size']}, {training['epochs']} epochs at most, "
        f"{training['normalisation']} normalisation, seed {training['seed']}; protocol: "
        f"{protocol.get(config['cv']['protocol'], config['cv']['protocol'])}. Activation and valence ratings "
        f"binned at <= {config['binning']['low']} and >= {config['binning']['high']}.",
        "",
        "Results",
        "-------",
        "",
        "Unweighted average recall (UAR, the mean of the per-class recalls) over the folds, against "
        "always predicting the training folds' most frequent class (majority) and chance.",
        "",
    ]
    rows = []
    for target in sorted(metrics["target"].unique(), key=list(TARGET_TITLES).index):
        by_fold = metrics[metrics["target"] == target].set_index("fold")
        trained = by_fold.get("skipped", pd.Series("", index=by_fold.index)).fillna("") == ""
        folds = [f for f in by_fold.index[trained] if f not in ("mean", "std")]
        mean, std = by_fold.loc["mean"], by_fold.loc["std"]
        rows.append([TARGET_TITLES.get(target, target), f"**{mean['uar']:.3f}** ± {std['uar']:.3f}",
                     f"{mean['majority_uar']:.3f}", f"{mean['chance']:.3f}", f"{mean['accuracy']:.3f}",
                     str(len(folds))])
    lines += _list_table(["target", "UAR (mean ± std)", "majority UAR", "chance", "accuracy", "folds"], rows)
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


def write_front_page(config: Mapping, manifest_path, report_path, metrics_path, path) -> None:
    def read(p, **options):
        with reading(p):
            return pd.read_csv(p, sep="\t", **options)

    # Metrics keep NaN for a skipped fold's empty cells; the others read as text.
    metrics = read(metrics_path, dtype={"fold": str, "target": str})
    manifest, report = (read(p, dtype=str, keep_default_na=False) for p in (manifest_path, report_path))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(front_page(config, manifest, report, metrics))
