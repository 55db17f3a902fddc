"""Bad input and faults as a user meets them (issue 27): real files (a manifest with a stray quote,
an image named .mp4, a truncated feature table), real Snakemake runs, started from another
folder than the project's. Refusals at start are checked with dry runs; the rest with one tiny
run (24 demo videos, one target, two folds, 2 epochs) that the tests then change step by step.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from facemotion.corpora.demo import plan_demo_corpus, render_demo_corpus
from facemotion.extraction.feature_table import read_feature_table
from tiny_run import jobs_of

ROOT = Path(__file__).resolve().parents[1]
TINY = {
    "extraction": {"n_frames": 4, "face_size": 24, "recordings_per_job": 8},
    "training": {"epochs": 2, "batch_size": 8, "threads": 1},
    "targets": ["label"],
}
HEADER = "recording\tpath\tspeaker\tsession\tlabel\tactivation\tvalence"


def snakemake(workdir: Path, *args: str, ok: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    """Snakemake started in `workdir`, a folder other than the project's (as a user with the
    project elsewhere would run it)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--snakefile", str(ROOT / "Snakefile"),
                             "--directory", str(workdir), *args], cwd=workdir, capture_output=True, text=True,
                            timeout=timeout, env=env)
    if ok:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """{rule: count} of what Snakemake would run now (dry run)."""
    return jobs_of(snakemake(workdir, "--dry-run", *args))


def write_config(workdir: Path, manifest: Path, **changes) -> Path:
    config = {**json.loads(json.dumps(TINY)), "corpus": {"format": "tsv", "path": str(manifest)}, **changes}
    path = workdir / "my.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def write_run_config(workdir: Path, manifest: Path, **changes) -> Path:
    """The config of this module's runs: two folds, sessions 1 and 2 held out (the others train)."""
    return write_config(workdir, manifest, cv={"test_sessions": ["1", "2"]}, **changes)


def refusal(result: subprocess.CompletedProcess) -> str:
    """The console of a run refused at start: exit 1, the message, and no traceback lines."""
    text = result.stdout + result.stderr
    assert result.returncode == 1, text[-3000:]
    assert "Traceback" not in text and 'File "' not in text, text
    return text


# ----------------------------------------------------------------------------- refused at start


@pytest.fixture
def fake_corpus(tmp_path):
    """A manifest of 12 rows in 6 sessions over small distinct files (a dry run never opens them)."""
    (tmp_path / "videos").mkdir()
    rows = []
    for i in range(12):
        (tmp_path / "videos" / f"r{i}.mp4").write_bytes(f"video {i}".encode())
        session = i % 6 + 1
        rows.append(f"r{i}\tvideos/r{i}.mp4\tS{session}\t{session}\t{['Angry', 'Happy', 'Neutral', 'Sad'][i % 4]}"
                    "\t3\t2.5")
    return tmp_path, rows


def test_a_duplicated_column_is_refused_naming_it(fake_corpus):
    folder, rows = fake_corpus
    manifest = folder / "manifest.tsv"
    manifest.write_text(f"{HEADER}\tlabel\n" + "".join(f"{row}\tSad\n" for row in rows))
    text = refusal(snakemake(folder, "-n", "--configfile", str(write_config(folder, manifest)), ok=False))
    assert f"{manifest}: column(s) 'label' appear more than once in the header (columns 5, 8)" in text
    assert "label.1" not in text


def test_rows_ending_in_a_tab_are_refused_by_their_field_count(fake_corpus):
    folder, rows = fake_corpus
    manifest = folder / "manifest.tsv"
    manifest.write_text(f"{HEADER}\n" + "".join(f"{row}\t\n" for row in rows))
    text = refusal(snakemake(folder, "-n", "--configfile", str(write_config(folder, manifest)), ok=False))
    assert f"{manifest}: row(s) 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 have 8 fields, the header 7" in text
    assert "does not exist" not in text and "label" not in text.split("fields")[1]


@pytest.mark.parametrize("content, message", [
    (b"recording\tpath\n", "no recordings listed, only a header"),
    ("recording\tpath\nsmile\tcaf\u00e9.mp4\n".encode("latin-1"), "not UTF-8 text: byte 0xe9 in line 2"),
    # Issue 35: two videos under one id gave two output rows with that id.
    (b"recording\tpath\nsmile\ta.mp4\nfrown\tb.mp4\nsmile\tc.mp4\n",
     "recording id 'smile' is in rows 2 and 4; give each video its own id (the predictions have one row per id)"),
])
def test_a_bad_predict_list_is_refused_at_start_in_one_line(fake_corpus, content, message):
    folder, rows = fake_corpus
    manifest = folder / "manifest.tsv"
    manifest.write_text(f"{HEADER}\n" + "".join(f"{row}\n" for row in rows))
    (folder / "new.tsv").write_bytes(content)
    config = write_config(folder, manifest, predict={"recordings": str(folder / "new.tsv")})
    text = refusal(snakemake(folder, "-n", "predict", "--configfile", str(config), ok=False))
    assert f"{folder / 'new.tsv'}: {message}" in text


def test_a_config_error_ends_without_traceback_lines(fake_corpus):
    folder, _ = fake_corpus
    config = write_config(folder, folder / "absent.tsv", training={"epochs": -1})
    text = refusal(snakemake(folder, "-n", "--configfile", str(config), ok=False))
    assert "ConfigError: invalid configuration:" in text and "training.epochs: got -1" in text


def test_an_experiment_named_twice_in_the_config_is_refused_naming_the_key_and_lines(fake_corpus):
    """YAML keeps the last of two keys: the first `fast` would vanish without a word (issue 35)."""
    folder, rows = fake_corpus
    manifest = folder / "manifest.tsv"
    manifest.write_text(f"{HEADER}\n" + "".join(f"{row}\n" for row in rows))
    config = folder / "my.yaml"
    config.write_text(f"corpus: {{format: tsv, path: {manifest}}}\ntargets: [label]\nexperiments:\n"
                      "  fast:\n    training: {epochs: 1}\n  slow:\n    training: {epochs: 3}\n"
                      "  fast:\n    training: {epochs: 2}\n")
    text = refusal(snakemake(folder, "-n", "--configfile", str(config), ok=False))
    assert f"{config}, line 8: key 'experiments.fast' is written twice (first on line 4)" in text
    assert len([line for line in text.splitlines() if "written twice" in line]) == 1


def test_an_experiment_name_too_long_for_a_file_name_is_refused_at_start(fake_corpus):
    """It names a folder: 300 bytes passed the start and crashed the run after the first experiment
    trained ("File name too long"), leaving the last run's summary.tsv (issue 35)."""
    folder, rows = fake_corpus
    manifest = folder / "manifest.tsv"
    manifest.write_text(f"{HEADER}\n" + "".join(f"{row}\n" for row in rows))
    name = "x" * 300
    config = write_config(folder, manifest, experiments={"short": {"training": {"epochs": 1}}, name: {}})
    text = refusal(snakemake(folder, "-n", "--configfile", str(config), ok=False))
    line = next(line for line in text.splitlines() if "NAME_MAX" in line)
    assert f"experiments.{name[:40]}...: the experiment's name is 300 bytes" in line
    assert "choose a shorter name" in line and "experiments.short" not in text


def test_only_the_targets_asked_for_are_said_to_be_skipped(fake_corpus):
    """Issue 35: `targets: [label]` on a corpus without ratings still warned that activation and
    valence were skipped."""
    folder, rows = fake_corpus
    manifest = folder / "manifest.tsv"
    manifest.write_text(f"{HEADER}\n" + "".join(row.rsplit("\t", 2)[0] + "\t\t\n" for row in rows))
    console = snakemake(folder, "-n", "--configfile", str(write_config(folder, manifest)))
    assert "skipped" not in console.stdout + console.stderr
    config = write_config(folder, manifest, targets=["label", "valence"])
    console = snakemake(folder, "-n", "--configfile", str(config))
    text = console.stdout + console.stderr
    assert "target 'valence' skipped" in text and "activation" not in text


# ----------------------------------------------------------------------------- one tiny run


def render(folder: Path, n_recordings: int = 24, frames: int | None = None) -> pd.DataFrame:
    plan = plan_demo_corpus(n_recordings, seed=1)
    if frames:
        plan["demo_n_frames"] = frames
    render_demo_corpus(plan, folder, n_frames=4)
    return pd.read_csv(folder / "manifest.tsv", sep="\t", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The demo corpus as a tsv manifest with a `notes` column holding stray quotes, and a PNG
    named .mp4; run once from a folder other than the project's."""
    corpus = tmp_path_factory.mktemp("corpus")
    manifest = render(corpus)
    still = cv2.imencode(".png", np.full((120, 160, 3), 128, np.uint8))[1].tobytes()
    (corpus / "videos" / "still.mp4").write_bytes(still)
    first = manifest.iloc[0]
    manifest.loc[len(manifest)] = ["still", "videos/still.mp4", first["speaker"], first["session"], "Neutral", "3", "3"]
    manifest["notes"] = ["ok"] * len(manifest)
    # Stray quotes: read as CSV, the rows from the one to the next were swallowed into one field.
    manifest.loc[2, "notes"], manifest.loc[9, "notes"] = '"too dark', 'loud "music'
    lines = ["\t".join(manifest.columns), *("\t".join(row) for row in manifest.itertuples(index=False))]
    (corpus / "manifest.tsv").write_text("\n".join(lines) + "\n")
    workdir = tmp_path_factory.mktemp("run")
    config = write_run_config(workdir, corpus / "manifest.tsv")
    result = snakemake(workdir, "--configfile", str(config))
    (workdir / "console.txt").write_text(result.stdout + result.stderr)
    return {"workdir": workdir, "corpus": corpus, "config": config, "rows": len(manifest)}


def report_of(workdir: Path) -> pd.DataFrame:
    return pd.read_csv(workdir / "results/extraction/report.tsv", sep="\t", dtype=str, keep_default_na=False)


@pytest.mark.slow
def test_a_stray_quote_drops_no_recording(run):
    manifest = pd.read_csv(run["workdir"] / "results/manifest.tsv", sep="\t", dtype=str)
    assert len(manifest) == run["rows"] == 25
    assert len(report_of(run["workdir"])) == 25


@pytest.mark.slow
def test_an_image_named_mp4_is_unreadable_with_no_nonsense_frame_count(run):
    report = report_of(run["workdir"]).set_index("recording")
    assert report.at["still", "status"] == "unreadable"
    assert report.at["still", "detail"].startswith("not a video: a single still image (codec MPNG")
    assert not report["detail"].str.contains("-9223372036854775808").any()


@pytest.mark.slow
def test_the_settings_do_not_depend_on_the_folder_the_run_starts_from(run):
    # my.yaml sets no learning rate: the project's config/config.yaml does, not the schema default.
    shipped = yaml.safe_load((ROOT / "config/config.yaml").read_text())["training"]["learning_rate"]
    assert shipped != 0.0001
    sidecar = json.loads((run["workdir"] / "results/models/label/fold_1.keras.json").read_text())
    assert sidecar["params"]["learning_rate"] == shipped


def times(workdir: Path, pattern: str) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in sorted(workdir.glob(pattern))}


@pytest.mark.slow
def test_a_moved_corpus_is_neither_decoded_nor_trained_again(run, tmp_path_factory):
    workdir = run["workdir"]
    moved = tmp_path_factory.mktemp("moved") / "corpus"
    subprocess.run(["cp", "-a", str(run["corpus"]), str(moved)], check=True)
    features = (workdir / "results/features.parquet").read_bytes()
    trained = times(workdir, "results/models/label/*") | times(workdir, "logs/train/label/*")
    assert trained
    run["config"] = write_run_config(workdir, moved / "manifest.tsv")
    snakemake(workdir, "--configfile", str(run["config"]))
    logs = "".join(p.read_text() for p in (workdir / "logs/extract").glob("*.log"))
    assert re.findall(r"(\d+) extracted, (\d+) reused", logs) and not re.search(r"[1-9]\d* extracted", logs)
    assert (workdir / "results/features.parquet").read_bytes() == features
    assert times(workdir, "results/models/label/*") | times(workdir, "logs/train/label/*") == trained
    assert planned_jobs(workdir, "--configfile", str(run["config"])) == {}


@pytest.mark.slow
def test_a_truncated_feature_table_fails_in_one_line_naming_the_remedy(run):
    workdir = run["workdir"]
    table = workdir / "results/features.parquet"
    table.write_bytes(table.read_bytes()[: table.stat().st_size // 2])
    (workdir / "results/models/label/fold_2.keras").unlink()  # one training job to run
    result = snakemake(workdir, "--configfile", str(run["config"]), ok=False)
    console = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in console
    remedy = "make it again with: snakemake --forcerun results/features.parquet"
    assert "Error: results/features.parquet cannot be read (" in console and remedy in console
    snakemake(workdir, "--configfile", str(run["config"]), "--forcerun", "results/features.parquet")
    assert len(read_feature_table(table)) > 0


@pytest.mark.slow
def test_prediction_follows_the_listed_videos_and_the_configured_targets(run):
    workdir = run["workdir"]
    manifest = pd.read_csv(workdir / "results/manifest.tsv", sep="\t", dtype=str, keep_default_na=False)
    videos = [Path(p) for p in manifest["path"].iloc[3:5]]
    (workdir / "new").mkdir()
    shutil.copy(videos[0], workdir / "new/a.mp4")
    (workdir / "new/list.tsv").write_text("recording\tpath\na\ta.mp4\nb\tb.mp4\n")  # b.mp4 is not there yet
    corpus = Path(yaml.safe_load(run["config"].read_text())["corpus"]["path"])  # where the run's corpus is now
    config = write_run_config(workdir, corpus, predict={"recordings": "new/list.tsv"})
    snakemake(workdir, "predict", "--configfile", str(config))
    # An old model of a target no longer configured (activation), left under results/final/.
    old = workdir / "results/final/activation"
    shutil.copytree(workdir / "results/final/label", old)
    sidecar = json.loads((old / "model.keras.json").read_text())
    (old / "model.keras.json").write_text(json.dumps({**sidecar, "target": "activation"}))

    def predictions():
        return pd.read_csv(workdir / "results/predict/predictions.tsv", sep="\t", dtype=str, keep_default_na=False)

    assert predictions()["status"].tolist() == ["ok", "unreadable"]
    assert planned_jobs(workdir, "predict", "--configfile", str(config)) == {}
    shutil.copy(videos[1], workdir / "new/b.mp4")  # the missing video appears
    assert planned_jobs(workdir, "predict", "--configfile", str(config)) == {"predict": 1}
    snakemake(workdir, "predict", "--configfile", str(config))
    assert predictions()["status"].tolist() == ["ok", "ok"]
    assert not [c for c in predictions().columns if c.startswith("activation")]
    shutil.copy(videos[1], workdir / "new/a.mp4")  # a listed video replaced
    assert planned_jobs(workdir, "predict", "--configfile", str(config)) == {"predict": 1}
    snakemake(workdir, "predict", "--configfile", str(config))
    assert planned_jobs(workdir, "predict", "--configfile", str(config)) == {}
    assert planned_jobs(workdir, "--configfile", str(config)) == {}


# ----------------------------------------------------------------------------- nothing kept


@pytest.mark.slow
def test_a_run_that_keeps_no_recording_fails_after_showing_why(tmp_path):
    corpus = tmp_path / "corpus"
    render(corpus, frames=10)  # every clip 10 frames long
    config = write_run_config(tmp_path, corpus / "manifest.tsv", extraction={**TINY["extraction"], "n_frames": 12})
    result = snakemake(tmp_path, "--configfile", str(config), ok=False)
    console = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in console
    assert re.search(r"Error: nothing learnt for label: every one of its 2 folds was skipped \(no recording of "
                     r"session \w+ has enough face frames", console)
    assert set(report_of(tmp_path)["status"]) == {"too_short"}
    for picture in ("extraction_status", "faces_dropped"):
        assert (tmp_path / f"results/plots/{picture}.png").stat().st_size > 1000
    assert not (tmp_path / "results/metrics.tsv").exists()


def test_a_test_recording_dropped_at_extraction_is_said_on_the_console(tmp_path):
    """Issue 35: a listed test clip dropped at extraction (all frames empty, too few frames, not a
    video) shrank the test set with the run exiting 0 and nothing on the console."""
    corpus = tmp_path / "corpus"
    manifest = render(corpus, n_recordings=12)
    still = cv2.imencode(".png", np.full((120, 160, 3), 128, np.uint8))[1].tobytes()
    (corpus / "videos" / "still.mp4").write_bytes(still)
    first = manifest[manifest["session"] == "1"].iloc[0]
    manifest.loc[len(manifest)] = ["still", "videos/still.mp4", first["speaker"], "1", "Neutral", "3", "3"]
    manifest.to_csv(corpus / "manifest.tsv", sep="\t", index=False)
    tested = (manifest["session"].isin(["1", "2"])).sum()
    workdir = tmp_path / "run"
    workdir.mkdir()
    result = snakemake(workdir, "results/features.parquet", "--configfile",
                       str(write_run_config(workdir, corpus / "manifest.tsv")))
    console = result.stdout + result.stderr
    warning = next(line for line in console.splitlines() if "listed for testing" in line)
    assert f"1 of the {tested} recordings listed for testing dropped at extraction (unreadable 1)" in warning
    assert "results/extraction/report.tsv" in warning
