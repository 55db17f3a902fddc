"""The parquet feature table: exact round trips, deterministic bytes, atomic writes, gathering."""

import json
import logging
import os
import stat

import dlib
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from facemotion.common.files import atomic_path
from facemotion.common.logs import JobError
from facemotion.extraction import feature_table as features
from facemotion.extraction.feature_table import (
    META_KEY,
    gather_batches,
    read_feature_table,
    read_report,
    write_feature_table,
    write_report,
)
from facemotion.extraction.records import ExtractionResult, Record
from facemotion.extraction.settings import ExtractionSettings


def pixel_records(ids, n=8, size=16, seed=0):
    rng = np.random.default_rng(seed)
    records = []
    for k, recording in enumerate(ids):
        result = ExtractionResult("ok", n, 100 + k, "", np.sort(rng.choice(500, n, replace=False)).astype(np.int32),
                                  pixels=rng.integers(0, 256, (n, size, size), dtype=np.uint8))
        records.append(Record(recording, f"F0{k % 3}", str(k % 2 + 1), ["Happy", "Sad"][k % 2],
                              np.nan if k == 1 else 1.0 + k / 7, 2.5 + k, result))
    return records


def landmark_records(ids, n=4, seed=1):
    rng = np.random.default_rng(seed)
    return [Record(r, "M01", "3", "Angry", 4.2, np.nan,
                   ExtractionResult("ok", n, 50, "", np.arange(n, dtype=np.int32) * 3,
                                    landmarks=rng.random((n, 68, 2), dtype=np.float32),
                                    geometry=rng.standard_normal((n, 6)).astype(np.float32)))
            for r in ids]


PIXELS = ExtractionSettings(n_frames=8, face_size=16)
LANDMARKS = ExtractionSettings(n_frames=4, features="landmarks")


@pytest.fixture(params=["one row group", "row groups of 2"])
def row_group_rows(request, monkeypatch):
    """Tables are written in row groups of ROW_GROUP_ROWS: check both one and several."""
    if request.param == "row groups of 2":
        monkeypatch.setattr(features, "ROW_GROUP_ROWS", 2)
    return features.ROW_GROUP_ROWS


def row_groups(path):
    return pq.ParquetFile(path).metadata.num_row_groups


def test_pixel_round_trip_is_exact_and_sorted(tmp_path, row_group_rows):
    records = pixel_records(["c", "a", "b"])
    path = tmp_path / "f.parquet"
    write_feature_table(records, path, PIXELS)
    assert row_groups(path) == (2 if row_group_rows == 2 else 1)
    table = read_feature_table(path)
    order = [1, 2, 0]  # sorted by recording id
    assert list(table.meta.recording) == ["a", "b", "c"]
    assert table.pixels.dtype == np.uint8 and table.pixels.shape == (3, 8, 16, 16)
    np.testing.assert_array_equal(table.pixels, np.stack([records[i].result.pixels for i in order]))
    for got, i in zip(table.meta.frame_index, order):
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, records[i].result.frame_index)
    assert table.landmarks is None and table.geometry is None
    assert list(table.meta.speaker) == [records[i].speaker for i in order]
    assert list(table.meta.session) == ["2", "1", "1"] and list(table.meta.label) == ["Sad", "Happy", "Happy"]
    assert np.isnan(table.meta.activation[0]) and table.meta.activation[1] == records[2].activation
    assert table.meta.valence.dtype == np.float64
    assert table.settings["face_size"] == 16 and table.settings["features"] == "pixels"


def test_landmark_round_trip_is_exact(tmp_path, row_group_rows):
    records = landmark_records(["x", "y", "z"])
    path = tmp_path / "f.parquet"
    write_feature_table(records, path, LANDMARKS)
    table = read_feature_table(path)
    assert table.pixels is None
    assert table.landmarks.dtype == np.float32 and table.landmarks.shape == (3, 4, 68, 2)
    np.testing.assert_array_equal(table.landmarks, np.stack([r.result.landmarks for r in records]))
    np.testing.assert_array_equal(table.geometry, np.stack([r.result.geometry for r in records]))


def test_schema_types_and_metadata(tmp_path):
    path = tmp_path / "f.parquet"
    write_feature_table(pixel_records(["a", "b"]), path, PIXELS)
    schema = pq.read_schema(path)
    assert schema.field("frame_index").type.value_type == pa.int32()
    assert str(schema.field("pixels").type) == f"fixed_size_binary[{8 * 16 * 16}]"
    assert str(schema.field("activation").type) == "double"
    meta = json.loads(schema.metadata[META_KEY])
    assert (meta["features"], meta["n_frames"], meta["face_size"]) == ("pixels", 8, 16)
    assert meta["settings"]["detect_width"] == 400 and meta["fingerprint"] == PIXELS.fingerprint()
    assert b"pandas" not in schema.metadata


def test_output_is_byte_identical_for_the_same_input(tmp_path):
    records = pixel_records(["b", "a", "c"])
    write_feature_table(records, tmp_path / "1.parquet", PIXELS)
    write_feature_table(list(reversed(records)), tmp_path / "2.parquet", PIXELS)
    assert (tmp_path / "1.parquet").read_bytes() == (tmp_path / "2.parquet").read_bytes()


def test_empty_table(tmp_path, row_group_rows):
    write_feature_table([], tmp_path / "f.parquet", PIXELS)
    table = read_feature_table(tmp_path / "f.parquet")
    assert len(table) == 0 and table.pixels.shape == (0, 8, 16, 16)


def test_wrong_shapes_and_duplicates_are_refused(tmp_path):
    with pytest.raises(ValueError, match="pixels must be uint8"):
        write_feature_table(pixel_records(["a"], size=20), tmp_path / "f.parquet", PIXELS)
    with pytest.raises(ValueError, match="duplicate"):
        write_feature_table(pixel_records(["a", "a"]), tmp_path / "f.parquet", PIXELS)
    assert not (tmp_path / "f.parquet").exists()


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "f.parquet"
    write_feature_table(pixel_records(["a"]), path, PIXELS)
    before = path.read_bytes()

    write_table = features.pq.write_table

    def killed(table, where, **options):  # a readable file of the first row, then the job is killed
        write_table(table.slice(0, 1), where, **options)
        raise KeyboardInterrupt

    monkeypatch.setattr(features.pq, "write_table", killed)
    with pytest.raises(KeyboardInterrupt):
        write_feature_table(pixel_records(["a", "b"]), path, PIXELS)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["f.parquet"]


@pytest.mark.parametrize("umask", [0o022, 0o002], ids=["umask-022", "umask-002"])
def test_written_files_get_the_usual_permissions(tmp_path, umask):
    """Results are shared by a group on a cluster: written like open() writes, not mkstemp's 0o600."""
    previous = os.umask(umask)
    try:
        write_feature_table(pixel_records(["a"]), tmp_path / "f.parquet", PIXELS)
        with atomic_path(tmp_path / "r.tsv") as temporary, open(temporary, "w") as handle:
            handle.write("x\n")
    finally:
        os.umask(previous)
    for name in ("f.parquet", "r.tsv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name


def report_for(records, extra=()):
    rows = [{"recording": r.recording, "status": "ok", "faces_found": 8, "frames_read": 90, "detail": "fine"}
            for r in records]
    rows += [{"recording": r, "status": "no_face", "faces_found": 0, "frames_read": 60,
              "detail": "no face\tin 30\nprobed frames"} for r in extra]
    return rows


def write_batch(folder, name, records, settings=PIXELS, extra=()):
    """An extraction batch as rule extract_batch writes it: its table and its report."""
    table, report = folder / f"{name}.parquet", folder / f"{name}.tsv"
    write_feature_table(records, table, settings)
    write_report(report_for(records, extra), report)
    return table, report


def gather(recordings, batches, folder):
    """gather_batches on (table, report) pairs into folder/all.parquet and folder/report.tsv."""
    gather_batches(recordings, [table for table, _ in batches], [report for _, report in batches],
                   folder / "all.parquet", folder / "report.tsv")


def test_batches_gather_into_the_same_table_as_one_write(tmp_path, row_group_rows, caplog):
    # Ids of different lengths, cases and scripts: gathering must sort exactly as one write does.
    records = pixel_records(["e", "a0", "Z", "\u00e91", "a", "B", "\u00e4"])
    batches = [[records[5], records[0], records[3]], [records[6], records[1]], [records[2], records[4]]]
    extras = [["z1"], [], ["y0"]]
    written = [write_batch(tmp_path, str(i), batch, extra=extra)
               for i, (batch, extra) in enumerate(zip(batches, extras))]
    order = ["z1"] + [r.recording for r in reversed(records)] + ["y0"]
    caplog.set_level(logging.INFO)
    gather(order, written, tmp_path)
    write_feature_table(records, tmp_path / "direct.parquet", PIXELS)
    assert (tmp_path / "all.parquet").read_bytes() == (tmp_path / "direct.parquet").read_bytes()
    assert row_groups(tmp_path / "all.parquet") == (4 if row_group_rows == 2 else 1)
    gathered = read_feature_table(tmp_path / "all.parquet")
    by_id = sorted(records, key=lambda r: r.recording)
    assert list(gathered.meta.recording) == ["B", "Z", "a", "a0", "e", "\u00e4", "\u00e91"]
    np.testing.assert_array_equal(gathered.pixels, np.stack([r.result.pixels for r in by_id]))
    report = read_report(tmp_path / "report.tsv")
    assert [row["recording"] for row in report] == order  # manifest order, one row each
    assert report[0] == {"recording": "z1", "status": "no_face", "faces_found": 0, "frames_read": 60,
                         "detail": "no face in 30 probed frames"}
    assert "7 of 9 recordings kept" in caplog.records[-1].getMessage()
    assert caplog.records[-1].name == "facemotion.extraction.feature_table"


def test_a_report_survives_the_batch_file_unchanged(tmp_path):
    """Gathering reads each batch's report back: whatever a detail holds (quotes, the separator,
    line breaks) comes out as the final report writes it."""
    rows = [{"recording": "a\"1", "status": "unreadable", "faces_found": 0, "frames_read": 0,
             "detail": '"moov atom" not found;\tdecoder said:\r\n  "invalid data"'},
            {"recording": "b", "status": "ok", "faces_found": 8, "frames_read": 12, "detail": ""}]
    write_feature_table([], tmp_path / "b.parquet", PIXELS)
    write_report(rows, tmp_path / "b.tsv")
    gather(["b", "a\"1"], [(tmp_path / "b.parquet", tmp_path / "b.tsv")], tmp_path)
    assert read_report(tmp_path / "report.tsv") == [
        rows[1], {**rows[0], "detail": '"moov atom" not found; decoder said: "invalid data"'}]


def test_gathering_empty_batches_gives_an_empty_table(tmp_path, row_group_rows):
    written = [write_batch(tmp_path, name, [], extra=[f"{name}1"]) for name in ("a", "b")]
    gather(["a1", "b1"], written, tmp_path)
    write_feature_table([], tmp_path / "direct.parquet", PIXELS)
    assert (tmp_path / "all.parquet").read_bytes() == (tmp_path / "direct.parquet").read_bytes()
    assert len(read_feature_table(tmp_path / "all.parquet")) == 0
    assert [row["status"] for row in read_report(tmp_path / "report.tsv")] == ["no_face", "no_face"]


def test_a_batch_that_is_not_a_feature_table_is_refused_by_name(tmp_path):
    pq.write_table(pa.table({"recording": ["a"]}), tmp_path / "other.parquet")
    write_report(report_for(pixel_records(["a"])), tmp_path / "other.tsv")
    with pytest.raises(JobError, match=r"other\.parquet is not a facemotion feature table.*snakemake --forcerun"):
        gather(["a"], [(tmp_path / "other.parquet", tmp_path / "other.tsv")], tmp_path)
    assert not (tmp_path / "all.parquet").exists()


def test_gather_refuses_mixed_settings_duplicates_and_missing_rows(tmp_path):
    a, b = pixel_records(["a"]), pixel_records(["b"])
    batch_a = write_batch(tmp_path, "a", a)
    batch_b = write_batch(tmp_path, "b", b, ExtractionSettings(n_frames=8, face_size=16, margin=0.2))
    with pytest.raises(ValueError, match="different settings"):
        gather(None, [batch_a, batch_b], tmp_path)
    with pytest.raises(ValueError, match="no extraction report row"):
        gather(["a", "q"], [batch_a], tmp_path)
    with pytest.raises(ValueError, match="more than one extraction batch"):
        gather(None, [batch_a, write_batch(tmp_path, "again", a)], tmp_path)
    assert not (tmp_path / "all.parquet").exists() and not (tmp_path / "report.tsv").exists()


def test_gather_refuses_batches_from_other_library_versions(tmp_path, monkeypatch):
    a, b = pixel_records(["a"]), pixel_records(["b"])
    batch_a = write_batch(tmp_path, "a", a)
    monkeypatch.setattr(dlib, "__version__", "99.0")  # a batch extracted after an upgrade
    batch_b = write_batch(tmp_path, "b", b)
    assert json.loads(pq.read_schema(tmp_path / "b.parquet").metadata[b"facemotion"])["libraries"]["dlib"] == "99.0"
    with pytest.raises(ValueError, match=r"libraries\.dlib: .* vs 99\.0.*--forcerun extract_batch") as error:
        gather(None, [batch_a, batch_b], tmp_path)
    assert "a.parquet" in str(error.value) and "b.parquet" in str(error.value)
    assert not (tmp_path / "all.parquet").exists()
