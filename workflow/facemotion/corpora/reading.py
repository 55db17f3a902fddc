"""The one place that picks a corpus reader: the synthetic demo, a hand-written tsv manifest, or a
published corpus (MSP-IMPROV, IEMOCAP, CREMA-D, RAVDESS; DFEW, MAFW, FERV39k with their official
splits), read into the normalised manifest (`build_manifest`) and checked against the configuration.

Each reader follows its corpus' official layout, file naming and label files (docs/corpora.md) and
returns every label entry it finds. Here the entries whose video file is missing and those whose
category is not one of `classes` are dropped and counted in the notes, and the rest is validated
by normalise_manifest. (DFEW, MAFW and FERV39k refuse a clip their split files list but the tree
lacks: their test sets define the published numbers.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from facemotion.common.targets import EMOTIONS
from facemotion.common.values import natural_key
from facemotion.corpora import crema_d, dfew, ferv39k, iemocap, mafw, msp_improv, ravdess
from facemotion.corpora.cross_corpus import class_problems, corpus_rows, several_corpora, used_corpora
from facemotion.corpora.manifest import (
    MANIFEST_COLUMNS,
    TRAIN_ONLY,
    ManifestError,
    check_corpus,
    normalise_manifest,
    read_tsv,
    resolve_paths,
    speaker_independent,
    speakers_known,
    unknown_column_notes,
)
from facemotion.corpora.scan import ROW_COLUMNS, CorpusScan, ReadOptions, recording_exists

READERS = {"msp-improv": msp_improv, "iemocap": iemocap, "crema-d": crema_d, "ravdess": ravdess,
           "dfew": dfew, "mafw": mafw, "ferv39k": ferv39k}
# What each release offers as corpus.source, its default first; every other format reads video files.
SOURCES = {"dfew": ("clips", "frames", "frames_16f"), "mafw": ("clips", "frames"), "ferv39k": ("frames",)}


# The benchmarks: their published numbers are over every class of the release (the official protocol).
BENCHMARKS = {"dfew": "DFEW", "mafw": "MAFW", "ferv39k": "FERV39k"}


def protocol_of(corpus_format: str, classes: list[str]) -> str:
    """For a benchmark format, what its outputs say of the class set: the official N-class protocol,
    or not (a subset); "" for any other format, whose outputs say nothing of it."""
    if corpus_format not in BENCHMARKS:
        return ""
    every = READERS[corpus_format].CLASSES
    if set(classes) == set(every):
        return f"official {len(every)}-class protocol"
    return f"not the official {len(every)}-class protocol ({len(classes)} of {len(every)} classes)"


def protocol_sentence(corpus_format: str, classes: list[str]) -> str:
    """The protocol as the log and the front page state it; "" for a format that is not a benchmark."""
    protocol = protocol_of(corpus_format, classes)
    if not protocol:
        return ""
    name = BENCHMARKS[corpus_format]
    if protocol.startswith("official"):
        return f"{name}'s {protocol}: every class of the release, as published results are."
    return (f"{name} with {', '.join(classes)}: {protocol}, so these numbers cannot be put beside published "
            f"{name} results (classes: all runs the official protocol).")


def dropped_as_miss(setting: str, corpus_format: str) -> bool:
    """cv.dropped_test_clips resolved: whether a test recording the extraction dropped is scored as
    a miss (auto: for the benchmarks, whose published numbers score the whole official test list)."""
    return setting == "miss" or (setting == "auto" and corpus_format in BENCHMARKS)


def official_test_counts(manifest: pd.DataFrame, sessions: list[str], classes: list[str]) -> dict:
    """{session: {class: recordings}} of the manifest's test recordings (not `split: train`) of
    `sessions` in `classes`: what every test recording scored means, dropped ones included."""
    tested = manifest[manifest["session"].isin(sessions) & (manifest["split"] != TRAIN_ONLY)]
    return {session: {label: int(n) for label, n in tested.loc[tested["session"] == session, "label"]
                      .value_counts().items() if label in classes}
            for session in sessions}


def sources_of(corpus_format: str) -> tuple[str, ...]:
    """The values of corpus.source that ``corpus_format`` offers, its default first."""
    return SOURCES.get(corpus_format, ("clips",))


MAX_LISTED = 20


@dataclass
class _Reading:
    source: str
    scan: CorpusScan
    kept: pd.DataFrame     # entries with a video file (or frame folder) and a category in classes
    missing: pd.DataFrame  # entries whose video file (or frame folder) does not exist
    dropped: pd.DataFrame  # entries with a video file whose category is not in classes
    notes: list[str]


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _categories(table: pd.DataFrame) -> str:
    counts = table.groupby(["category", "label"]).size()
    return ", ".join(f"{category}{' as ' + label if label else ''} ({n})" for (category, label), n in counts.items())


def _read(corpus_format: str, root: str | Path, classes: list[str], options: ReadOptions) -> _Reading:
    if corpus_format not in READERS:
        raise ManifestError(f"unknown corpus format {corpus_format!r}; known: {', '.join(READERS)}")
    source = f"{corpus_format} corpus at {root}"
    if not Path(root).is_dir():
        raise ManifestError(f"{source}: not a folder (expected the corpus root folder as unpacked)")
    if options.folds < 2:
        raise ManifestError(f"{source}: folds must be at least 2, got {options.folds}")
    if options.source not in ("", "clips") and options.source not in sources_of(corpus_format):
        offering = [name for name, offered in SOURCES.items() if options.source in offered]
        raise ManifestError(f"{source}: source {options.source!r} is read by {', '.join(offering)} only; "
                            f"{corpus_format} reads {', '.join(sources_of(corpus_format))}")
    scan = READERS[corpus_format].scan(Path(root), options)
    table = pd.DataFrame(scan.rows, columns=ROW_COLUMNS).sort_values("recording", kind="stable")
    exists = {path: recording_exists(path) for path in set(table["path"]) if path}
    has_video = table["path"].map(lambda path: exists.get(path, False)).astype(bool)
    missing, table = table[~has_video], table[has_video]
    wanted = table["label"].isin(classes)
    dropped, kept = table[~wanted], table[wanted].reset_index(drop=True)

    notes = []
    if len(missing):
        notes.append(f"dropped {_plural(len(missing), 'label entry', 'label entries')} whose video file is missing, "
                     f"e.g. {missing['recording'].iloc[0]}")
    if scan.unlabelled:
        notes.append(f"ignored {_plural(len(scan.unlabelled), 'video file', 'video files')} without a label, "
                     f"e.g. {scan.unlabelled[0]}")
    if len(dropped):
        notes.append(f"dropped {_plural(len(dropped), 'recording', 'recordings')} whose category is not in classes: "
                     f"{_categories(dropped)}")
    return _Reading(source, scan, kept, missing, dropped, notes + scan.notes)


def _normalise(reading: _Reading, classes: list[str]) -> tuple[pd.DataFrame, list[str]]:
    if reading.kept.empty:
        raise ManifestError(
            f"{reading.source}: no usable recordings: "
            f"{_plural(len(reading.scan.rows), 'label entry', 'label entries')}, {len(reading.missing)} without "
            f"a video file, {len(reading.dropped)} with a category outside classes {classes}"
            + "".join(f"\n  - {note}" for note in reading.notes))
    # Video files were checked above; unknown labels were dropped above.
    manifest, notes = normalise_manifest(reading.kept[MANIFEST_COLUMNS], classes, reading.source,
                                         drop_unknown_labels=True, check_files=False)
    return manifest.reset_index(drop=True), reading.notes + notes


def read_corpus(corpus_format: str, root: str | Path, classes: list[str], folds: int = 5, source: str = "",
                actor_folds: str = "balanced") -> tuple[pd.DataFrame, list[str]]:
    """The normalised manifest of a corpus in its official layout, and notes for the log.

    corpus_format: one of READERS. folds: the number of speaker-independent folds for corpora
    without sessions (crema-d, ravdess) under actor_folds `balanced`; actor_folds `public`: the
    folds public code uses for them. source: `clips` or `frames` where the release has both (dfew,
    mafw); empty: the release's usual. Raises ManifestError when `root` does not look like the
    corpus, its split files disagree, or nothing usable remains.
    """
    options = ReadOptions(folds=folds, source=source, actor_folds=actor_folds)
    return _normalise(_read(corpus_format, root, classes, options), classes)


def corpus_classes(corpus_format: str, path: str | Path) -> list[str]:
    """What `classes: all` means: every class the corpus's reader defines, in its fixed order
    (docs/corpora.md); for a tsv manifest, the labels it holds in natural sort order; for the demo,
    its four."""
    if corpus_format == "demo":
        return list(EMOTIONS)
    if corpus_format == "tsv":
        labels = read_tsv(path).get("label", pd.Series(dtype=str)).str.strip()
        return sorted(set(labels) - {""}, key=natural_key)
    if corpus_format not in READERS:
        raise ManifestError(f"unknown corpus format {corpus_format!r}; known: {', '.join(READERS)}")
    return list(READERS[corpus_format].CLASSES)


def _table(kept: pd.DataFrame, index: list[str], classes: list[str]) -> str:
    counts = pd.crosstab([kept[column] for column in index], kept["label"]).reindex(columns=classes, fill_value=0)
    counts = counts.loc[sorted(counts.index, key=lambda key: natural_key(str(key)))]
    counts["total"] = counts.sum(axis=1)
    return counts.to_string()


def _listing(title: str, items: list[str]) -> list[str]:
    if not items:
        return []
    shown = [f"  {item}" for item in items[:MAX_LISTED]]
    more = [f"  ... and {len(items) - MAX_LISTED} more"] if len(items) > MAX_LISTED else []
    return ["", f"{title} ({len(items)}):", *shown, *more]


def describe_corpus(corpus_format: str, root: str | Path, classes: list[str], folds: int, source: str = "",
                    actor_folds: str = "balanced") -> tuple[str, ManifestError | None]:
    """A printable summary (counts per class, session and speaker, missing and unlabelled files,
    notes) and the problem that makes the corpus unusable, if any. Raises ManifestError when
    `root` does not look like the corpus at all or its split files disagree."""
    reading = _read(corpus_format, root, classes, ReadOptions(folds=folds, source=source, actor_folds=actor_folds))
    try:
        _, notes = _normalise(reading, classes)
        problem = None
    except ManifestError as error:
        notes, problem = reading.notes, error
    kept = reading.kept
    speakers = kept.loc[kept["speaker"] != "", "speaker"].nunique()
    train_only = sorted(set(kept.loc[kept["split"] == TRAIN_ONLY, "session"]))
    lines = [reading.source,
             f"  label entries: {len(reading.scan.rows)}; usable recordings: {len(kept)} "
             f"({speakers or 'unknown'} speakers, {kept['session'].nunique()} sessions)",
             "  per class: " + ", ".join(f"{c} {int((kept['label'] == c).sum())}" for c in classes)]
    if train_only:
        lines.append(f"  sessions used for training only, never tested: {', '.join(train_only)}")
    if len(kept):
        lines += ["", "Recordings per session and class:", _table(kept, ["session"], classes)]
    if speakers:
        lines += ["", "Recordings per speaker and class:", _table(kept, ["session", "speaker"], classes)]
    lines += _listing("Label entries whose video file is missing",
                      [f"{r.recording}: {r.path or 'no video file found'}" for r in reading.missing.itertuples()])
    lines += _listing("Videos without a label", reading.scan.unlabelled)
    lines += ["", "Notes:", *[f"  - {note}" for note in notes]] if notes else []
    if problem:
        lines += ["", f"UNUSABLE: {problem}"]
    return "\n".join(lines), problem


def read_tsv_manifest(path: Path | str, classes: list[str], check_files: bool = True) -> tuple[pd.DataFrame, list[str]]:
    """Read a hand-written manifest; relative video paths are relative to the manifest's folder.
    The index counts the file's lines (see manifest.read_tsv)."""
    path = Path(path)
    table = read_tsv(path)
    if "path" in table.columns:
        table["path"] = resolve_paths(table["path"].str.strip(), path.parent)
    manifest, notes = normalise_manifest(table, classes, str(path), drop_unknown_labels=False,
                                         check_files=check_files)
    return manifest, [*unknown_column_notes(table.columns, str(path)), *notes]


def demo_manifest(config: dict) -> tuple[pd.DataFrame, list[str]]:
    """The manifest of the synthetic corpus, known before its videos are rendered."""
    from facemotion.corpora.demo import plan_demo_corpus

    plan = plan_demo_corpus(config["demo"]["recordings"], config["demo"]["seed"])
    table = plan[[c for c in plan.columns if not c.startswith("demo_")]].copy()
    table["path"] = [os.path.normpath(Path(config["corpus"]["path"]) / p) for p in table["path"]]
    table = table.astype(str).replace("nan", "")
    return normalise_manifest(table, config["classes"], "demo corpus", drop_unknown_labels=False, check_files=False)


def _read_configured(corpus: dict, config: dict) -> tuple[pd.DataFrame, list[str]]:
    """One configured corpus (a `corpus` mapping or an entry of the list) read into its manifest."""
    if corpus["format"] == "demo":
        return demo_manifest(config)
    if corpus["format"] == "tsv":
        return read_tsv_manifest(corpus["path"], config["classes"])
    return read_corpus(corpus["format"], corpus["path"], config["classes"], folds=config["cv"]["folds"],
                       source=corpus.get("source", ""), actor_folds=corpus.get("actor_folds", "balanced"))


def _read_several(config: dict) -> tuple[pd.DataFrame, list[str]]:
    """The corpora of a `corpus` list in one manifest (corpora.cross_corpus), each corpus's notes
    named by it; the classes a tested (or every training) corpus lacks are refused."""
    tables, notes = [], []
    for corpus in used_corpora(config):
        table, corpus_notes = _read_configured(corpus, config)
        table, more = corpus_rows(table, corpus["name"], config["cv"])
        tables.append(table)
        notes += [f"{corpus['name']}: {note}" for note in corpus_notes] + more
    manifest = pd.concat(tables, ignore_index=True)
    problems = class_problems(manifest, config["classes"], config["cv"])
    if problems:
        names = ", ".join(corpus["name"] for corpus in used_corpora(config))
        raise ManifestError(f"corpora {names}: {len(problems)} problem(s):\n  - " + "\n  - ".join(problems))
    return manifest, notes


def build_manifest(config: dict) -> tuple[pd.DataFrame, list[str]]:
    """Read the configured corpus (or corpora) into a normalised manifest (validated config
    expected) and check it against the configuration (check_corpus): across corpora too, so a
    video in two corpora is refused as a video in two sessions of one is."""
    if several_corpora(config):
        manifest, notes = _read_several(config)
        source = "corpora " + ", ".join(corpus["name"] for corpus in used_corpora(config))
        rows_are_lines = False
    else:
        corpus = config["corpus"]
        manifest, notes = _read_configured(corpus, config)
        source = corpus["path"] if corpus["format"] == "tsv" else f"{corpus['format']} corpus {corpus['path']}"
        rows_are_lines = corpus["format"] == "tsv"
    problems = check_corpus(manifest, config, rows_are_lines=rows_are_lines)
    if problems:
        raise ManifestError(f"{source}: {len(problems)} problem(s):\n  - " + "\n  - ".join(problems))
    manifest = manifest.reset_index(drop=True)
    if speaker_independent(manifest):
        return manifest, notes
    if not speakers_known(manifest):
        return manifest, [*notes, "the corpus does not name its speakers: folds may share speakers, so the "
                                  "results are NOT speaker-independent"]
    return manifest, [*notes, "speakers span sessions (cv.speakers_may_span_sessions): the results are NOT "
                              "speaker-independent"]
