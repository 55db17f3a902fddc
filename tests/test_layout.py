"""The repository keeps its promises to a newcomer: documented config, one install, one test command."""
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from facemotion.config import load_schema, schema_of

ROOT = Path(__file__).resolve().parents[1]


def _schema_keys(schema, prefix=""):
    for name, sub in schema.get("properties", {}).items():
        key = prefix + name
        # `corpus` is a mapping or a list of mappings: the keys of both
        options = [option.get("items", option) for option in sub.get("anyOf", [])]
        mappings = [option for option in [sub, *options] if option.get("type") == "object" and "properties" in option]
        for mapping in mappings:
            yield from _schema_keys(mapping, key + ".")
        if not mappings:
            yield key


def test_every_config_key_is_documented():
    reference = (ROOT / "config" / "README.md").read_text()
    missing = [key for key in _schema_keys(load_schema()) if f"`{key}`" not in reference]
    assert missing == []


THIS_PACKAGE = "-e ."  # the lock's line that installs this checkout's package (pyproject.toml)


def _lock(name):
    """The lock's pinned packages (not this checkout's own package)."""
    return {line.strip() for line in (ROOT / "envs" / name).read_text().splitlines()
            if line.strip() and not line.startswith("#")} - {THIS_PACKAGE}


@pytest.mark.parametrize("lock", ["requirements.txt", "requirements-gpu.txt"])
def test_each_lock_installs_this_checkout_editable(lock):
    """The README's install gives the rules their package and the `facemotion` command; editable, so
    that what runs is the checkout's code (and its schema, next to the package), never a stale copy.
    The conda environments leave it out: a job in one finds the package on the search path that
    Snakemake passes on (docs/deployment.md)."""
    lines = [line.strip() for line in (ROOT / "envs" / lock).read_text().splitlines()]
    assert lines.count(THIS_PACKAGE) == 1


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


STAGES = ("common", "corpora", "extraction", "learning", "evaluation", "report", "prediction")
PACKAGE = ROOT / "workflow" / "facemotion"
FITTING = {"facemotion.learning.fitting", "facemotion.learning.tasks"}  # the code that trains (TensorFlow)


def _module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports_of(path: Path, package_root: Path) -> set[str]:
    """The package modules a file imports, lazy imports inside functions included, each resolved to
    a module (``from facemotion.corpora import dfew`` is the module ``facemotion.corpora.dfew``)."""
    modules = {_module_name(p, package_root) for p in package_root.rglob("*.py")}
    package = _module_name(path, package_root)
    package = package if path.name == "__init__.py" else package.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names}
    return {name for name in found if name in modules}


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """{module: the package modules it imports} for every module of the package. Importing a module
    also runs the ``__init__`` of each package above it, so those count as imported too."""
    graph = {}
    for path in sorted(package.rglob("*.py")):
        imported = _imports_of(path, package)
        for name in list(imported):
            parts = name.split(".")
            imported |= {".".join(parts[:k]) for k in range(1, len(parts))}
        graph[_module_name(path, package)] = imported - {_module_name(path, package)}
    return graph


def _reach(graph, start) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for name in graph.get(todo.pop(), ()):
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def _stage(module: str) -> int | None:
    parts = module.split(".")
    return STAGES.index(parts[1]) if len(parts) > 1 and parts[1] in STAGES else None


def layering_problems(graph) -> list[str]:
    """Circles, imports from a later stage into an earlier one, prediction reaching the fitting
    code, and a stage folder's ``__init__`` that imports anything."""
    problems = [f"{module} is in a circle" for module in graph if module in _reach(graph, module)]
    for module, imported in graph.items():
        for name in imported:
            if _stage(module) is not None and _stage(name) is None and name != "facemotion":
                problems.append(f"{module} (a stage) imports {name} (above the stages)")
            elif None not in (_stage(module), _stage(name)) and _stage(name) > _stage(module):
                problems.append(f"{module} imports {name} from a later stage")
        if module.count(".") == 1 and module.split(".")[1] in STAGES and imported - {"facemotion"}:
            problems.append(f"{module}/__init__ imports {sorted(imported)}")
    for module in graph:
        if _stage(module) in (STAGES.index("prediction"), STAGES.index("evaluation"), STAGES.index("report")):
            if _reach(graph, module) & FITTING:
                problems.append(f"{module} reaches the fitting code {sorted(_reach(graph, module) & FITTING)}")
    return sorted(problems)


def test_imports_only_go_down_the_stages():
    assert layering_problems(import_graph()) == []


def test_the_layering_check_finds_a_circle_a_climb_and_prediction_reaching_training(tmp_path):
    """The check fails on the layout it replaced: a flat package could not pass it, and the old
    circle between the two training modules is a circle here too."""
    package = tmp_path / "facemotion"
    for name, text in {
        "__init__.py": "",
        "learning/__init__.py": "",
        "learning/fitting.py": "from facemotion.learning import ratings\n",
        "learning/ratings.py": "from facemotion.learning.fitting import x\nfrom facemotion.evaluation import summary\n",
        "learning/model.py": "",
        "evaluation/__init__.py": "",
        "evaluation/summary.py": "",
        "prediction/__init__.py": "from facemotion.prediction import predict\n",
        "prediction/predict.py": "from facemotion.learning.model import x\nfrom facemotion.learning import ratings\n",
    }.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    problems = layering_problems(import_graph(package))
    assert "facemotion.learning.fitting is in a circle" in problems
    assert "facemotion.learning.ratings imports facemotion.evaluation.summary from a later stage" in problems
    assert any(p.startswith("facemotion.prediction.predict reaches the fitting code") for p in problems)
    assert any(p.startswith("facemotion.prediction/__init__ imports") for p in problems)


def test_every_stage_folder_says_what_it_owns_and_may_import():
    for stage in STAGES:
        doc = ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text())) or ""
        modules = {path.stem for path in (PACKAGE / stage).glob("*.py")} - {"__init__"}
        assert "import" in doc.lower(), stage
        assert {m for m in modules if f"``{m}``" not in doc} == set(), stage


def test_rules_and_scripts_use_public_names_only():
    """No private name (``_x``) crosses a module boundary: not between the package's modules, and
    not from the rules and scripts into the package."""
    crossing = []
    paths = [*PACKAGE.rglob("*.py"), *(ROOT / "workflow" / "scripts").glob("*.py"),
             *(ROOT / "workflow" / "rules").glob("*.smk"), ROOT / "Snakefile"]
    for path in paths:
        for line in path.read_text().splitlines():
            match = re.match(r"\s*from (facemotion[\w.]*) import (.+)", line)
            if match:
                names = [n.strip().split(" as ")[0] for n in match.group(2).strip("()").split(",")]
                crossing += [f"{path.name}: {match.group(1)}.{n}" for n in names if n.startswith("_")]
    assert crossing == []


def test_the_keys_that_only_schedule_are_listed_once_and_documented_as_such():
    from facemotion.config import SCHEDULING_KEYS

    reference = (ROOT / "config" / "README.md").read_text()
    documented = re.findall(r"^\| `training\.(\w+)` \|.*\| nothing \(scheduling only\) \|$", reference, re.MULTILINE)
    assert sorted(documented) == sorted(SCHEDULING_KEYS)
    rules = "".join(path.read_text() for path in (ROOT / "workflow" / "rules").glob("*.smk"))
    assert '"mem_mb", "runtime"' not in rules and "'mem_mb', 'runtime'" not in rules  # no second list


@pytest.mark.parametrize("module", ["facemotion.extraction.feature_table", "facemotion.evaluation.class_metrics",
                                    "facemotion.extraction.records"])
def test_table_and_evaluation_code_does_not_load_opencv_or_dlib(module):
    assert not {"cv2", "dlib"} & _imported_by(module)


def test_every_figure_is_drawn_in_plots():
    """Only facemotion.report.plots imports pyplot or saves a figure; the other modules and the scripts
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
    assert drawing == ["workflow/facemotion/report/plots.py"]


def test_the_options_listed_in_config_yaml_are_the_schemas():
    """A comment ``key: value  # a | b | c`` in config/config.yaml lists the schema's whole enum for
    that key, in its order (a word of description may follow each option)."""
    schema, listed = load_schema(), {}
    path: list[str] = []
    for line in (ROOT / "config" / "config.yaml").read_text().splitlines():
        match = re.match(r"(\s*)([\w]+):[^#]*(?:#\s*(.*))?$", line)
        if not match:
            continue
        depth = len(match.group(1)) // 2
        path = path[:depth] + [match.group(2)]
        if match.group(3) and "|" in match.group(3):
            first, *others = match.group(3).split("|")  # "what: a (why)", "b: why", ...
            options = [first.split("(")[0].split()[-1]] + [other.split()[0].rstrip(":") for other in others]
            listed[".".join(path)] = options
    assert {"corpus.format", "dimensions", "features", "extraction.detector", "cv.protocol"} <= set(listed)
    for key, options in listed.items():
        assert options == schema_of(key, schema)["enum"], key


def test_whether_a_target_is_a_class_or_a_rating_is_decided_in_one_place():
    """Only common/targets.py reads `dimensions` against "regression" or a fold's "task"; the rest
    of the workflow asks it (learnt_as_rating, is_rating)."""
    deciding = []
    for path in [*PACKAGE.rglob("*.py"), *(ROOT / "workflow" / "scripts").glob("*.py"),
                 *(ROOT / "workflow" / "rules").glob("*.smk")]:
        code = path.read_text()
        if re.search(r"""["']regression["']|\.get\(["']task["']\)|\[["']task["']\]""", code):
            deciding.append(path.relative_to(ROOT).as_posix())
    assert deciding == ["workflow/facemotion/common/targets.py"]


def test_planning_a_run_loads_no_heavy_library():
    """Snakemake imports what rules/common.smk imports to plan every run, a dry run included: SciPy,
    scikit-learn, TensorFlow, OpenCV, dlib and matplotlib are left to the jobs that need them."""
    common = (ROOT / "workflow" / "rules" / "common.smk").read_text()
    modules = re.findall(r"^from (facemotion[\w.]*) import", common, re.MULTILINE)
    assert "facemotion.report.front_page" in modules
    loaded = {name.split(".")[0] for name in _imported_by(", ".join(modules))}
    assert {"scipy", "sklearn", "tensorflow", "cv2", "dlib", "matplotlib"} & loaded == set()
