"""Pictures of what a run did: face contact sheets, the extraction overview, training curves,
the confusion heatmaps and the summary's forest plot. Every figure of the workflow is drawn here.

Each picture is built as a matplotlib figure plus a list of its panels (what each row, tile or
subplot shows). The panels are saved in the PNG's text metadata under ``PANELS_KEY``, so a test
or a script can check what a picture shows without looking at it (:func:`read_panels`).
"""

from __future__ import annotations

import json
import logging
import math
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from facemotion.common.files import read_json, reading
from facemotion.common.targets import TARGET_TITLES, is_rating
from facemotion.common.values import natural_key, optional_float
from facemotion.corpora.recordings import frame_files
from facemotion.extraction.records import NO_FACE, OK, TOO_FEW_FACES, TOO_SHORT, UNREADABLE

log = logging.getLogger(__name__)

PANELS_KEY = "facemotion.panels"
STATUS_COLOURS = {OK: "#4daf4a", NO_FACE: "#e41a1c", TOO_FEW_FACES: "#ff7f00", TOO_SHORT: "#984ea3",
                  UNREADABLE: "#777777"}
SAMPLE_SEED = 0  # which recordings a contact sheet shows; fixed, so reruns show the same faces


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # headless cluster nodes
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: str | Path, panels: list, dpi: int) -> None:
    """Save as PNG with the panels in its metadata, and free the figure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi, metadata={PANELS_KEY: json.dumps(panels)})
    _pyplot().close(figure)


def read_panels(path: str | Path) -> list:
    """The panels a picture written by :func:`save_figure` shows."""
    from PIL import Image

    with Image.open(path) as image:
        return json.loads(image.text[PANELS_KEY])


# --------------------------------------------------------------------------- contact sheets


def sample_per_class(meta: pd.DataFrame, classes: Sequence[str], per_class: int,
                     seed: int = SAMPLE_SEED) -> pd.DataFrame:
    """Up to ``per_class`` rows of each label, in ``classes`` order, spread over the speakers:
    every speaker of a class shows once before any shows twice. Keeps ``meta``'s index."""
    rng = np.random.default_rng(seed)
    picked = []
    for label in classes:
        rows = meta[meta["label"] == label]
        rows = rows.iloc[rng.permutation(len(rows))]
        turn = rows.groupby("speaker", sort=False).cumcount().to_numpy()
        picked.append(rows.iloc[np.argsort(turn, kind="stable")[:per_class]])
    return pd.concat(picked) if picked else meta.iloc[:0]


def face_sheet(table, classes: Sequence[str], per_class: int):
    """All face frames of a sample of kept recordings per class, one recording a row, labelled
    with its class, id and speaker. ``table``: a :class:`facemotion.extraction.feature_table.FeatureTable`
    (crops for ``pixels``, the 68 points of each frame for ``landmarks``)."""
    plt = _pyplot()
    meta = table.meta.reset_index(drop=True)
    shown = sample_per_class(meta, classes, per_class)
    n_frames = int(table.settings["n_frames"])
    if shown.empty:
        return _message_figure(plt, "No recording was kept: there are no faces to show."), []
    height = 0.6 + 0.95 * len(shown)
    figure, axes = plt.subplots(len(shown), n_frames, squeeze=False, figsize=(2.2 + 0.9 * n_frames, height))
    panels = []
    for ax_row, (index, row) in zip(axes, shown.iterrows()):
        for frame, ax in enumerate(ax_row):
            if table.pixels is not None:
                ax.imshow(table.pixels[index, frame], cmap="gray", vmin=0, vmax=255)
            else:
                points = table.landmarks[index, frame]
                ax.scatter(points[:, 0], points[:, 1], s=2, color="k")
                ax.invert_yaxis()  # image coordinates: y grows downwards
                ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(f"frame {row['frame_index'][frame]}", fontsize=6, labelpad=1)
        ax_row[0].set_ylabel(f"{row['label']}\n{row['recording']}\n{row['speaker']}", rotation=0,
                             ha="right", va="center", fontsize=8)
        panels.append({"recording": row["recording"], "speaker": row["speaker"], "label": row["label"],
                       "frames": n_frames})
    figure.suptitle(f"Face frames of {len(shown)} kept recordings, up to {per_class} per class")
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.4 / height))  # half an inch for the title, however tall
    return figure, panels


def video_frame(path: str, start: float | None = None, end: float | None = None,
                max_width: int = 320) -> np.ndarray | None:
    """The middle frame of a video (or of its start..end seconds, or of a folder of frames) as
    RGB, or None when no frame can be decoded."""
    import cv2

    if Path(path).is_dir():
        files = frame_files(path)
        frame = cv2.imread(files[len(files) // 2], cv2.IMREAD_COLOR) if files else None
        return None if frame is None else _shown(frame, max_width)
    if not Path(path).is_file():
        return None
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not capture.isOpened():
            return None
        fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        count = max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
        first = round(start * fps) if start is not None and fps > 0 else 0
        last = round(end * fps) if end is not None and fps > 0 else count
        capture.set(cv2.CAP_PROP_POS_FRAMES, max(first, (first + last) // 2))
        ok, frame = capture.read()
        if not ok:  # a header that lies about the length, or a stream that cannot seek
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = capture.read()
        if not ok or frame is None:
            return None
    except cv2.error:
        return None
    finally:
        capture.release()
    return _shown(frame, max_width)


def _shown(frame: np.ndarray, max_width: int) -> np.ndarray:
    """A BGR frame as RGB, at most `max_width` wide."""
    import cv2

    if frame.shape[1] > max_width:
        frame = cv2.resize(frame, (max_width, round(frame.shape[0] * max_width / frame.shape[1])))
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def dropped_sheet(report: pd.DataFrame, manifest: pd.DataFrame, max_shown: int, columns: int = 4):
    """The recordings extraction left out: a frame of the video where one can be decoded, the
    id, speaker, status and the report's detail. At most ``max_shown``, in report order."""
    plt = _pyplot()
    dropped = report[report["status"] != OK].merge(manifest, on="recording", how="left")
    if dropped.empty:
        return _message_figure(plt, "No recording was dropped: every recording gave its face frames."), []
    shown = dropped.head(max_shown)
    columns = min(columns, len(shown))
    rows = math.ceil(len(shown) / columns)
    figure, axes = plt.subplots(rows, columns, squeeze=False, figsize=(max(3.4 * columns, 8), 0.8 + 3.4 * rows))
    panels = []
    for ax, (_, row) in zip(axes.flat, shown.iterrows()):
        frame = video_frame(row["path"], optional_float(row["start"]), optional_float(row["end"]))
        if frame is not None:
            ax.imshow(frame)
        else:
            ax.text(0.5, 0.5, "no frame could be decoded", ha="center", va="center", fontsize=8,
                    transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{row['recording']} ({row['speaker']})\n{row['status']}", fontsize=9,
                     color=STATUS_COLOURS.get(row["status"], "k"))
        detail = textwrap.wrap(str(row["detail"]), 42)
        ax.set_xlabel("\n".join(detail[:3] + (["..."] if len(detail) > 3 else [])), fontsize=6.5)
        panels.append({"recording": row["recording"], "speaker": row["speaker"], "status": row["status"],
                       "frame": frame is not None})
    for ax in list(axes.flat)[len(shown):]:
        ax.set_axis_off()
    more = f" (the first {len(shown)})" if len(dropped) > len(shown) else ""
    recordings = "recording" if len(dropped) == 1 else "recordings"
    figure.suptitle(f"{len(dropped)} {recordings} dropped by face extraction{more}, with a frame of each video")
    figure.tight_layout()
    return figure, panels


def _message_figure(plt, message: str):
    figure, ax = plt.subplots(figsize=(6, 1.2))
    ax.text(0.5, 0.5, message, ha="center", va="center")
    ax.set_axis_off()
    return figure


# --------------------------------------------------------------------------- extraction overview


def extraction_overview(report: pd.DataFrame, manifest: pd.DataFrame):
    """Stacked bars of the extraction statuses per session (left) and per speaker (right)."""
    plt = _pyplot()
    merged = report.merge(manifest[["recording", "speaker", "session"]], on="recording", how="left")
    statuses = [s for s in STATUS_COLOURS if s in set(merged["status"])]
    statuses += sorted(set(merged["status"]) - set(statuses))
    merged["speaker_in_session"] = merged["speaker"] + " (session " + merged["session"] + ")"
    sessions = sorted(merged["session"].unique(), key=natural_key)
    pairs = sorted(set(zip(merged["session"], merged["speaker"])), key=lambda p: (natural_key(p[0]), natural_key(p[1])))
    speakers = [f"{speaker} (session {session})" for session, speaker in pairs]
    groups = {"session": sessions, "speaker_in_session": speakers}
    figure, axes = plt.subplots(1, 2, figsize=(12, 1.5 + 0.28 * max(len(speakers), len(sessions))),
                                gridspec_kw={"width_ratios": [1, 1.3]})
    panels = []
    for ax, (column, order) in zip(axes, groups.items()):
        counts = pd.crosstab(merged[column], merged["status"]).reindex(index=order, columns=statuses, fill_value=0)
        left, positions = np.zeros(len(counts)), np.arange(len(counts))
        for status in statuses:
            ax.barh(positions, counts[status], left=left, color=STATUS_COLOURS.get(status, "#cccccc"),
                    label=status)
            left += counts[status].to_numpy()
        ax.set_yticks(positions, counts.index)  # session ids as labels, not as numbers to scale
        for y, (total, kept) in enumerate(zip(left, counts.get(OK, np.zeros(len(counts))))):
            ax.text(total, y, f" {kept:.0f}/{total:.0f} kept", va="center", fontsize=7)
        ax.invert_yaxis()  # first session at the top
        ax.set_xlim(0, left.max() * 1.25 if len(left) else 1)
        ax.set_xlabel("recordings")
        ax.set_title("per session" if column == "session" else "per speaker")
        panels.append({"panel": ax.get_title(), "rows": list(order),
                       "counts": {str(k): {s: int(n) for s, n in v.items()} for k, v in counts.iterrows()}})
    figure.legend(*axes[0].get_legend_handles_labels(), title="status", loc="lower center", ncol=len(statuses),
                  fontsize=8)
    total = len(merged)
    kept = int((merged["status"] == OK).sum())
    figure.suptitle(f"Face extraction: {kept} of {total} recordings kept")
    figure.tight_layout(rect=(0, 0.1, 1, 1))
    return figure, panels


# --------------------------------------------------------------------------- training curves


def training_curves(infos: Mapping[str, Mapping], target: str, columns: int = 3):
    """Per fold: training loss and validation UAR (a rating target: CCC) by epoch, the chosen epoch marked.

    ``infos``: {held-out session: the fold's info.json}.
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    folds = sorted(infos, key=natural_key)
    columns = min(columns, len(folds))
    rows = math.ceil(len(folds) / columns)
    figure, axes = plt.subplots(rows, columns, squeeze=False, figsize=(4.2 * columns, 0.8 + 3.0 * rows))
    panels, lines = [], []
    for ax, fold in zip(axes.flat, folds):
        info = infos[fold]
        if info.get("skipped"):  # a held-out session without usable recordings: nothing trained
            ax.text(0.5, 0.5, "\n".join(textwrap.wrap(f"skipped: {info['skipped']}", 40)), ha="center",
                    va="center", fontsize=8, transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"test session {fold}", fontsize=9)
            panels.append({"fold": fold, "skipped": info["skipped"]})
            continue
        history = pd.DataFrame(info["history"])
        loss_line = ax.plot(history["epoch"], history["loss"], color="C0", marker=".", label="training loss")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("training loss", color="C0")
        lines = loss_line
        score, label = ("val_ccc", "validation CCC") if is_rating(info) else ("val_uar", "validation UAR")
        if score in history:  # epochs scored on validation recordings
            score_axis = ax.twinx()
            lines += score_axis.plot(history["epoch"], history[score], color="C1", marker=".", label=label)
            if is_rating(info):
                score_axis.set_ylim(min(0.0, float(history[score].min())), 1)
            else:
                lines.append(score_axis.axhline(1.0 / len(info["classes"]), color="C1", linestyle=":", linewidth=1,
                                                label="chance UAR"))
                score_axis.set_ylim(0, 1)
            score_axis.set_ylabel(label, color="C1")
        lines.append(ax.axvline(info["best_epoch"], color="k", linestyle="--", linewidth=1, label="chosen epoch"))
        validation = f", validation {info['val_session']}" if info.get("val_session") else ""
        ax.set_title(f"test session {fold}{validation}\nchosen epoch {info['best_epoch']} of {info['epochs_run']}",
                     fontsize=9)
        panels.append({"fold": fold, "chosen_epoch": info["best_epoch"], "epochs": len(history)})
    for ax in list(axes.flat)[len(folds):]:
        ax.set_axis_off()
    if lines:
        figure.legend(lines, [line.get_label() for line in lines], loc="upper right", fontsize=8)
    figure.suptitle(f"Training of {TARGET_TITLES.get(target, target)}, one panel per held-out session")
    figure.tight_layout(rect=(0, 0, 0.88, 1))
    return figure, panels


def rating_scatter(folds: Mapping[str, pd.DataFrame], target: str, thresholds: Mapping, columns: int = 3):
    """Per fold of a rating target: predicted against rated values (every repeat's predictions),
    the identity line, the bins' thresholds dotted, and the fold's CCC (averaged over repeats).

    ``folds``: {held-out session: predictions with numeric ``y_true``, ``y_pred``}.
    """
    from facemotion.evaluation.predictions import one_repeat
    from facemotion.evaluation.rating_metrics import repeat_mean_metrics

    plt = _pyplot()
    names = sorted(folds, key=natural_key)
    columns = max(1, min(columns, len(names)))
    rows = math.ceil(len(names) / columns)
    figure, axes = plt.subplots(rows, columns, squeeze=False, figsize=(3.6 * columns, 0.8 + 3.4 * rows))
    values = pd.concat(list(folds.values()))[["y_true", "y_pred"]].to_numpy(dtype=float)
    limits = (np.nanmin(values) - 0.2, np.nanmax(values) + 0.2) if np.isfinite(values).any() else (0.0, 1.0)
    panels = []
    for ax, fold in zip(axes.flat, names):
        frame = folds[fold]
        if frame.empty:
            ax.text(0.5, 0.5, "no test recordings", ha="center", va="center", fontsize=8, transform=ax.transAxes)
            panels.append({"fold": fold, "n_test": 0})
            continue
        value = repeat_mean_metrics(frame)["ccc"]
        ax.scatter(frame["y_true"], frame["y_pred"], s=10, alpha=0.5, color="C0")
        ax.plot(limits, limits, color="k", linewidth=1, label="identity")
        for threshold in (thresholds["low"], thresholds["high"]):
            ax.axvline(threshold, color="grey", linestyle=":", linewidth=1)
            ax.axhline(threshold, color="grey", linestyle=":", linewidth=1)
        ax.set_xlim(limits)
        ax.set_ylim(limits)
        ax.set_xlabel("rated")
        ax.set_ylabel("predicted")
        ax.set_title(f"test session {fold}: CCC {value:.3f}", fontsize=9)
        panels.append({"fold": fold, "n_test": len(one_repeat(frame)), "ccc": value})
    for ax in list(axes.flat)[len(names):]:
        ax.set_axis_off()
    figure.suptitle(f"{TARGET_TITLES.get(target, target)}: predicted against rated, one panel per held-out session")
    figure.tight_layout()
    return figure, panels


def write_rating_scatter(prediction_paths: Sequence[str | Path], target: str, path, dpi: int) -> None:
    """The scatter of one rating target from its folds' prediction files (``fold_<session>.tsv``, with
    the ``.info.json`` train_fold writes beside each)."""
    folds, thresholds = {}, None
    for prediction_path in map(Path, prediction_paths):
        fold = prediction_path.name[len("fold_"):-len(".tsv")]
        folds[fold] = pd.read_csv(prediction_path, sep="\t", dtype={"recording": str, "session": str, "speaker": str})
        info = json.loads(prediction_path.with_name(f"fold_{fold}.info.json").read_text())
        thresholds = thresholds or info["thresholds"]
    figure, panels = rating_scatter(folds, target, thresholds)
    save_figure(figure, path, panels, dpi)


# --------------------------------------------------------------------------- confusion heatmaps


def plot_confusion(
    matrix: pd.DataFrame,
    paths: Iterable[str | Path],
    title: str,
    cmap: str = "Blues",
    dpi: int = 150,
    figsize: tuple[float, float] = (9.0, 6.0),
    font_scale: float = 1.4,
) -> list[Path]:
    """Seed-style heatmap of a percent matrix, saved once per path (format from the suffix,
    e.g. ``.png`` and ``.pdf``). Predicted classes across the top, true classes down the side,
    cells annotated with two decimals; empty (NaN) rows are left blank."""
    import matplotlib

    matplotlib.use("Agg")  # headless cluster nodes
    import matplotlib.pyplot as plt
    import seaborn as sns

    with sns.plotting_context("notebook", font_scale=font_scale), sns.axes_style("white"):
        fig, ax = plt.subplots(figsize=figsize)
        sns.heatmap(
            matrix, annot=True, fmt=".2f", cmap=cmap, vmin=0.0, vmax=100.0, ax=ax,
            cbar_kws={"label": "Percent of true class"},
        )
        ax.xaxis.tick_top()  # the seed's figures read predicted classes along the top
        ax.xaxis.set_label_position("top")
        ax.set_xlabel("Predicted label")
        ax.set_ylabel("True label")
        fig.suptitle(title)
        fig.tight_layout()
        written = []
        for path in paths:
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(path, dpi=dpi)
            written.append(path)
        plt.close(fig)
    return written


# --------------------------------------------------------------------------- the summary


FOREST_AXES = {"folds": "UAR (95 % CI over folds)",
               "clips": "UAR (95 % CI over test clips:\nthese trained models only)",
               "clips and runs": "UAR (95 % CI over test clips\nand training runs)",
               "speakers": "UAR (95 % CI over the test corpus's\nspeakers: this trained model only)",
               "speakers and runs": "UAR (95 % CI over the test corpus's\nspeakers and training runs)"}


def plot_forest(summary: pd.DataFrame, path: Path | str, dpi: int = 150) -> Path:
    """UAR and its 95 % interval per experiment, one panel per target, chance as a dashed line; the
    axis says what the intervals are over (summary.tsv's ``ci_over``; over folds without it)."""
    plt = _pyplot()
    targets = list(dict.fromkeys(summary["target"]))
    experiments = list(dict.fromkeys(summary["experiment"]))
    fig, axes = plt.subplots(1, len(targets), figsize=(3.2 * len(targets) + 1.5, 0.45 * len(experiments) + 1.6),
                             sharey=True, squeeze=False)
    for ax, target in zip(axes[0], targets):
        rows = summary[summary["target"] == target].set_index("experiment").reindex(experiments)
        y = np.arange(len(experiments))
        ax.errorbar(rows["uar"], y, xerr=[rows["uar"] - rows["uar_ci_low"], rows["uar_ci_high"] - rows["uar"]],
                    fmt="o", color="black", capsize=3)
        ax.axvline(rows["chance_uar"].dropna().iloc[0] if rows["chance_uar"].notna().any() else np.nan,
                   color="grey", linestyle="--", linewidth=1)
        ax.set_title(TARGET_TITLES.get(target, target))
        kinds = set(rows["ci_over"].dropna()) if "ci_over" in rows else {"folds"}
        ax.set_xlabel(FOREST_AXES[kinds.pop()] if len(kinds) == 1 else
                      "UAR (95 % CI: what each is over,\nsummary.tsv's ci_note)")
        ax.set_xlim(0.0, 1.0)
        ax.set_yticks(y, experiments)
        ax.invert_yaxis()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- the rules' entry points


def _read_tsv(path) -> pd.DataFrame:
    with reading(path):
        return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def write_extraction_plots(features_path, report_path, manifest_path, faces_path, dropped_path, overview_path,
                           classes: Sequence[str], plots: Mapping) -> None:
    """The face contact sheet, the dropped recordings' sheet and the extraction overview of a run.

    ``plots``: config ``plots`` (dpi, faces_per_class, dropped_max).
    """
    from facemotion.extraction.feature_table import read_feature_table

    report, manifest = _read_tsv(report_path), _read_tsv(manifest_path)
    for path, (figure, panels) in (
        (faces_path, face_sheet(read_feature_table(features_path), classes, plots["faces_per_class"])),
        (dropped_path, dropped_sheet(report, manifest, plots["dropped_max"])),
        (overview_path, extraction_overview(report, manifest)),
    ):
        save_figure(figure, path, panels, plots["dpi"])
        log.info("%s: %d panels", path, len(panels))


def write_training_curves(info_paths: Mapping[str, str | Path], target: str, path, dpi: int) -> None:
    """The training curves of one target; ``info_paths``: {held-out session: fold info.json}."""
    infos = {fold: read_json(info) for fold, info in info_paths.items()}
    figure, panels = training_curves(infos, target)
    save_figure(figure, path, panels, dpi)
