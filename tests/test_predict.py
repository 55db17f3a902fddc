"""Prediction refuses input that would predict the wrong thing, naming the row or file."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from facemotion.extraction.settings import EXTRACTOR_VERSION
from facemotion.learning.model import METADATA_FORMAT, save_model
from facemotion.learning.networks import build_model
from facemotion.prediction.predict import PredictionInputError, check_segment, load_final_models, read_recordings

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("start, end, message", [
    ("-1", "2", "start -1 is negative"),
    ("3", "2", "end 2 is not after start 3"),
    ("2", "2", "end 2 is not after start 2"),
    ("", "-4", "end -4 is not after start 0"),
    ("abc", "", "start 'abc' is not a number of seconds"),
    ("1", "inf", "end 'inf' is not a number of seconds"),
])
def test_bad_segments_are_refused(start, end, message):
    with pytest.raises(PredictionInputError, match=message):
        check_segment(start, end)


def test_good_segments_pass():
    for start, end in (("", ""), ("0", "1.5"), (None, 3.0), ("2", "")):
        check_segment(start, end)


def test_the_recordings_file_names_the_bad_rows(tmp_path):
    (tmp_path / "new.tsv").write_text("recording\tpath\tstart\tend\n"
                                      "a\ta.mp4\t1\t2\nb\tb.mp4\tx\t2\nc\tc.mp4\t5\t3\n")
    with pytest.raises(PredictionInputError) as error:
        read_recordings(tmp_path / "new.tsv")
    assert "row 3: start 'x' is not a number" in str(error.value)
    assert "row 4: end 3 is not after start 5" in str(error.value)
    assert "row 2" not in str(error.value)
    (tmp_path / "ok.tsv").write_text("recording\tpath\tstart\nb\tb.mp4\t\na\tsub/a.mp4\t1.5\n")
    table = read_recordings(tmp_path / "ok.tsv")
    assert table["path"].tolist() == [str(tmp_path / "b.mp4"), str(tmp_path / "sub/a.mp4")]
    assert table["start"].iloc[1] == 1.5 and table["end"].isna().all()


def test_the_recordings_file_takes_the_region_as_the_manifest_does(tmp_path):
    (tmp_path / "new.tsv").write_text("recording\tpath\tregion\na\ta.mp4\tleft\nb\tb.mp4\t\nc\tc.mp4\tmiddle\n")
    with pytest.raises(PredictionInputError, match=r"row 4: region 'middle' is not empty, 'left' or 'right'"):
        read_recordings(tmp_path / "new.tsv")
    (tmp_path / "ok.tsv").write_text("recording\tpath\tregion\na\ta.mp4\tleft\nb\tb.mp4\t\n")
    assert read_recordings(tmp_path / "ok.tsv")["region"].tolist() == ["left", ""]


EXTRACTION = {"features": "landmarks", "n_frames": 2, "face_size": 100, "detect_width": 400, "upsample": 0,
              "margin": 0.0, "full_scan": True, "detector": "hog", "landmark_model": ""}


def _final_model(folder: Path, target: str, outputs: int = 3, **sidecar) -> None:
    """A final model's folder as final_model writes it: landmark geometry of 2 frames."""
    model = build_model("seed_dense", (2, 6), outputs)
    save_model(model, folder / "model.keras", {
        "format": METADATA_FORMAT, "target": target, "classes": ["low", "medium", "high"], "features": "landmarks",
        "extraction": EXTRACTION, "extraction_version": EXTRACTOR_VERSION, "sample_shape": [2, 6], **sidecar})


def test_a_model_in_the_wrong_target_folder_is_refused(tmp_path):
    _final_model(tmp_path / "final" / "activation", "activation")
    assert set(load_final_models(tmp_path / "final")) == {"activation"}
    _final_model(tmp_path / "final" / "valence", "label")  # a label model copied into valence/
    with pytest.raises(PredictionInputError, match=r"sidecar says it predicts 'label', but it is in the folder "
                                                   r"'valence'"):
        load_final_models(tmp_path / "final")


@pytest.mark.parametrize("sidecar, outputs, message", [
    ({}, 4, r"the model \(input \(2, 6\), 4 outputs\) does not match its sidecar"),
    ({"sample_shape": [8, 6]}, 3, r"does not match its sidecar \(\(8, 6\) of landmarks extracted as \(2,\)"),
    ({"extraction": None}, 3, "its sidecar names no extraction settings, as a fold's model does"),
    ({"extraction_version": 1}, 3, "trained on faces extracted by extractor version 1; this version extracts with"),
])
def test_a_final_model_that_is_not_what_its_sidecar_says_is_refused(tmp_path, sidecar, outputs, message):
    """It would predict with another extraction, drop or miss a class, or fail inside Keras."""
    _final_model(tmp_path / "final" / "activation", "activation", outputs,
                 **{key: value for key, value in sidecar.items() if value is not None})
    if sidecar.get("extraction", "") is None:
        path = tmp_path / "final" / "activation" / "model.keras.json"
        path.write_text(path.read_text().replace('"extraction":', '"not_extraction":'))
    with pytest.raises(PredictionInputError, match=message):
        load_final_models(tmp_path / "final")


def test_the_recordings_file_refuses_an_empty_id_and_reads_ids_without_their_spaces(tmp_path):
    (tmp_path / "new.tsv").write_text("recording\tpath\n\ta.mp4\n")
    with pytest.raises(PredictionInputError, match="empty recording in row\\(s\\) 2"):
        read_recordings(tmp_path / "new.tsv")
    (tmp_path / "twice.tsv").write_text("recording\tpath\na\ta.mp4\na \tb.mp4\n")
    with pytest.raises(PredictionInputError, match="recording id 'a' is in rows 2 and 3"):
        read_recordings(tmp_path / "twice.tsv")


@pytest.mark.parametrize("arguments, message", [
    (["predict", "nowhere", "v.mp4"], "error: no final models (*/model.keras) under nowhere"),
    (["predict", "nowhere", "v.mp4", "--start", "-2"], "error: start -2 is negative"),
    (["predict", "nowhere", "v.mp4", "--start", "4", "--end", "1"], "error: end 1 is not after start 4"),
])
def test_the_command_line_prints_one_line_errors_with_exit_2(tmp_path, arguments, message):
    result = subprocess.run([sys.executable, "-m", "facemotion", *arguments], cwd=tmp_path, capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "workflow")})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message) and result.stdout == ""


def test_two_videos_of_one_name_on_the_command_line_are_refused_in_one_line(tmp_path, capsys):
    """Issue 35: each would be predicted under the same id, two rows for one recording."""
    from facemotion.__main__ import main

    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "clip.mp4").write_bytes(b"video")
    first, second = str(tmp_path / "a" / "clip.mp4"), str(tmp_path / "b" / "clip.mp4")
    assert main(["predict", str(tmp_path / "models"), first, second]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert f"{first} and {second} both get the id 'clip'" in error and "rename one" in error
