"""The repository keeps its promises to a newcomer: documented config, one install, one test command."""
import re
import subprocess
import sys
from pathlib import Path

import yaml

from facemotion.config import load_schema

ROOT = Path(__file__).resolve().parents[1]


def _schema_keys(schema, prefix=""):
    for name, sub in schema.get("properties", {}).items():
        key = prefix + name
        if sub.get("type") == "object" and "properties" in sub:
            yield from _schema_keys(sub, key + ".")
        else:
            yield key


def test_every_config_key_is_documented():
    reference = (ROOT / "config" / "README.md").read_text()
    missing = [key for key in _schema_keys(load_schema()) if f"`{key}`" not in reference]
    assert missing == []


def test_conda_environment_pins_the_same_packages_as_requirements():
    requirements = {line.strip() for line in (ROOT / "envs" / "requirements.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")}
    environment = yaml.safe_load((ROOT / "envs" / "facemotion.yaml").read_text())
    pip = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    assert set(pip) == requirements
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[^=]+", line) for line in requirements)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"bash -c '(.+)'", (ROOT / ".ci" / "run").read_text()).group(1)
    assert command in readme


def test_snakemake_lint_is_clean():
    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "--cores", "1"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert "Congratulations" in result.stdout + result.stderr, result.stdout + result.stderr
