"""Deployment (docs/deployment.md): one version, the `facemotion` command that the README's install
gives, and the workflow used as a Snakemake module of a user's own folder made by
`snakedeploy deploy-workflow`."""

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import facemotion
import pytest
import yaml
from tiny_run import ROOT, SNAKEMAKE, TINY, jobs_of

SNAKEDEPLOY = Path(sys.executable).parent / "snakedeploy"  # envs/requirements-dev.txt


def deploy(dest: Path, settings: dict) -> Path:
    """The user's folder made by `snakedeploy deploy-workflow <this repository> DEST --tag vX.Y.Z`
    from the repository's files (those git tracks, as a clone has them), with `settings` laid over
    its copy of config/config.yaml as a user edits it. One line is mended: given a local path,
    snakedeploy 0.17 declares the module's snakefile by its path inside the repository
    (`"Snakefile"`), which the user's workflow/Snakefile would read as itself; for the published
    repository it declares `github("<owner>/facemotion", path="Snakefile", tag="vX.Y.Z")`."""
    source = dest.parent / "facemotion"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_symlink():  # profiles -> workflow/profiles
            (source / name).symlink_to(os.readlink(ROOT / name))
        elif (ROOT / name).is_file():
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([str(SNAKEDEPLOY), "deploy-workflow", str(source), str(dest), "--tag", f"v{facemotion.__version__}"],
                   capture_output=True, text=True, check=True)
    snakefile = dest / "workflow" / "Snakefile"
    written = snakefile.read_text()
    assert '\n        "Snakefile"\n' in written and "use rule * from facemotion" in written, written
    snakefile.write_text(written.replace('\n        "Snakefile"\n', f'\n        "{source / "Snakefile"}"\n'))
    assert (dest / "profiles" / "slurm").is_dir() and (dest / "config" / "dfew.yaml").is_file()
    config = yaml.safe_load((dest / "config" / "config.yaml").read_text())
    for section, values in settings.items():
        config[section] = {**config.get(section, {}), **values} if isinstance(values, dict) else values
    (dest / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return dest


def snakemake_in(folder: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """Snakemake started in the user's folder, as the user starts it (no --snakefile, no -d)."""
    result = subprocess.run([*SNAKEMAKE, "--cores", "2", *args], cwd=folder, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result


def test_the_version_is_written_once_and_released_in_the_changelog():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "facemotion.__version__"}
    releases = re.findall(r"^## (\d+\.\d+\.\d+) \(", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert releases[0] == facemotion.__version__


def test_python_m_facemotion_shows_the_version():
    shown = subprocess.run([sys.executable, "-m", "facemotion", "--version"], capture_output=True, text=True,
                           check=True).stdout
    assert shown.strip() == f"facemotion {facemotion.__version__}"


COMMAND = Path(sys.executable).parent / "facemotion"


@pytest.mark.skipif(not COMMAND.exists(), reason="facemotion is not installed in this environment; the README's "
                                                 "install installs it (envs/requirements.txt)")
def test_the_install_gives_the_command_and_this_checkouts_package(tmp_path):
    """After the README's install, without PYTHONPATH (the tests set it), from any folder."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}

    def run(*command):
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout

    assert run(str(COMMAND), "--version").strip() == f"facemotion {facemotion.__version__}"
    for command in ("summarise", "check-corpus", "predict"):
        assert f"usage: facemotion {command}" in run(str(COMMAND), command, "--help")
    where = run(sys.executable, "-c", "import facemotion; print(facemotion.__file__)").strip()
    assert Path(where).resolve() == (ROOT / "workflow" / "facemotion" / "__init__.py").resolve()


def test_the_catalog_shows_how_to_deploy():
    usage = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())["usage"]
    assert "snakedeploy deploy-workflow" in usage["mandatory-flags"]["desc"]
    assert "profiles/slurm" in usage["mandatory-flags"]["desc"]
    assert usage["report"] is True and set(usage["software-stack-deployment"]) == {"conda", "singularity",
                                                                                   "singularity+conda"}


def test_a_deployed_folder_plans_the_whole_workflow_from_the_module(tmp_path):
    """A dry run in the user's folder: the default target is the workflow's `all`, and the local
    defaults come from the folder's copy of profiles/default."""
    user = deploy(tmp_path / "study", TINY)
    result = snakemake_in(user, "--dry-run")
    jobs = jobs_of(result)
    assert jobs["all"] == 1 and jobs["demo_corpus"] == 1 and jobs["train_fold"] == 18
    assert "profiles/default" in result.stdout + result.stderr


def test_rules_of_one_release_refuse_the_package_of_another(tmp_path):
    """A module's tag changed without installing that release's environment: refused at start."""
    other = tmp_path / "other_release"
    shutil.copytree(ROOT / "workflow" / "facemotion", other / "facemotion")
    init = other / "facemotion" / "__init__.py"
    init.write_text(init.read_text().replace(f'__version__ = "{facemotion.__version__}"', '__version__ = "0.0.1"'))
    user = deploy(tmp_path / "study", TINY)
    result = subprocess.run([*SNAKEMAKE, "--cores", "1", "--dry-run"], cwd=user, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(other)}, timeout=300)
    assert result.returncode != 0
    assert (f"these rules are facemotion {facemotion.__version__}, but the environment that runs Snakemake has "
            "facemotion 0.0.1") in result.stdout + result.stderr


@pytest.mark.slow
def test_the_workflow_runs_to_the_end_as_a_module_of_the_users_folder(tmp_path):
    """The tiny config, set in the user's config/config.yaml, run to the end in the user's folder:
    the corpus, results, logs and report land there; the rules, scripts, schema, environments and
    report captions come from the module."""
    # One target and two held-out sessions: what reaches the results is the module's concern, not
    # how many folds train (the shared tiny run trains all 18).
    user = deploy(tmp_path / "study", {**TINY, "targets": ["label"], "cv": {"test_sessions": ["1", "2"]}})
    snakemake_in(user)
    for made in ("resources/demo/manifest.tsv", "results/manifest.tsv", "results/summary.tsv",
                 "results/models/label/fold_1.keras.json", "results/report/front_page.rst", "logs/manifest.log"):
        assert (user / made).is_file(), made
    assert f"facemotion {facemotion.__version__}" in (user / "results/report/front_page.rst").read_text()
    sidecar = yaml.safe_load((user / "results/models/label/fold_1.keras.json").read_text())
    assert sidecar["facemotion_version"] == facemotion.__version__
    rerun = snakemake_in(user, "--dry-run")
    assert "Nothing to be done" in rerun.stdout + rerun.stderr
    snakemake_in(user, "--report", "report.html")
    html = (user / "report.html").read_text()
    assert "facemotion: what this run did" in html and "faces_kept.png" in html
    assert "Face frames of a sample of kept recordings" in html  # the caption, from the module's report/
