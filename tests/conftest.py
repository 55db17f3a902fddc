"""The tiny workflow run (.test/tiny/config.yaml) that the workflow tests share, in two stages,
each made once per test session:

- `extracted` (fast tier): the tiny demo corpus rendered, the manifest, the extraction (feature
  table, report, per-recording cache) and its plots: no training;
- `run` (slow): a copy of `extracted` run to the end (18 small trainings, evaluation, summary,
  front page), with Snakemake's console in console.txt.

Tests only read them; a test that changes a run (deletes a result, adds a corpus row, trains a
variant) first copies it (tiny_run.copy_run), so Snakemake starts from its records and cache.
"""

import pytest
from tiny_run import copy_run, snakemake, write_config

EXTRACTION_TARGETS = ("results/manifest.tsv", "results/features.parquet", "results/plots/faces_kept.png")


@pytest.fixture(scope="session")
def extracted(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("extracted")
    result = snakemake(workdir, *EXTRACTION_TARGETS, "--configfile", str(write_config(workdir)))
    (workdir / "console.txt").write_text(result.stdout + result.stderr)
    return workdir


@pytest.fixture(scope="session")
def run(extracted, tmp_path_factory):
    workdir = copy_run(extracted, tmp_path_factory.mktemp("finished") / "run")
    result = snakemake(workdir, "--configfile", str(write_config(workdir)))
    (workdir / "console.txt").write_text(result.stdout + result.stderr)
    return workdir
