"""The feature table (results/features.parquet): one row per kept recording.

Columns: recording, speaker, session, label (string); activation, valence (float64, null
when unknown); frame_index (list<int32>); then the features as fixed-size binary, one value
per recording holding the C-order array:
  pixels     uint8   (n_frames, face_size, face_size)          for features "pixels"
  landmarks  float32 (n_frames, 68, 2), geometry float32 (n_frames, 6)  for "landmarks"
The shapes and the extraction settings live in the schema metadata under b"facemotion".

Extraction batches write the same table, and their report rows beside it in the final
report's format, so gathering is a concatenation and a sort. Files are written atomically and
byte-identically for the same input (sorted rows, row groups of ROW_GROUP_ROWS, no pandas
metadata, fixed writer options; Parquet stores no timestamps).
"""

from __future__ import annotations

import collections
import csv
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from facemotion.common.files import atomic_path, reading
from facemotion.corpora.manifest import content_hash
from facemotion.extraction.records import OK, REPORT_COLUMNS, Record
from facemotion.extraction.settings import ExtractionSettings, library_versions

log = logging.getLogger(__name__)

META_KEY = b"facemotion"
FORMAT_VERSION = 1
SCALAR_COLUMNS = ["recording", "speaker", "session", "label", "activation", "valence"]
# Uncompressed: the table is written once and read by every training job, and is small next
# to the videos (docs/performance.md). The row group size is part of the file's bytes.
COMPRESSION = "none"
ROW_GROUP_ROWS = 128


def feature_shapes(features: str, n_frames: int, face_size: int) -> dict[str, tuple[tuple[int, ...], str]]:
    """Feature column -> (per-recording array shape, numpy dtype)."""
    if features == "pixels":
        return {"pixels": ((n_frames, face_size, face_size), "uint8")}
    if features == "landmarks":
        return {"landmarks": ((n_frames, 68, 2), "float32"), "geometry": ((n_frames, 6), "float32")}
    raise ValueError(f"unknown features {features!r}")


def _metadata(settings: ExtractionSettings) -> dict:
    return {"format_version": FORMAT_VERSION, "features": settings.features, "n_frames": settings.n_frames,
            "face_size": settings.face_size, "settings": settings.recorded(),
            "libraries": library_versions(), "fingerprint": settings.fingerprint()}


def _schema(meta: dict) -> pa.Schema:
    fields = [pa.field(name, pa.string(), nullable=False) for name in SCALAR_COLUMNS[:4]]
    fields += [pa.field("activation", pa.float64()), pa.field("valence", pa.float64()),
               pa.field("frame_index", pa.list_(pa.int32()), nullable=False)]
    for name, (shape, dtype) in feature_shapes(meta["features"], meta["n_frames"], meta["face_size"]).items():
        width = int(np.prod(shape)) * np.dtype(dtype).itemsize
        fields.append(pa.field(name, pa.binary(width), nullable=False))
    return pa.schema(fields, metadata={META_KEY: json.dumps(meta, sort_keys=True).encode()})


def _to_table(records: Sequence[Record], settings: ExtractionSettings) -> pa.Table:
    meta = _metadata(settings)
    schema = _schema(meta)
    records = sorted(records, key=lambda r: r.recording)
    ids = [r.recording for r in records]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate recording ids in the feature records")
    columns = {
        "recording": ids,
        "speaker": [r.speaker for r in records],
        "session": [r.session for r in records],
        "label": [r.label for r in records],
        "activation": [r.activation for r in records],
        "valence": [r.valence for r in records],
        "frame_index": [r.result.frame_index for r in records],
    }
    for name, (shape, dtype) in feature_shapes(meta["features"], meta["n_frames"], meta["face_size"]).items():
        columns[name] = []
        for r in records:
            array = getattr(r.result, name)
            if array is None or array.shape != shape or array.dtype != np.dtype(dtype):
                got = None if array is None else (array.shape, str(array.dtype))
                raise ValueError(f"{r.recording}: {name} must be {dtype} {shape} for these settings, got {got}")
            columns[name].append(array.tobytes())  # C order
    # from_pandas: NaN (an unknown rating) is stored as null.
    return pa.table({name: pa.array(values, schema.field(name).type, from_pandas=True)
                     for name, values in columns.items()}, schema=schema)


def _write_table(table: pa.Table, path: str | os.PathLike) -> None:
    """Write atomically. Statistics and dictionaries of the feature blobs would be useless and
    large; fixed options keep the bytes identical from run to run."""
    with atomic_path(path) as temporary:
        pq.write_table(table, temporary, row_group_size=ROW_GROUP_ROWS, compression=COMPRESSION,
                       use_dictionary=["recording", "speaker", "session", "label"],
                       write_statistics=["recording", "speaker", "session", "label", "activation", "valence"],
                       store_schema=True)


def write_feature_table(records: Sequence[Record], path: str | os.PathLike, settings: ExtractionSettings) -> None:
    """Write the kept records, sorted by recording id, atomically."""
    _write_table(_to_table(records, settings), path)


@dataclass
class FeatureTable:
    meta: pd.DataFrame                 # SCALAR_COLUMNS + frame_index (int32 arrays)
    pixels: np.ndarray | None          # uint8 (N, n_frames, s, s)
    landmarks: np.ndarray | None       # float32 (N, n_frames, 68, 2)
    geometry: np.ndarray | None        # float32 (N, n_frames, 6)
    settings: dict                     # the extraction settings (with "features", "n_frames", ...)

    def __len__(self) -> int:
        return len(self.meta)


def model_input(source, features: str) -> np.ndarray | None:
    """The array the models learn from, from a FeatureTable or one ExtractionResult: the face
    crops for `pixels`, the seed's 6 geometric features per frame for `landmarks`."""
    return source.pixels if features == "pixels" else source.geometry


def _fixed_binary_rows(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A fixed-size binary column's values as (rows, width) uint8, viewing its buffers where it
    has one chunk."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    width = column.type.byte_width
    parts = [np.frombuffer(chunk.buffers()[1], np.uint8, len(chunk) * width, chunk.offset * width).reshape(-1, width)
             for chunk in chunks if len(chunk)]
    return parts[0] if len(parts) == 1 else np.concatenate([np.zeros((0, width), np.uint8), *parts])


def _table_metadata(schema: pa.Schema, path: str | os.PathLike) -> dict:
    if not schema.metadata or META_KEY not in schema.metadata:
        raise ValueError(f"{path} is not a facemotion feature table (no {META_KEY.decode()} metadata)")
    return json.loads(schema.metadata[META_KEY])


def read_feature_table(path: str | os.PathLike) -> FeatureTable:
    """Read the table back: exactly the arrays that were written.

    The feature arrays are filled row group by row group: the job holds them once, plus one row
    group (a table read whole, or from a memory map of the file, would count them twice or three
    times at their largest; docs/performance.md)."""
    with reading(path):
        file = pq.ParquetFile(path)
        meta = _table_metadata(file.schema_arrow, path)
        shapes = feature_shapes(meta["features"], meta["n_frames"], meta["face_size"])
        table = file.read(columns=[*SCALAR_COLUMNS, "frame_index"])
        # Each recording's array as the bytes the column holds (C order), filled row group by row group.
        byte_rows = {name: np.empty((len(table), int(np.prod(shape)) * np.dtype(dtype).itemsize), np.uint8)
                     for name, (shape, dtype) in shapes.items()}
        start = 0
        for group in range(file.num_row_groups):
            batch = file.read_row_group(group, columns=list(byte_rows))
            for name, rows in byte_rows.items():
                rows[start : start + len(batch)] = _fixed_binary_rows(batch.column(name))
            start += len(batch)
    arrays = {name: byte_rows[name].view(dtype).reshape((len(table), *shape))
              for name, (shape, dtype) in shapes.items()}
    frame = pd.DataFrame({name: table.column(name).to_pylist() for name in SCALAR_COLUMNS[:4]})
    for name in ("activation", "valence"):
        frame[name] = table.column(name).to_numpy().astype(np.float64)
    frame["frame_index"] = [np.array(values, np.int32) for values in table.column("frame_index").to_pylist()]
    return FeatureTable(frame, arrays.get("pixels"), arrays.get("landmarks"), arrays.get("geometry"), meta["settings"])


# ----------------------------------------------------------------------------- batches and the report


def _report_fields(row: Mapping) -> list:
    """A report row's REPORT_COLUMNS values, the detail on one line (no tabs or line breaks)."""
    return [row["recording"], row["status"], int(row["faces_found"]), int(row["frames_read"]),
            " ".join(str(row["detail"]).split())]


def write_report(report: Iterable[Mapping], path: str | os.PathLike) -> None:
    """An extraction report (one mapping of REPORT_COLUMNS per manifest row) as a TSV, atomically."""
    with atomic_path(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(REPORT_COLUMNS)
        writer.writerows(_report_fields(row) for row in report)


def read_report(path: str | os.PathLike) -> list[dict]:
    """An extraction report back as rows of REPORT_COLUMNS (counts as int)."""
    with reading(path):
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        for row in rows:
            row["faces_found"], row["frames_read"] = int(row["faces_found"]), int(row["frames_read"])
    return rows


def _differences(a: dict, b: dict) -> str:
    """'key: a vs b' for every differing entry, one level into nested dicts (settings, libraries)."""
    found = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            found += [f"{key}.{k}: {x.get(k)} vs {y.get(k)}" for k in sorted(set(x) | set(y)) if x.get(k) != y.get(k)]
        elif x != y and key != "fingerprint":
            found.append(f"{key}: {x} vs {y}")
    return "; ".join(found) or "fingerprint"


def gather_batches(recordings: Sequence[str] | None, table_paths: Sequence[str | os.PathLike],
                   report_paths: Sequence[str | os.PathLike], out_features: str | os.PathLike,
                   out_report: str | os.PathLike, out_digest: str | os.PathLike | None = None,
                   untested: Sequence[str] = (), session_digests: bool = False) -> None:
    """Concatenate batch tables into the final table (sorted by recording) and the batch
    reports into one report in the order of `recordings` (the manifest's), each of which must
    have a report row. `out_digest`: where to write the table's SHA-256, which decides whether
    training reruns (the table's time does not: it is rewritten whenever a batch reruns);
    `session_digests` (several corpora): then one line per session, its name and the SHA-256 of
    its rows, so that a fold reruns only when the rows it reads change."""
    if not table_paths:
        raise ValueError("no extraction batches to gather")
    tables, metas = [], []
    for path in table_paths:
        with reading(path):
            tables.append(pq.read_table(path))
            metas.append(_table_metadata(tables[-1].schema, path))
    odd = next((i for i, meta in enumerate(metas) if meta != metas[0]), None)
    if odd is not None:
        raise ValueError(f"extraction batches were made with different settings or library versions: "
                         f"{table_paths[0]} vs {table_paths[odd]} ({_differences(metas[0], metas[odd])}); "
                         f"extract them all again: snakemake --forcerun extract_batch")
    report = [row for path in report_paths for row in read_report(path)]
    if recordings is not None:
        rank = {recording: i for i, recording in enumerate(recordings)}
        missing = sorted(set(rank) - {row["recording"] for row in report})
        if missing:
            raise ValueError(f"{len(missing)} manifest recording(s) have no extraction report row, "
                             f"e.g. {missing[:5]}")
        report.sort(key=lambda row: (rank.get(row["recording"], len(rank)), row["recording"]))
    # Cast to the written schema: Parquet reads list items back under another name, which would
    # change the bytes.
    schema = _schema(metas[0])
    # One chunk, and the batches as read let go, before sorting: sort_by on several chunks
    # concatenates them itself, which would hold the table three times instead of twice.
    table = pa.concat_tables([table.cast(schema) for table in tables]).combine_chunks()
    del tables
    ids = table.column("recording").to_pylist()
    if len(set(ids)) != len(ids):
        raise ValueError("a recording appears in more than one extraction batch")
    # Byte order of UTF-8 is code point order: sorted as _to_table sorts.
    table = table.sort_by("recording")
    _write_table(table, out_features)
    if out_digest is not None:
        lines = [content_hash(out_features, whole=True)]
        if session_digests:
            lines += [f"{session}\t{digest}" for session, digest in _session_digests(table).items()]
        with atomic_path(out_digest) as temporary:
            Path(temporary).write_text("\n".join(lines) + "\n")
    write_report(report, out_report)
    counts = ", ".join(f"{s} {n}" for s, n in sorted(collections.Counter(row["status"] for row in report).items()))
    warn_dropped_tests(report, set(untested), out_report)
    log.info("gathered %d batches: %d of %d recordings kept (%s)", len(table_paths), len(ids), len(report), counts)


def _session_digests(table: pa.Table) -> dict[str, str]:
    """{session: SHA-256 of its rows} (all columns, in recording order): a session's rows hash the
    same whatever other sessions the table holds."""
    sessions = table.column("session").to_pylist()
    digests = {}
    for session in sorted(set(sessions)):
        rows = table.filter(pa.array([s == session for s in sessions])).combine_chunks()
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, rows.schema) as writer:
            writer.write_table(rows)
        digests[session] = hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()
    return digests


def warn_dropped_tests(report: Sequence[dict], untested: set[str], report_path: str | os.PathLike) -> None:
    """Say on the console how many of the recordings listed for testing extraction dropped (those
    of every fold's held-out session, not `untested`): the folds then test fewer recordings than a
    benchmark's test set lists, and a published number is over all of them."""
    tested = [row for row in report if row["recording"] not in untested]
    dropped = collections.Counter(row["status"] for row in tested if row["status"] != OK)
    if dropped:
        log.warning("%d of the %d recordings listed for testing dropped at extraction (%s): the folds test %d; "
                    "which and why: %s", sum(dropped.values()), len(tested),
                    ", ".join(f"{status} {n}" for status, n in sorted(dropped.items())),
                    len(tested) - sum(dropped.values()), report_path)
