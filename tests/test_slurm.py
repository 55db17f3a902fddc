"""The workflow run through SLURM with workflow/profiles/slurm, on a local single-node cluster.

Skipped unless a SLURM cluster answers (CI starts one with `.ci/slurm_cluster.sh start`).
The cluster must keep finished jobs visible to squeue (MinJobAge >= 3 x the plugin's initial
status-check delay), since the profile follows jobs with squeue; .ci/slurm_cluster.sh does.
"""

import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_S = 900  # the whole run; a stuck run is interrupted (SIGINT cancels its SLURM jobs)

# A tiny demo corpus, one target (6 folds), one epoch: .test/slurm/config.yaml.
CONFIG = REPO / ".test" / "slurm" / "config.yaml"


def _node_cpus():
    """CPUs of an idle/usable node of the running cluster, or a reason to skip."""
    if not (shutil.which("sinfo") and shutil.which("sbatch") and shutil.which("squeue")):
        return None, "no SLURM client commands (sinfo/sbatch/squeue); start .ci/slurm_cluster.sh"
    try:
        out = subprocess.run(
            ["sinfo", "--noheader", "--Node", "--format=%T %c"],
            capture_output=True, text=True, timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, f"sinfo failed: {err}"
    if out.returncode != 0:
        return None, f"no SLURM controller answers: {out.stderr.strip()}"
    cpus = [
        int(cpu)
        for state, cpu in (line.split() for line in out.stdout.splitlines() if line.strip())
        if state.rstrip("*~#$@^-") in {"idle", "mixed", "allocated", "completing"}
    ]
    if not cpus:
        return None, f"no SLURM node is up: {out.stdout.strip()!r}"
    return max(cpus), None


NODE_CPUS, SKIP_REASON = _node_cpus()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NODE_CPUS is None, reason=f"SLURM not available: {SKIP_REASON}"),
]


@pytest.fixture
def workdir(tmp_path):
    """A copy of the workflow (Snakefile, rules, scripts, config, profiles) to run in."""
    ignore = shutil.ignore_patterns("__pycache__", ".snakemake", "*.pyc")
    for name in ("workflow", "config", "envs"):
        shutil.copytree(REPO / name, tmp_path / name, symlinks=True, ignore=ignore)
    shutil.copy2(REPO / "Snakefile", tmp_path / "Snakefile")
    (tmp_path / "profiles").symlink_to("workflow/profiles")  # like the repository's link
    shutil.copy2(CONFIG, tmp_path / "overrides.yaml")
    return tmp_path


def test_workflow_runs_through_slurm(workdir):
    cmd = [
        "timeout", "-s", "INT", "-k", "60", str(TIMEOUT_S),
        sys.executable, "-m", "snakemake",
        # In place of profiles/default, whose keys would otherwise override a --profile's.
        "--workflow-profile", "workflow/profiles/slurm",
        "--configfile", "overrides.yaml",
        # A job asking for more CPUs than a node has would wait in the queue forever.
        "--cores", str(min(NODE_CPUS, 4)),
        "--slurm-init-seconds-before-status-checks", "2",  # quick polls; MinJobAge >= 6 s
        "--slurm-keep-successful-logs",
        "--latency-wait", "10",
        "results/metrics.tsv",
    ]
    run = subprocess.run(
        cmd, cwd=workdir, capture_output=True, text=True, timeout=TIMEOUT_S + 120
    )
    log = run.stdout + run.stderr
    assert run.returncode == 0, f"snakemake exited {run.returncode}:\n{log[-8000:]}"

    metrics = workdir / "results/metrics.tsv"
    assert metrics.is_file() and metrics.stat().st_size > 0

    # Every remote job was submitted with sbatch and SLURM ran it to completion: the run's jobs
    # (all named after the plugin's run ID) are still listed by squeue, COMPLETED.
    run_id = re.search(r"SLURM run ID: (\S+)", log).group(1)
    submitted = set(re.findall(r"has been submitted with SLURM jobid (\d+)", log))
    assert submitted, f"no job went through sbatch:\n{log[-4000:]}"
    queue = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%i|%T", "--name", run_id],
        capture_output=True, text=True, timeout=30, check=True,
    )
    states = dict(line.split("|") for line in queue.stdout.split())
    assert set(states) == submitted
    assert set(states.values()) == {"COMPLETED"}, states

    # The plugin's per-job logs: extraction batches went in groups, training folds one by one,
    # the local rules not through SLURM at all.
    logs = workdir / ".snakemake/slurm_logs"
    group_logs = list((logs / "group_extract_extract_batch").rglob("*.log"))
    n_batches = len(list((workdir / "results/extraction/batches").glob("*.parquet")))
    assert 0 < len(group_logs) == math.ceil(n_batches / 4)  # group-components: extract=4
    assert list((logs / "rule_train_fold").rglob("*.log"))
    assert not any((logs / f"rule_{rule}").exists() for rule in ("evaluate", "confusion", "summarise", "manifest"))
