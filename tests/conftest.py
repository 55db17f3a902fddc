"""The tiny workflow run (.test/tiny/config.yaml) that the workflow tests share, in two stages,
each made once per test session:

- `extracted` (fast tier): the tiny demo corpus rendered, the manifest, the extraction (feature
  table, report, per-recording cache) and its plots: no training;
- `run` (slow): a copy of `extracted` run to the end (18 small trainings, evaluation, summary,
  front page), with Snakemake's console in console.txt.

Tests only read them; a test that changes a run (deletes a result, adds a corpus row, trains a
variant) first copies it (tiny_run.copy_run), so Snakemake starts from its records and cache.

The suite runs on several processes (pytest-xdist, `-n` in pyproject.toml): the shared runs are
made once for all of them (the first process to ask makes a run, under a file lock, and the
others wait for it), and the tests that share a module-scoped fixture run on one process, so it
too is made once.
"""

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from tiny_run import copy_run, snakemake, write_config

# Every process the tests start (Snakemake, its jobs, `python -m facemotion`) imports this
# checkout's package, whether or not the environment has it installed (the README's install does:
# envs/requirements.txt), and never another copy.
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(Path(__file__).resolve().parents[1] / "workflow"), os.environ.get("PYTHONPATH")]))

EXTRACTION_TARGETS = ("results/manifest.tsv", "results/features.parquet", "results/plots/faces_kept.png")


def made_once(tmp_path_factory, name: str, make: Callable[[Path], None]) -> Path:
    """The folder `name`, made by `make` once per test session, whichever process asks first.

    Under xdist every process has its own base temporary folder, all inside the session's; the
    shared folder lives there. A made folder holds console.txt (written last)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    workdir = base / name
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (workdir / "console.txt").is_file():
            shutil.rmtree(workdir, ignore_errors=True)  # what a failed attempt left
            make(workdir)
    return workdir


@pytest.fixture(scope="session")
def extracted(tmp_path_factory):
    def make(workdir):
        workdir.mkdir(parents=True)
        result = snakemake(workdir, *EXTRACTION_TARGETS, "--configfile", str(write_config(workdir)))
        (workdir / "console.txt").write_text(result.stdout + result.stderr)

    return made_once(tmp_path_factory, "extracted", make)


@pytest.fixture(scope="session")
def run(extracted, tmp_path_factory):
    def make(workdir):
        copy_run(extracted, workdir)
        (workdir / "console.txt").unlink()
        result = snakemake(workdir, "--configfile", str(write_config(workdir)))
        (workdir / "console.txt").write_text(result.stdout + result.stderr)

    return made_once(tmp_path_factory, "finished", make)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items):
    """Under xdist's --dist loadgroup, the tests that use a module-scoped fixture go to one
    process (their module's group), so the fixture is made once."""
    for item in items:
        fixtures = getattr(item, "_fixtureinfo", None)
        if fixtures is None or any(mark.name == "xdist_group" for mark in item.iter_markers()):
            continue
        if any(definition.scope == "module" for name in item.fixturenames
               for definition in fixtures.name2fixturedefs.get(name, ())):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
