from pathlib import Path

import pandas as pd
import pytest
from facemotion.corpora.manifest import (
    MANIFEST_COLUMNS,
    ManifestError,
    assign_batches,
    normalise_manifest,
    resolve_paths,
    write_manifest,
)
from facemotion.corpora.reading import build_manifest, read_tsv_manifest

CLASSES = ["Angry", "Happy", "Neutral", "Sad"]
HEADER = "recording\tpath\tspeaker\tsession\tlabel\tactivation\tvalence\n"


def write_tsv(folder: Path, rows: list[str], header: str = HEADER, videos: bool = True) -> Path:
    (folder / "videos").mkdir(exist_ok=True)
    if videos:
        for row in rows:
            (folder / row.split("\t")[1]).write_bytes(b"video")
    path = folder / "manifest.tsv"
    path.write_text(header + "".join(row + "\n" for row in rows))
    return path


GOOD_ROWS = [
    "r1\tvideos/r1.mp4\tF01\t1\tAngry\t4.0\t1.5",
    "r2\tvideos/r2.mp4\tM01\t1\tHappy\t3.0\t",
    "r3\tvideos/r3.avi\tF02\t2\tSad\t\t2",
]


def test_a_valid_manifest_is_normalised(tmp_path):
    manifest, notes = read_tsv_manifest(write_tsv(tmp_path, GOOD_ROWS), CLASSES)
    assert list(manifest.columns) == MANIFEST_COLUMNS
    assert notes == []
    assert manifest["path"].tolist() == [str(tmp_path / "videos" / n) for n in ("r1.mp4", "r2.mp4", "r3.avi")]
    assert manifest["valence"].isna().tolist() == [False, True, False]
    assert manifest["activation"].tolist()[:2] == [4.0, 3.0]


def read_manifest(path) -> pd.DataFrame:
    """results/manifest.tsv read back with the types it was written with."""
    return pd.read_csv(path, sep="\t", keep_default_na=False,
                       dtype={c: str for c in ("recording", "path", "speaker", "session", "label", "region", "split")},
                       na_values={c: [""] for c in ("activation", "valence", "start", "end")})


def test_written_manifest_reads_back_with_its_types(tmp_path):
    manifest, _ = read_tsv_manifest(write_tsv(tmp_path, GOOD_ROWS), CLASSES)
    write_manifest(manifest, tmp_path / "out.tsv")
    assert (tmp_path / "out.tsv").read_text().splitlines()[0].split("\t") == MANIFEST_COLUMNS
    back = read_manifest(tmp_path / "out.tsv")
    pd.testing.assert_frame_equal(back, manifest, check_dtype=False)
    assert back["session"].tolist() == ["1", "1", "2"]


def test_every_problem_is_reported_with_rows_and_files(tmp_path):
    rows = [
        "r1\tvideos/r1.mp4\tF01\t1\tAngry\t4.0\t1.5",
        "r1\tvideos/r2.mp4\tM01\t1\tHappy\thigh\t3",     # duplicate id, non-numeric activation
        "r3\tvideos/gone.avi\tF02\t2\tFrustrated\t3\t2",  # missing file, unknown label
        "r4\tvideos/gone2.avi\tF02\t2\tSad\t3\t2",        # second missing file
    ]
    path = write_tsv(tmp_path, rows[:2])
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    with pytest.raises(ManifestError) as error:
        read_tsv_manifest(path, CLASSES)
    message = str(error.value)
    assert str(path) in message
    assert "duplicate recording id(s) r1 in row(s) 2, 3" in message
    assert "non-numeric activation in row(s) 3, e.g. 'high'" in message
    assert "Frustrated (1)" in message and "row(s) 4" in message
    assert "2 video file(s) do not exist" in message
    assert "gone.avi" in message and "gone2.avi" in message


def test_missing_columns_are_named(tmp_path):
    path = write_tsv(tmp_path, ["r1\tvideos/r1.mp4\tF01"], header="recording\tpath\tspeaker\n")
    with pytest.raises(ManifestError, match="missing column.s. session, label"):
        read_tsv_manifest(path, CLASSES)


def test_a_single_session_cannot_be_cross_validated(tmp_path):
    path = write_tsv(tmp_path, GOOD_ROWS[:2])
    with pytest.raises(ManifestError, match="at least 2 sessions, found 1"):
        read_tsv_manifest(path, CLASSES)


def test_unsafe_ids_and_bad_segments_are_rejected(tmp_path):
    rows = ["a/b\tvideos/r1.mp4\tF01\t1\tAngry\t\t", "r2\tvideos/r2.mp4\tM01\t2\tHappy\t\t"]
    path = write_tsv(tmp_path, rows, header="recording\tpath\tspeaker\tsession\tlabel\tstart\tend\n")
    path.write_text("recording\tpath\tspeaker\tsession\tlabel\tstart\tend\n"
                    "a/b\tvideos/r1.mp4\tF01\t1\tAngry\t2\t1\nr2\tvideos/r2.mp4\tM01\t2\tHappy\t0\t3\n")
    with pytest.raises(ManifestError) as error:
        read_tsv_manifest(path, CLASSES)
    assert "recording ids must use only" in str(error.value)
    assert "end must be after start in row(s) 2" in str(error.value)


def test_corpora_with_more_emotions_drop_them_with_a_count():
    table = pd.DataFrame({"recording": ["a", "b", "c"], "path": ["x", "y", "z"], "speaker": ["F1", "M1", "F2"],
                          "session": ["1", "1", "2"], "label": ["Angry", "Fear", "Sad"]})
    manifest, notes = normalise_manifest(table, CLASSES, "corpus", drop_unknown_labels=True, check_files=False)
    assert manifest["recording"].tolist() == ["a", "c"]
    assert notes == ["dropped 1 recording(s) whose label is not in classes: Fear (1)"]


def test_batches_are_stable_when_recordings_are_added():
    recordings = [f"rec{i:04d}" for i in range(360)]
    before = assign_batches(recordings, per_job=50)
    assert len(before) == 8 and sum(map(len, before.values())) == 360
    after = assign_batches(recordings + ["new1", "new2"], per_job=50)
    changed = [b for b in after if after[b] != before.get(b)]
    assert len(changed) <= 2
    assert all(set(after[b]) - set(before[b]) <= {"new1", "new2"} for b in changed)


@pytest.mark.parametrize("n, per_job, expected", [(1, 250, 1), (250, 250, 1), (251, 250, 2), (300, 250, 2),
                                                  (1000, 250, 4), (1001, 250, 8), (8400, 250, 64)])
def test_batches_hold_at_most_per_job_recordings_on_average(n, per_job, expected):
    batches = assign_batches([f"r{i}" for i in range(n)], per_job)
    assert len(batches) == expected and n / len(batches) <= per_job
    assert sorted(r for batch in batches.values() for r in batch) == sorted(f"r{i}" for i in range(n))


def test_relative_video_paths_resolve_against_the_tsv_folder_in_both_readers(tmp_path):
    from facemotion.prediction.predict import read_recordings

    (tmp_path / "lists").mkdir()
    rows = "recording\tpath\nr1\t../videos/a.mp4\nr2\t/data/b.mp4\nNA\t\n"
    (tmp_path / "lists" / "predict.tsv").write_text(rows)
    expected = [str(tmp_path / "videos" / "a.mp4"), "/data/b.mp4", ""]  # empty: reported unreadable later
    recordings = read_recordings(tmp_path / "lists" / "predict.tsv")
    assert recordings["path"].tolist() == expected and recordings["recording"].tolist() == ["r1", "r2", "NA"]
    assert resolve_paths(["../videos/a.mp4", "/data/b.mp4", ""], tmp_path / "lists") == expected


# --- checks against the configuration and between folds (build_manifest) ---------------------

from tiny_run import validated  # noqa: E402


def corpus(folder: Path, rows: list[str], header: str = HEADER, **config) -> dict:
    """A tsv corpus whose videos all differ (each file holds its own name)."""
    (folder / "videos").mkdir(exist_ok=True)
    for row in rows:
        video = folder / row.split("\t")[1]
        if not video.exists():
            video.write_bytes(video.name.encode())
    (folder / "manifest.tsv").write_text(header + "".join(row + "\n" for row in rows))
    return validated({"corpus": {"format": "tsv", "path": str(folder / "manifest.tsv")}, "classes": CLASSES[:3],
                            **config})


LEAK_FREE = [
    "r1\tvideos/r1.mp4\tF01\t1\tAngry\t4\t1.5",
    "r2\tvideos/r2.mp4\tM01\t1\tHappy\t3\t",
    "r3\tvideos/r3.mp4\tF02\t2\tNeutral\t\t2",
    "r4\tvideos/r4.mp4\tM02\t2\tHappy\t5\t1",
]


def test_a_leak_free_corpus_passes(tmp_path):
    manifest, notes = build_manifest(corpus(tmp_path, LEAK_FREE))
    assert len(manifest) == 4 and notes == []


def test_a_speaker_in_two_sessions_is_refused_unless_declared(tmp_path):
    rows = [*LEAK_FREE, "r5\tvideos/r5.mp4\tF01\t2\tAngry\t\t"]
    with pytest.raises(ManifestError, match=r"speaker 'F01' is in sessions 1, 2: a fold would test a speaker it "
                                            r"trained on.*cv.speakers_may_span_sessions: true"):
        build_manifest(corpus(tmp_path, rows))
    manifest, notes = build_manifest(corpus(tmp_path, rows, cv={"speakers_may_span_sessions": True}))
    assert len(manifest) == 5 and any("NOT speaker-independent" in note for note in notes)


def test_one_video_under_two_ids_in_different_sessions_is_refused(tmp_path):
    rows = [*LEAK_FREE, "r5\tvideos/r1.mp4\tF03\t2\tAngry\t\t"]
    with pytest.raises(ManifestError, match=r"row\(s\) 2, 6: r1, r5 in sessions 1, 2 use the file .*videos/r1.mp4"):
        build_manifest(corpus(tmp_path, rows))


def test_identical_content_under_another_path_is_refused(tmp_path):
    config = corpus(tmp_path, LEAK_FREE)
    (tmp_path / "videos/copy.mp4").write_bytes((tmp_path / "videos/r1.mp4").read_bytes())
    (tmp_path / "videos/same_size.mp4").write_bytes(b"r9.mp4")  # same size as r1.mp4, other content
    rows = [*LEAK_FREE, "r5\tvideos/copy.mp4\tF03\t2\tAngry\t\t", "r6\tvideos/same_size.mp4\tF04\t2\tAngry\t\t"]
    corpus(tmp_path, rows)
    with pytest.raises(ManifestError) as error:
        build_manifest(config)
    assert "r1, r5 in sessions 1, 2 use files of identical content" in str(error.value)
    assert "r6" not in str(error.value)


def test_segments_of_one_video_within_a_session_are_fine(tmp_path):
    header = HEADER.rstrip("\n") + "\tstart\tend\n"
    rows = [row + "\t\t" for row in LEAK_FREE] + ["r5\tvideos/r1.mp4\tF01\t1\tAngry\t\t\t2\t4"]
    manifest, _ = build_manifest(corpus(tmp_path, rows, header=header))
    assert len(manifest) == 5


def test_a_class_without_recordings_and_ratings_off_the_scale_are_refused(tmp_path):
    rows = [*LEAK_FREE[:3], "r4\tvideos/r4.mp4\tM02\t2\tHappy\t7\t-3", "r5\tvideos/r5.mp4\tM03\t2\tHappy\t100\t"]
    with pytest.raises(ManifestError) as error:
        build_manifest(corpus(tmp_path, rows, classes=CLASSES))
    message = str(error.value)
    assert "classes ['Sad'] have no recording in the corpus" in message
    assert "activation outside rating_scale [1, 5] in row(s) 5, 6: r4, r5, e.g. 7" in message
    assert "valence outside rating_scale [1, 5] in row(s) 5: r4, e.g. -3" in message
    # A corpus rated on another scale says so.
    manifest, _ = build_manifest(corpus(tmp_path, rows, rating_scale={"min": -5, "max": 100}))
    assert manifest["activation"].max() == 100


def test_an_overlong_id_is_refused_before_it_names_a_file(tmp_path):
    long_id = "r" * 300
    rows = [*LEAK_FREE[:3], f"{long_id}\tvideos/r4.mp4\tM02\t2\tHappy\t\t"]
    with pytest.raises(ManifestError, match=r"recording ids must be at most 200 characters .*row\(s\) 5, e.g. one "
                                            r"of 300"):
        build_manifest(corpus(tmp_path, rows))


@pytest.mark.parametrize("encoding, message", [
    ("latin-1", r"not UTF-8 text: byte 0xc4 in line 3 cannot be decoded; save the file as UTF-8"),
    ("utf-16", r"not UTF-8 text \(it looks like UTF-16\): byte 0xff in line 1"),
])
def test_a_manifest_in_another_encoding_is_refused_by_name(tmp_path, encoding, message):
    config = corpus(tmp_path, LEAK_FREE)
    text = (tmp_path / "manifest.tsv").read_text().replace("M01", "Ärger")
    (tmp_path / "manifest.tsv").write_bytes(text.encode(encoding))
    with pytest.raises(ManifestError, match=f"{tmp_path / 'manifest.tsv'}: {message}"):
        build_manifest(config)


def test_a_utf8_manifest_with_a_byte_order_mark_reads(tmp_path):
    config = corpus(tmp_path, LEAK_FREE)
    (tmp_path / "manifest.tsv").write_bytes((tmp_path / "manifest.tsv").read_text().encode("utf-8-sig"))
    assert len(build_manifest(config)[0]) == 4


def test_a_misspelt_optional_column_is_warned_about(tmp_path):
    header = HEADER.replace("\tvalence", "\tvalance")
    manifest, notes = build_manifest(corpus(tmp_path, LEAK_FREE, header=header))
    assert manifest["valence"].isna().all()
    assert len(notes) == 1 and "column 'valance' is not one facemotion reads and is ignored (did you mean " \
                               "'valence'?)" in notes[0]


def test_a_misspelt_class_is_named_before_the_rows_it_leaves_out(tmp_path):
    """classes [Angry, Hapy] over a manifest of Angry and Happy: the message starts with the cause."""
    with pytest.raises(ManifestError) as error:
        build_manifest(corpus(tmp_path, LEAK_FREE[:3], classes=["Angry", "Hapy"]))
    problem = str(error.value).split("\n  - ")[1]
    assert problem.startswith("class 'Hapy' in classes matches no label (did you mean 'Happy'?); so the label(s) "
                              "not in classes ['Angry', 'Hapy']: Happy")
