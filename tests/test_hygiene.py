"""The code passes the project's linters: ruff, snakefmt and vulture (settings in pyproject.toml),
as installed from envs/requirements-dev.txt next to the Python running the tests; and the suite's
own two-process set-up holds."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Not resolved: in a virtual environment, python is a link to the base interpreter.
BIN = Path(sys.executable).parent
INSTALL = f"{sys.executable} -m pip install -r envs/requirements-dev.txt"


@pytest.mark.parametrize("command", [
    ["ruff", "check", "."],
    ["snakefmt", "--check", "--compact-diff", "Snakefile", "workflow/rules"],
    ["vulture"],  # paths and confidence from [tool.vulture]
], ids=lambda command: command[0])
def test_linter_finds_nothing(command):
    tool = BIN / command[0]
    if not tool.exists():
        pytest.fail(f"{command[0]} is not installed next to {sys.executable}; install the lint tools with: {INSTALL}")
    result = subprocess.run([str(tool), *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(command)} found:\n{result.stdout}{result.stderr}"


def test_the_test_groups_reach_xdist(request):
    """The tests that share a module's fixture (tests/conftest.py) go to one process only if xdist
    could write their group into their ids. With pytest 9.2 it cannot (pytest-xdist issue 1386:
    envs/requirements.txt pins pytest 9.1.1): each process then made its own copy of every module
    fixture, a tiny workflow run among them, and nothing else said so."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not run under pytest-xdist's --dist loadgroup")
    lost = [item.nodeid for item in request.session.items
            if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
    assert not lost, f"pytest-xdist did not group {len(lost)} tests, {lost[0]} first; install envs/requirements.txt"
