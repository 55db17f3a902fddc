"""The normalised manifest: one row per recording. Snakemake reads the corpus into it when it
starts (rules/common.smk) and hands each job its rows; results/manifest.tsv is the record of it.

Columns of results/manifest.tsv:
  recording  unique id, safe as a file name
  path       video file or folder of frames (recordings.frame_files), usable from the working directory
  speaker    speaker id; empty in every row when the corpus does not know its speakers (DFEW,
             MAFW, FERV39k): each recording then counts as independent of every other
  session    session id: the fold a recording is tested in (leave-one-session-out folds are
             built on it; for corpora with official folds, the official fold)
  label      emotion category, one of config `classes`
  activation, valence   ratings on the corpus's scale (1-5 for MSP-IMPROV); empty when unknown
  start, end seconds selecting a segment of a longer video; empty = whole video
  region     empty, left or right: the half of the frame that holds the speaker's face
  split      empty, or `train`: a recording used for training only, never tested (FERV39k's
             training set); the same in every row of a session, and such a session is not a fold
  corpus     only where `corpus` lists several corpora: the name of the row's corpus, whose name
             then prefixes its recording, speaker and session ids (corpora.cross_corpus)
"""

from __future__ import annotations

import difflib
import hashlib
import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from facemotion.corpora.recordings import REGIONS, frame_files, is_frame

MANIFEST_COLUMNS = ["recording", "path", "speaker", "session", "label",
                    "activation", "valence", "start", "end", "region", "split"]
REQUIRED_COLUMNS = ["recording", "path", "speaker", "session", "label"]
OPTIONAL_COLUMNS = ["activation", "valence", "start", "end", "region", "split"]
TRAIN_ONLY = "train"  # the `split` of a recording that is never tested
# Recording and session ids become file names (cache entries, fold outputs): safe characters, and
# short enough that the longest name made from one (a temporary file beside a cache entry) stays
# within the common 255-byte limit of a file name.
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_ID_LENGTH = 200
MAX_LISTED = 50


class ManifestError(ValueError):
    """The corpus or manifest has problems; the message lists all of them."""


def _rows(index: pd.Index) -> str:
    """Manifest rows as a user counts them in the file: 1 is the header, data starts at 2."""
    numbers = [str(i + 2) for i in index]
    shown = ", ".join(numbers[:MAX_LISTED])
    return shown + (f" (and {len(numbers) - MAX_LISTED} more)" if len(numbers) > MAX_LISTED else "")


def _misspelt_classes(classes: list[str], labels: set[str]) -> str:
    """A class that no label matches, with the label it is most like: the likely cause of labels
    outside classes, said before the rows they are in."""
    said = []
    for name in (c for c in classes if c not in labels):
        guess = difflib.get_close_matches(name, sorted(labels - {""}), n=1)
        said.append(f"class {name!r} in classes matches no label" + (f" (did you mean {guess[0]!r}?)" if guess else ""))
    return "; ".join(said) + ("; so the " if said else "")


def normalise_manifest(table: pd.DataFrame, classes: list[str], source: str,
                       drop_unknown_labels: bool, check_files: bool = True) -> tuple[pd.DataFrame, list[str]]:
    """Validate a raw manifest (all columns as strings) and return it normalised, plus notes.

    Every problem is collected and raised together in one ManifestError naming `source`,
    the rows (the index, counted as `_rows` counts) and the files; the index is kept. Labels
    outside `classes` are an error in a hand-written manifest and dropped with a count (in the
    notes) for corpora that have more emotions.
    """
    problems: list[str] = []
    notes: list[str] = []
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ManifestError(f"{source}: missing column(s) {', '.join(missing)}; "
                            f"required: {', '.join(REQUIRED_COLUMNS)}; optional: {', '.join(OPTIONAL_COLUMNS)}")
    table = table.copy()
    for column in OPTIONAL_COLUMNS:
        if column not in table.columns:
            table[column] = ""
    table = table[MANIFEST_COLUMNS].astype(str).apply(lambda col: col.str.strip())

    for column in REQUIRED_COLUMNS:
        empty = table.index[table[column] == ""]
        if column == "speaker" and len(empty) == len(table):
            continue  # speakers unknown: empty in every row
        if len(empty):
            also = " (leave speaker empty in every row when the corpus does not know its speakers)" \
                if column == "speaker" else ""
            problems.append(f"empty {column} in row(s) {_rows(empty)}{also}")
    for column in ("recording", "session"):
        unsafe = table.index[(table[column] != "") & ~table[column].str.match(SAFE_ID)]
        if len(unsafe):
            problems.append(f"{column} ids must use only letters, digits, '.', '_' and '-' "
                            f"(they name output files): row(s) {_rows(unsafe)}, "
                            f"e.g. {table.at[unsafe[0], column]!r}")
        too_long = table.index[table[column].str.len() > MAX_ID_LENGTH]
        if len(too_long):
            problems.append(f"{column} ids must be at most {MAX_ID_LENGTH} characters (they name output files): "
                            f"row(s) {_rows(too_long)}, e.g. one of {len(table.at[too_long[0], column])} characters")
    duplicated = table["recording"].duplicated(keep=False) & (table["recording"] != "")
    if duplicated.any():
        ids = sorted(set(table.loc[duplicated, "recording"]))
        problems.append(f"duplicate recording id(s) {', '.join(ids[:MAX_LISTED])} "
                        f"in row(s) {_rows(table.index[duplicated])}")

    unknown = ~table["label"].isin(classes) & (table["label"] != "")
    if unknown.any():
        counts = table.loc[unknown, "label"].value_counts().sort_index()
        listing = ", ".join(f"{label} ({n})" for label, n in counts.items())
        if drop_unknown_labels:
            notes.append(f"dropped {int(unknown.sum())} recording(s) whose label is not in classes: {listing}")
        else:
            problems.append(_misspelt_classes(classes, set(table["label"]))
                            + f"label(s) not in classes {classes}: {listing}, in row(s) {_rows(table.index[unknown])}")

    numeric = {}
    for column in ("activation", "valence", "start", "end"):
        values = pd.to_numeric(table[column].replace("", np.nan), errors="coerce")
        bad = table.index[values.isna() & (table[column] != "") | np.isinf(values)]
        if len(bad):
            problems.append(f"non-numeric {column} in row(s) {_rows(bad)}, e.g. {table.at[bad[0], column]!r}")
        numeric[column] = values
    segment = numeric["start"].notna() & numeric["end"].notna()
    backwards = table.index[segment & (numeric["end"] <= numeric["start"])]
    if len(backwards):
        problems.append(f"end must be after start in row(s) {_rows(backwards)}")
    negative = table.index[(numeric["start"] < 0) | (numeric["end"] <= 0)]
    if len(negative):
        problems.append(f"start must be >= 0 and end > 0 in row(s) {_rows(negative)}")
    bad_region = table.index[~table["region"].isin(["", *REGIONS])]
    if len(bad_region):
        problems.append(f"region must be empty, 'left' or 'right' in row(s) {_rows(bad_region)}")
    bad_split = table.index[~table["split"].isin(["", TRAIN_ONLY])]
    if len(bad_split):
        problems.append(f"split must be empty or {TRAIN_ONLY!r} in row(s) {_rows(bad_split)}, "
                        f"e.g. {table.at[bad_split[0], 'split']!r}")

    keep = ~unknown if drop_unknown_labels else pd.Series(True, index=table.index)
    if check_files:
        # A path is a video file or a folder of frames.
        absent = [(i, p) for i, p in table.loc[keep, "path"].items()
                  if p and not (os.path.isfile(p) or os.path.isdir(p))]
        if absent:
            listing = "\n      ".join(f"row {i + 2}: {p}" for i, p in absent)
            problems.append(f"{len(absent)} video file(s) do not exist:\n      {listing}")
        segment_of_folder = table.index[keep & (numeric["start"].notna() | numeric["end"].notna())
                                        & table["path"].map(lambda p: bool(p) and os.path.isdir(p))]
        if len(segment_of_folder):
            problems.append(f"start and end select seconds of a video, but row(s) {_rows(segment_of_folder)} name a "
                            "folder of frames, which has no frame rate; leave start and end empty for them")
    sessions = sorted(set(table.loc[keep, "session"]) - {""})
    if len(sessions) < 2:
        problems.append(f"leave-one-session-out needs at least 2 sessions, found {len(sessions)}: {sessions}")
    train_only = table["split"] == TRAIN_ONLY
    mixed = sorted(set(table.loc[keep & train_only, "session"]) & set(table.loc[keep & ~train_only, "session"]))
    if mixed:
        problems.append(f"session(s) {', '.join(mixed[:MAX_LISTED])} mix split {TRAIN_ONLY!r} with tested recordings; "
                        "a session is tested as a whole or used for training only")
    if len(sessions) >= 2 and not (keep & ~train_only).any():
        problems.append(f"every recording has split {TRAIN_ONLY!r}: nothing would be tested")

    if problems:
        raise ManifestError(f"{source}: {len(problems)} problem(s):\n  - " + "\n  - ".join(problems))
    result = table.loc[keep].copy()
    for column, values in numeric.items():
        result[column] = values.loc[keep]
    return result, notes


def resolve_paths(paths, folder: Path | str) -> list[str]:
    """Video paths as written in a tsv: relative ones are relative to the tsv's folder."""
    return [p if not p or os.path.isabs(p) else os.path.normpath(Path(folder) / p) for p in paths]


def read_tsv(path: Path | str) -> pd.DataFrame:
    """A hand-written tab-separated file (a corpus manifest, predict.recordings) as strings: the
    first line is the header, every other non-blank line one row, with as many fields as the
    header. The index is the line's number less 2, so that `_rows` names the file's lines.

    No quoting: a `"` is an ordinary character (read as CSV, a stray quote in any cell swallowed
    the lines up to the next quote into one field, and those recordings vanished). Refused, naming
    the file: not UTF-8, a column facemotion reads named twice, a row with more or fewer fields
    than the header (a spreadsheet's empty last column would shift every field)."""
    path = Path(path)
    try:
        lines = read_utf8(path).split("\n")
    except OSError as error:
        raise ManifestError(f"{path}: cannot be read: {error.strerror or error}") from None
    header = [name.strip() for name in lines[0].rstrip("\r").split("\t")]
    twice = [name for name in dict.fromkeys(header) if header.count(name) > 1 and name in MANIFEST_COLUMNS]
    if twice:
        raise ManifestError(f"{path}: column(s) {', '.join(map(repr, twice))} appear more than once in the header "
                            f"(columns {', '.join(str(i + 1) for i, name in enumerate(header) if name in twice)}); "
                            "keep one of each")
    rows, index, wrong = [], [], {}
    for number, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            wrong.setdefault(len(fields), []).append(number - 2)
        rows.append(fields)
        index.append(number - 2)
    if wrong:
        counts = "; ".join(f"row(s) {_rows(pd.Index(at))} have {n} fields" for n, at in sorted(wrong.items()))
        raise ManifestError(f"{path}: {counts}, the header {len(header)}; every row needs one field per column "
                            "(an extra empty field is a tab at the end of the line)")
    table = pd.DataFrame(rows, columns=header, index=index, dtype=str)
    return table.loc[:, ~table.columns.duplicated()]


def read_utf8(path: Path) -> str:
    """The file's text; anything but UTF-8 (with or without a byte-order mark) is refused,
    naming the line and byte, rather than read as the wrong characters."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        utf16 = " (it looks like UTF-16)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise ManifestError(f"{path}: not UTF-8 text{utf16}: byte 0x{data[error.start]:02x} in line {line} "
                            f"cannot be decoded; save the file as UTF-8") from None


def unknown_column_notes(columns, source: str) -> list[str]:
    """A warning per column that facemotion does not read: a misspelt optional column would
    otherwise be ignored without a word."""
    notes = []
    for column in columns:
        if column not in MANIFEST_COLUMNS:
            close = difflib.get_close_matches(column, MANIFEST_COLUMNS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            notes.append(f"{source}: column {column!r} is not one facemotion reads and is ignored{hint}; "
                         f"known columns: {', '.join(MANIFEST_COLUMNS)}")
    return notes


def speakers_known(table: pd.DataFrame) -> bool:
    """Whether a manifest (or a table of its recordings' predictions) names speakers: a corpus
    without speaker ids (DFEW, MAFW, FERV39k) leaves the column empty. A table without rows says
    nothing against it."""
    return bool(table["speaker"].fillna("").astype(str).ne("").any()) if len(table) else True


def speaker_independent(table: pd.DataFrame, group: str = "session") -> bool:
    """Whether every speaker is in one session only (``group``: or one fold of a table of
    predictions), so that no fold tests a speaker it trained on (False when speakers are unknown:
    nothing shows it)."""
    return speakers_known(table) and bool((table.groupby("speaker")[group].nunique() <= 1).all())


def check_corpus(table: pd.DataFrame, config: dict, rows_are_lines: bool) -> list[str]:
    """What makes a valid manifest wrong for this configuration or leaks between folds: speakers
    in several sessions, one video (same file or same content) in several sessions, classes no
    recording has, ratings outside rating_scale. `rows_are_lines`: the table's index counts the
    rows of a manifest file (row numbers are then named besides recording ids)."""
    def where(index) -> str:
        ids = table.loc[index, "recording"].tolist()
        shown = ", ".join(ids[:MAX_LISTED]) + (f" (and {len(ids) - MAX_LISTED} more)" if len(ids) > MAX_LISTED else "")
        return f"row(s) {_rows(index)}: {shown}" if rows_are_lines else f"recording(s) {shown}"

    problems = []
    if not config["cv"]["speakers_may_span_sessions"] and speakers_known(table):
        # A corpus that names no speakers (pooled with one that does) has none to span sessions.
        named = table[table["speaker"].fillna("").astype(str) != ""]
        sessions_of = named.groupby("speaker")["session"].unique()
        spanning = sessions_of[sessions_of.map(len) > 1]
        for speaker, sessions in list(spanning.items())[:MAX_LISTED]:
            problems.append(f"speaker {speaker!r} is in sessions {', '.join(sorted(sessions))}: a fold would test a "
                            "speaker it trained on; give each speaker one session, or set "
                            "cv.speakers_may_span_sessions: true (results then not speaker-independent)")
    problems.extend(_shared_videos(table, where))
    present = set(table["label"])
    absent = [c for c in config["classes"] if c not in present]
    if absent:
        problems.append(f"classes {absent} have no recording in the corpus (chance and UAR would count them); "
                        f"remove them from classes; the corpus has: {sorted(present)}")
    low, high = config["rating_scale"]["min"], config["rating_scale"]["max"]
    for column in ("activation", "valence"):
        outside = table.index[(table[column] < low) | (table[column] > high)]
        if len(outside):
            problems.append(f"{column} outside rating_scale [{low:g}, {high:g}] in {where(outside)}, e.g. "
                            f"{table.at[outside[0], column]:g}; fix the ratings or set rating_scale to the "
                            "corpus's scale")
    return problems


def _shared_videos(table: pd.DataFrame, where) -> list[str]:
    """Recordings of different sessions whose videos are one file or have identical content.

    Identical content: same size, then the same SHA-256 of the first and last 64 KiB, then of
    the whole file; only files of equal size are read at all, so a corpus costs one stat a file
    (a folder of frames: a listing and a stat per image; see content_hash)."""
    by_size: dict[int, list[tuple[int, str]]] = {}
    for i, p in table["path"].items():
        size = content_size(p) if os.path.isfile(p) or os.path.isdir(p) else None
        # A folder without image bytes is no recording to leak (its extraction reports it unreadable).
        if size or os.path.isfile(p):
            by_size.setdefault(size, []).append((i, p))
    problems = []
    for group in by_size.values():
        for candidates in _in_several_sessions(table, group, whole=False):
            for same in _in_several_sessions(table, [(i, table.at[i, "path"]) for i in candidates], whole=True):
                sessions = sorted(set(table.loc[same, "session"]))
                files = sorted(set(table.loc[same, "path"]))
                what = f"the file {files[0]}" if len(files) == 1 else f"files of identical content ({', '.join(files)})"
                problems.append(f"{where(pd.Index(same))} in sessions {', '.join(sessions)} use {what}: a fold "
                                "would test a video it trained on")
    return problems


def _in_several_sessions(table: pd.DataFrame, group: list[tuple[int, str]], whole: bool) -> list[list[int]]:
    """`group` (rows and paths) split by content hash, keeping the parts that span sessions."""
    session = {i: table.at[i, "session"] for i, _ in group}
    if len(set(session.values())) < 2:
        return []
    by_hash: dict[str, list[int]] = {}
    for i, path in group:
        by_hash.setdefault(content_hash(path, whole), []).append(i)
    # A dict, not table.loc per part: frame folders of equal size come in groups of thousands.
    return [rows for rows in by_hash.values() if len({session[i] for i in rows}) > 1]


def content_size(path: str | os.PathLike) -> int:
    """The bytes of a video file, or of a folder's frames (recordings.frame_files) together."""
    if os.path.isdir(path):
        with os.scandir(path) as entries:
            return sum(entry.stat().st_size for entry in entries if is_frame(entry))
    return os.path.getsize(path)


def content_hash(path: str | os.PathLike, whole: bool, edge: int = 65536) -> str:
    """SHA-256 of the whole file, or (`whole` False) of its first and last `edge` bytes: with the
    size, the cheap identity of a video's content (the leakage check, the extraction cache).

    A folder of frames: the SHA-256 of its frames' names in natural order, each with its size and
    content_hash, so that a copy keeps its identity and an edited, added, removed or renamed frame
    changes it."""
    digest = hashlib.sha256()
    if os.path.isdir(path):
        for file in frame_files(path):
            entry = f"{os.path.basename(file)}\t{os.path.getsize(file)}\t{content_hash(file, whole, edge)}\n"
            digest.update(entry.encode())
        return digest.hexdigest()
    with open(path, "rb") as handle:
        if whole:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        else:
            digest.update(handle.read(edge))
            handle.seek(max(0, os.path.getsize(path) - edge))
            digest.update(handle.read(edge))
    return digest.hexdigest()


def write_manifest(table: pd.DataFrame, path: Path | str) -> None:
    # Several corpora: each row's corpus too (corpora.cross_corpus); a single corpus has no such column.
    columns = MANIFEST_COLUMNS + [column for column in ("corpus",) if column in table.columns]
    table[columns].to_csv(path, sep="\t", index=False, na_rep="", float_format="%.10g")


def describe_manifest(table: pd.DataFrame, notes: list[str]) -> str:
    """The manifest job's log: what reading the corpus noted, then the counts."""
    speakers = f"{table['speaker'].nunique()} speakers" if speakers_known(table) else "speakers not named"
    summary = (f"{len(table)} recordings, {speakers}, "
               f"{table['session'].nunique()} sessions")
    return "".join(f"{line}\n" for line in [*notes, summary])


def assign_batches(recordings: list[str], per_job: int) -> dict[str, list[str]]:
    """Group recordings into extraction jobs of at most about `per_job` recordings each
    (between per_job / 2 and per_job on average).

    A recording's batch follows from a hash of its id, and the number of batches is a power of
    two, so adding a few recordings changes only the batches they land in: Snakemake reruns just
    those jobs, and the per-recording cache inside them extracts only the new recordings.
    """
    n_batches = 2 ** max(0, math.ceil(math.log2(max(1.0, len(recordings) / per_job))))
    batches: dict[str, list[str]] = {}
    for recording in sorted(recordings):
        bucket = int(hashlib.sha1(recording.encode()).hexdigest(), 16) % n_batches
        batches.setdefault(f"{bucket:04d}", []).append(recording)
    return dict(sorted(batches.items()))


def train_only_sessions(manifest: pd.DataFrame) -> list[str]:
    """Sessions whose recordings are used for training only (split `train`): never a fold."""
    return sorted(set(manifest.loc[manifest["split"] == TRAIN_ONLY, "session"]))
