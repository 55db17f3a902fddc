"""The feature table (results/features.parquet): one row per kept recording.

Columns: recording, speaker, session, label (string); activation, valence (float64, null
when unknown); frame_index (list<int32>); then the features as fixed-size binary, one value
per recording holding the C-order array:
  pixels     uint8   (n_frames, face_size, face_size)          for features "pixels"
  landmarks  float32 (n_frames, 68, 2), geometry float32 (n_frames, 6)  for "landmarks"
The shapes and the extraction settings live in the schema metadata under b"facemotion".

Extraction batches write the same schema, plus their report rows under b"facemotion.report",
so gathering is a concatenation and a sort. Files are written atomically and byte-identically
for the same input (sorted rows, row groups of ROW_GROUP_ROWS, no pandas metadata, fixed writer
options; Parquet stores no timestamps).
"""

from __future__ import annotations

import collections
import contextlib
import csv
import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from facemotion.records import REPORT_COLUMNS, Record
from facemotion.settings import ExtractionSettings, library_versions
from facemotion.files import atomic_path
from facemotion.logs import sayer

if TYPE_CHECKING:  # imported where used: extraction jobs write batches without paying for pandas
    import pandas as pd

META_KEY = b"facemotion"
REPORT_KEY = b"facemotion.report"  # extraction batches only
FORMAT_VERSION = 1
SCALAR_COLUMNS = ["recording", "speaker", "session", "label", "activation", "valence"]
# No compression: measured on 2,000 recordings of 8 x 100 x 100 noisy drawn-face crops (160 MB),
# reading the table back into arrays took 0.04 s uncompressed, 0.07 s with snappy (no smaller)
# and 0.09-0.30 s with zstd, which saved 23 % (124 MB). The table is written once and re-read
# by every training job, and is small next to the videos.
COMPRESSION = "none"
# Tables are written and read one row group at a time, so neither gathering nor reading holds a
# second copy of all the features (128 rows of 8 x 100 x 100 crops are 10 MB). Fresh memory is
# what costs: after a few idle seconds this VM zeroes every new page again (clear_page, 45 % of
# the samples in `perf`). Gathering 1,000 demo recordings (4 batches, 77 MB) in a fresh process
# after 8 s idle: 0.42-0.49 s (4 runs) against 0.89-1.10 s for one sorted copy of the whole
# table; back to back 0.19-0.20 s against 0.20-0.69 s.
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
            "face_size": settings.face_size, "settings": dataclasses.asdict(settings),
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
    # Columns are built from numpy buffers: in pyarrow, pa.array() of anything imports pandas
    # (0.26 s of every extraction job) to check whether its input is a pandas object.
    columns = {
        "recording": _string_column(ids),
        "speaker": _string_column([r.speaker for r in records]),
        "session": _string_column([r.session for r in records]),
        "label": _string_column([r.label for r in records]),
        "activation": _float_column([r.activation for r in records]),
        "valence": _float_column([r.valence for r in records]),
        "frame_index": _int32_list_column([r.result.frame_index for r in records]),
    }
    for name, (shape, dtype) in feature_shapes(meta["features"], meta["n_frames"], meta["face_size"]).items():
        values = np.empty((len(records), schema.field(name).type.byte_width), np.uint8)  # filled in place: one copy
        for row, r in enumerate(records):
            array = getattr(r.result, name)
            if array is None or array.shape != shape or array.dtype != np.dtype(dtype):
                got = None if array is None else (array.shape, str(array.dtype))
                raise ValueError(f"{r.recording}: {name} must be {dtype} {shape} for these settings, got {got}")
            values[row] = np.ascontiguousarray(array).view(np.uint8).reshape(-1)
        columns[name] = pa.FixedSizeBinaryArray.from_buffers(schema.field(name).type, len(records),
                                                             [None, pa.py_buffer(values)])
    return pa.table(columns, schema=schema)


def _int32_column(values: np.ndarray) -> pa.Array:
    values = np.ascontiguousarray(values, dtype=np.int32)
    return pa.Array.from_buffers(pa.int32(), len(values), [None, pa.py_buffer(values)])


def _string_column(values: Sequence[str]) -> pa.Array:
    encoded = [value.encode() for value in values]
    offsets = np.cumsum([0] + [len(value) for value in encoded], dtype=np.int32)
    return pa.StringArray.from_buffers(len(encoded), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded)))


def _float_column(values: Sequence[float]) -> pa.Array:
    """float64 with NaN (unknown) as null."""
    array = np.asarray(values, dtype=np.float64)
    missing = np.isnan(array)
    validity = pa.py_buffer(np.packbits(~missing, bitorder="little")) if missing.any() else None
    return pa.Array.from_buffers(pa.float64(), len(array), [validity, pa.py_buffer(array)])


def _int32_list_column(arrays: Sequence[np.ndarray]) -> pa.Array:
    offsets = np.cumsum([0] + [len(array) for array in arrays], dtype=np.int32)
    values = np.concatenate(arrays).astype(np.int32) if len(arrays) else np.zeros(0, np.int32)
    return pa.ListArray.from_arrays(_int32_column(offsets), _int32_column(values))


def _write_table(schema: pa.Schema, row_groups: Iterable[pa.Table], path: str | os.PathLike) -> None:
    """Write the tables `row_groups` as the row groups of one file, atomically."""
    # Statistics and dictionaries of 80 KB blobs are useless and large; fixed options keep the
    # bytes identical from run to run.
    options = dict(compression=COMPRESSION, use_dictionary=["recording", "speaker", "session", "label"],
                   write_statistics=["recording", "speaker", "session", "label", "activation", "valence"],
                   store_schema=True)
    with atomic_path(path) as temporary, pq.ParquetWriter(temporary, schema, **options) as writer:
        for rows in row_groups:
            writer.write_table(rows, row_group_size=ROW_GROUP_ROWS)


def write_feature_table(records: Sequence[Record], path: str | os.PathLike, settings: ExtractionSettings) -> None:
    """Write the kept records, sorted by recording id, atomically."""
    _write_in_row_groups(_to_table(records, settings), path)


def _write_in_row_groups(table: pa.Table, path: str | os.PathLike) -> None:
    starts = range(0, max(table.num_rows, 1), ROW_GROUP_ROWS)  # an empty table: one empty row group
    _write_table(table.schema, (table.slice(start, ROW_GROUP_ROWS) for start in starts), path)


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


def _fixed_binary_to_numpy(column: pa.ChunkedArray, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """A fixed-size binary column as an (N, *shape) array (a view of its buffer when it has one chunk)."""
    width = int(np.prod(shape)) * np.dtype(dtype).itemsize
    parts = [np.frombuffer(chunk.buffers()[1], dtype=np.uint8)[chunk.offset * width:(chunk.offset + len(chunk)) * width]
             for chunk in column.chunks if len(chunk)]
    raw = parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else np.zeros(0, np.uint8)
    return raw.view(dtype).reshape((len(column),) + tuple(shape))


def _open_table(path: str | os.PathLike) -> pq.ParquetFile:
    # Memory-mapped, the file is decoded straight into one copy instead of being read into a
    # buffer first; and not pq.read_table, which imports pyarrow.dataset (~0.2 s of every job
    # that reads a table).
    return pq.ParquetFile(path, memory_map=True)


def read_metadata(path: str | os.PathLike) -> dict:
    return _table_metadata(pq.read_schema(path), path)


def _table_metadata(schema: pa.Schema, path: str | os.PathLike) -> dict:
    if not schema.metadata or META_KEY not in schema.metadata:
        raise ValueError(f"{path} is not a facemotion feature table (no {META_KEY.decode()} metadata)")
    return json.loads(schema.metadata[META_KEY])


def read_feature_table(path: str | os.PathLike) -> FeatureTable:
    """Read the table back: exactly the arrays that were written."""
    import pandas as pd

    meta = read_metadata(path)
    with _open_table(path) as parquet:
        table = parquet.read(columns=SCALAR_COLUMNS + ["frame_index"])
        shapes = feature_shapes(meta["features"], meta["n_frames"], meta["face_size"])
        arrays = {name: np.empty((table.num_rows,) + tuple(shape), dtype) for name, (shape, dtype) in shapes.items()}
        start = 0
        for group in range(parquet.num_row_groups):  # one row group decoded at a time (see ROW_GROUP_ROWS)
            rows = parquet.read_row_group(group, columns=list(shapes))
            for name, (shape, dtype) in shapes.items():
                arrays[name][start:start + rows.num_rows] = _fixed_binary_to_numpy(rows.column(name), tuple(shape), dtype)
            start += rows.num_rows
    frame = pd.DataFrame({name: table.column(name).to_pylist() for name in SCALAR_COLUMNS[:4]})
    for name in ("activation", "valence"):
        frame[name] = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
    offsets_column = table.column("frame_index").combine_chunks()
    values = offsets_column.flatten().to_numpy().astype(np.int32)
    offsets = offsets_column.offsets.to_numpy() - offsets_column.offsets[0].as_py()
    frame["frame_index"] = [values[offsets[i]:offsets[i + 1]] for i in range(len(frame))]
    return FeatureTable(frame, arrays.get("pixels"), arrays.get("landmarks"), arrays.get("geometry"), meta["settings"])


# ----------------------------------------------------------------------------- batches


def write_batch(records: Sequence[Record], report: Iterable[Mapping], settings: ExtractionSettings,
                path: str | os.PathLike) -> None:
    """One extraction batch, one file: its feature table (same schema as the final one) with the
    batch's report (one mapping of REPORT_COLUMNS per manifest row) in the file's metadata. A
    batch is written whole or not at all, and Snakemake hashes the batch's videos for one
    output instead of two (0.1 s of its main process per batch)."""
    table = _to_table(records, settings)
    rows = [_report_fields(row) for row in report]
    _write_in_row_groups(table.replace_schema_metadata({**table.schema.metadata, REPORT_KEY: json.dumps(rows).encode()}),
                         path)


def read_batch_report(path: str | os.PathLike) -> list[dict]:
    """The report rows a batch file carries (see write_batch)."""
    return _batch_report(pq.read_schema(path), path)


def _batch_report(schema: pa.Schema, path: str | os.PathLike) -> list[dict]:
    metadata = schema.metadata or {}
    if REPORT_KEY not in metadata:
        raise ValueError(f"{path} is not an extraction batch of this version (no {REPORT_KEY.decode()} metadata); "
                         f"extract it again: snakemake --forcerun extract_batch")
    return [dict(zip(REPORT_COLUMNS, row)) for row in json.loads(metadata[REPORT_KEY])]


def _report_fields(row: Mapping) -> list:
    """A report row's REPORT_COLUMNS values, the detail on one line (no tabs or line breaks)."""
    return [row["recording"], row["status"], int(row["faces_found"]), int(row["frames_read"]),
            " ".join(str(row["detail"]).split())]


def _write_report(report: Iterable[Mapping], path: str | os.PathLike) -> None:
    with atomic_path(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(REPORT_COLUMNS)
        writer.writerows(_report_fields(row) for row in report)


def read_report(path: str | os.PathLike) -> list[dict]:
    """An extraction report back as rows of REPORT_COLUMNS (counts as int)."""
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


def gather_batches(recordings: Sequence[str] | None, batch_paths: Sequence[str | os.PathLike],
                   out_features: str | os.PathLike, out_report: str | os.PathLike,
                   log: logging.Logger | Callable[[str], object] | None = None) -> None:
    """Concatenate batch tables into the final table (sorted by recording) and their reports
    into one report in the order of `recordings` (the manifest's), each of which must have a
    report row."""
    say = sayer(log)
    if not batch_paths:
        raise ValueError("no extraction batches to gather")
    with contextlib.ExitStack() as opened:  # each batch's footer read once
        batches = [opened.enter_context(_open_table(path)) for path in batch_paths]
        metas = [_table_metadata(batch.schema_arrow, path) for batch, path in zip(batches, batch_paths)]
        odd = next((i for i, meta in enumerate(metas) if meta != metas[0]), None)
        if odd is not None:
            raise ValueError(f"extraction batches were made with different settings or library versions: "
                             f"{batch_paths[0]} vs {batch_paths[odd]} ({_differences(metas[0], metas[odd])}); "
                             f"extract them all again: snakemake --forcerun extract_batch")
        report = [row for batch, path in zip(batches, batch_paths) for row in _batch_report(batch.schema_arrow, path)]
        if recordings is not None:
            rank = {recording: i for i, recording in enumerate(recordings)}
            missing = sorted(set(rank) - {row["recording"] for row in report})
            if missing:
                raise ValueError(f"{len(missing)} manifest recording(s) have no extraction report row, "
                                 f"e.g. {missing[:5]}")
            report.sort(key=lambda row: (rank.get(row["recording"], len(rank)), row["recording"]))
        # Every row group of every batch on its own (one chunk each), cast to the canonical schema:
        # Parquet renames list items, which would change the bytes (and the report is left behind).
        schema = _schema(metas[0])
        parts = [batch.read_row_group(group).cast(schema) for batch in batches for group in range(batch.num_row_groups)]
    recordings_found = [recording for part in parts for recording in part.column("recording").to_pylist()]
    if len(set(recordings_found)) != len(recordings_found):
        raise ValueError("a recording appears in more than one extraction batch")
    order = sorted(range(len(recordings_found)), key=recordings_found.__getitem__)  # as write_feature_table sorts
    _write_table(schema, _row_groups_in_order(parts, order), out_features)
    _write_report(report, out_report)
    counts = ", ".join(f"{s} {n}" for s, n in sorted(collections.Counter(row["status"] for row in report).items()))
    say(f"gathered {len(batch_paths)} batches: {len(order)} of {len(report)} recordings kept ({counts})")


def _row_groups_in_order(parts: Sequence[pa.Table], order: Sequence[int]) -> Iterator[pa.Table]:
    """The rows `order` (indices into `parts` laid end to end), ROW_GROUP_ROWS at a time, each
    part taken from on its own: take() on a table of several chunks concatenates them first,
    a copy of the whole table for every row group (34 ms per 128 rows of 4 x 250 demo rows)."""
    sizes = [part.num_rows for part in parts]
    part_of, first = np.repeat(np.arange(len(parts)), sizes), np.cumsum([0] + sizes)
    if not order:
        yield parts[0].slice(0, 0)
    for start in range(0, len(order), ROW_GROUP_ROWS):
        rows = np.asarray(order[start:start + ROW_GROUP_ROWS])
        grouped = np.argsort(part_of[rows], kind="stable")  # the rows part by part, in order within each
        pieces = [parts[k].take(_int32_column(rows[grouped][part_of[rows[grouped]] == k] - first[k]))
                  for k in np.unique(part_of[rows])]  # pyarrow indices: numpy ones import pandas
        yield pa.concat_tables(pieces).take(_int32_column(np.argsort(grouped)))  # back into `order`
