"""Running the workflow from the tests: Snakemake in a work folder, what it would run, a config
over the tiny one (.test/tiny/config.yaml), and a copy of a finished run to change.

The shared runs themselves are fixtures in conftest.py.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from facemotion.config import experiment_configs

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
TEST_CONFIGS = ROOT / ".test"
TINY = yaml.safe_load((TEST_CONFIGS / "tiny" / "config.yaml").read_text())


def snakemake(workdir: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    result = subprocess.run([*SNAKEMAKE, "--cores", "2", "--directory", str(workdir), *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """{rule: count} of what Snakemake would run now (dry run)."""
    return jobs_of(snakemake(workdir, "--dry-run", *args))


def jobs_of(output: subprocess.CompletedProcess) -> dict[str, int]:
    """{rule: count} of the jobs a dry run's output plans."""
    text = output.stdout + output.stderr
    if "Nothing to be done" in text:
        return {}
    stats = text.split("Job stats:")[1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.MULTILINE)
            if m.group(1) != "total"}


def write_config(workdir: Path, base: dict | None = None, **changes) -> Path:
    """`base` (the tiny config unless given) with `changes`: a section's mapping updates the
    section key by key, anything else replaces it; written to workdir/config.yaml."""
    config = json.loads(json.dumps(TINY if base is None else base))
    for section, values in changes.items():
        if isinstance(values, dict):
            config.setdefault(section, {}).update(values)
        else:
            config[section] = values
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def dot_test_config(name: str) -> dict:
    """One of the configurations under .test/ (one folder each)."""
    return yaml.safe_load((TEST_CONFIGS / name / "config.yaml").read_text())


def copy_run(run: Path, to: Path) -> Path:
    """A copy of a run's work folder (results, logs, the corpus and Snakemake's records), so that
    Snakemake takes up where the run stopped."""
    shutil.copytree(run, to, symlinks=True)
    return to


def validated(config: dict, workdir: Path | str = ".") -> dict:
    """``config`` checked in place as the workflow checks it at start (defaults filled); raises
    ConfigError listing every problem."""
    experiment_configs(config, workdir)
    return config
