"""Prediction refuses input that would predict the wrong thing, naming the row or file."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
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


def _final_model(folder: Path, target: str) -> None:
    model = build_model("seed_dense", (2, 6), 3)
    save_model(model, folder / "model.keras", {"format": METADATA_FORMAT, "target": target,
                                               "classes": ["low", "medium", "high"]})


def test_a_model_in_the_wrong_target_folder_is_refused(tmp_path):
    _final_model(tmp_path / "final" / "activation", "activation")
    assert set(load_final_models(tmp_path / "final")) == {"activation"}
    _final_model(tmp_path / "final" / "valence", "label")  # a label model copied into valence/
    with pytest.raises(PredictionInputError, match=r"sidecar says it predicts 'label', but it is in the folder "
                                                   r"'valence'"):
        load_final_models(tmp_path / "final")


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
