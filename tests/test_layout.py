"""The repository keeps its promises to a newcomer: documented config, one install, one test command."""
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
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


def _lock(name):
    return {line.strip() for line in (ROOT / "envs" / name).read_text().splitlines()
            if line.strip() and not line.startswith("#")}


@pytest.mark.parametrize("lock, conda_file", [("requirements.txt", "facemotion.yaml"),
                                              ("requirements-gpu.txt", "facemotion-gpu.yaml")])
def test_conda_environment_pins_the_same_packages_as_requirements(lock, conda_file):
    requirements = _lock(lock)
    environment = yaml.safe_load((ROOT / "envs" / conda_file).read_text())
    pip = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    assert set(pip) == requirements
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+(\[[a-z-]+\])?==[^=]+", line) for line in requirements)


def test_gpu_lock_is_the_cpu_lock_with_tensorflow_and_cuda():
    cpu, gpu = _lock("requirements.txt"), _lock("requirements-gpu.txt")
    tensorflow_cpu = next(line for line in cpu if line.startswith("tensorflow_cpu=="))
    version = tensorflow_cpu.split("==")[1]
    cuda_libraries = {line for line in gpu if line.startswith("nvidia-") and line.split("==")[0].endswith("-cu12")}
    assert len(cuda_libraries) == 12  # what tensorflow[and-cuda] 2.21 requires, each pinned
    assert gpu - cuda_libraries == cpu - {tensorflow_cpu} | {f"tensorflow[and-cuda]=={version}"}


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"bash -c '(.+)'", (ROOT / ".ci" / "run").read_text()).group(1)
    assert command in readme


TEST_CONFIGS = sorted((ROOT / ".test").glob("*/config.yaml"))


def test_the_test_configs_are_files_under_dot_test():
    assert [path.parent.name for path in TEST_CONFIGS] == ["experiments", "landmarks", "slurm", "tiny"]


@pytest.mark.parametrize("configfile", [None, *TEST_CONFIGS],
                         ids=lambda path: "config" if path is None else path.parent.name)
def test_snakemake_lint_is_clean(configfile):
    """`snakemake --lint` with the default config and with each test config (.test/*/config.yaml)."""
    extra = [] if configfile is None else ["--configfile", str(configfile)]
    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "--cores", "1", *extra], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert "Congratulations" in result.stdout + result.stderr, result.stdout + result.stderr


def _imported_by(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT / "workflow")})
    return set(result.stdout.split())


def _package_imports(module: str) -> list[str]:
    """The package modules `module` (a file of facemotion) imports, lazy imports inside functions
    included; relative imports as written (".records")."""
    tree = ast.parse((ROOT / "workflow" / "facemotion" / f"{module}.py").read_text())
    imported = ["." * node.level + (node.module or "") for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    return [name for name in imported if name.startswith(("facemotion", "."))]


def test_manifest_imports_nothing_from_the_package_above_it():
    # Lazy imports inside functions count too: they made manifest and corpora import each other.
    # Only the leaf module of plain record types may be used.
    assert [name for name in _package_imports("manifest") if name != "facemotion.records"] == []


@pytest.mark.parametrize("module", ["predict", "trained"])
def test_prediction_does_not_import_training(module):
    """Saving, loading and applying a trained model live in facemotion.trained, which training
    and prediction both use."""
    assert [name for name in _package_imports(module) if name.rsplit(".", 1)[-1] == "training"] == []


def test_the_keys_that_only_schedule_are_listed_once_and_documented_as_such():
    from facemotion.config import SCHEDULING_KEYS

    reference = (ROOT / "config" / "README.md").read_text()
    documented = re.findall(r"^\| `training\.(\w+)` \|.*\| nothing \(scheduling only\) \|$", reference, re.MULTILINE)
    assert sorted(documented) == sorted(SCHEDULING_KEYS)
    rules = "".join(path.read_text() for path in (ROOT / "workflow" / "rules").glob("*.smk"))
    assert '"mem_mb", "runtime"' not in rules and "'mem_mb', 'runtime'" not in rules  # no second list


@pytest.mark.parametrize("module", ["facemotion.features", "facemotion.evaluation", "facemotion.records"])
def test_table_and_evaluation_code_does_not_load_opencv_or_dlib(module):
    assert not {"cv2", "dlib"} & _imported_by(module)


def test_every_figure_is_drawn_in_plots():
    """Only facemotion.plots imports pyplot or saves a figure; the other modules and the scripts
    hand it their tables (config.py may import matplotlib to check a colour map's name)."""
    drawing = []
    for path in sorted((ROOT / "workflow").rglob("*.py")):
        tree = ast.parse(path.read_text())
        imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        saves = any(isinstance(node, ast.Attribute) and node.attr == "savefig" for node in ast.walk(tree))
        if saves or any(name.startswith("matplotlib.pyplot") or name == "seaborn" and path.name != "config.py"
                        for name in imported):
            drawing.append(path.relative_to(ROOT).as_posix())
    assert drawing == ["workflow/facemotion/plots.py"]



def test_readme_says_where_every_module_and_script_lives():
    """README's "Where the code lives" table names every module of the package and every script."""
    readme = (ROOT / "README.md").read_text()
    table = readme.split("**Where the code lives.**")[1].split("\n\n", 2)[1]
    named = set(re.findall(r"`([\w/.]+)`", table))
    package = ROOT / "workflow" / "facemotion"
    modules = {path.stem for path in package.glob("*.py") if path.stem not in {"__init__", "__main__"}}
    modules |= {f"{path.name}/" for path in package.iterdir() if (path / "__init__.py").is_file()}
    scripts = {path.name for path in (ROOT / "workflow" / "scripts").glob("*.py")}
    rules = {path.name for path in (ROOT / "workflow" / "rules").glob("*.smk")}
    assert (modules | scripts | rules) - named == set()
