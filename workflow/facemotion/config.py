"""Validate the workflow configuration against workflow/schemas/config.schema.yaml.

Snakemake's own `validate` stops at the first error and prints the raw jsonschema text; users
editing a config want every mistake at once, each naming the key and what is allowed.
"""

from __future__ import annotations

import copy
import difflib
import os
from pathlib import Path

import jsonschema
import yaml

from facemotion.corpora.cross_corpus import CORPUS_PROTOCOLS
from facemotion.learning.networks import DEFAULT_EPOCHS, MODEL_FOR_FEATURES, NORMALISATIONS

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"
# The `training` keys that only schedule jobs (cores, memory, run time, a GPU): no result depends
# on them, so a change reruns nothing (config/README.md: "nothing (scheduling only)").
SCHEDULING_KEYS = ("threads", "mem_mb", "runtime", "gpu")
# corpus.source: what each format's release offers (any other format reads video files).


# The `training` keys only rating targets (dimensions: regression) read: a class target's jobs
# leave them out, so that changing them reruns nothing of the classes.
RATING_KEYS = ("rating_calibration",)


def without_scheduling(training: dict) -> dict:
    """The `training` settings results depend on: all but :data:`SCHEDULING_KEYS`, and those of
    :data:`RATING_KEYS` (which :func:`rating_settings` adds for a rating target)."""
    return {key: value for key, value in training.items() if key not in SCHEDULING_KEYS + RATING_KEYS}


def rating_settings(training: dict) -> dict:
    """The `training` settings only a rating target depends on (:data:`RATING_KEYS`)."""
    return {key: training[key] for key in RATING_KEYS if key in training}


class ConfigError(ValueError):
    """The configuration is invalid; the message lists every problem."""


def load_schema() -> dict:
    with open(SCHEMA_PATH) as handle:
        return yaml.safe_load(handle)


def schema_of(key: str, schema: dict | None = None) -> dict:
    """The schema of one dotted config key (``cv.folds``): its ``default``, ``enum``, ``description``."""
    node = schema or load_schema()
    for part in key.split("."):
        if "properties" not in node:  # `corpus`: a mapping or a list; its keys are the mapping's
            node = next(option for option in node["anyOf"] if "properties" in option)
        node = node["properties"][part]
    return node


def _with_defaults(validator_class):
    """A validator that fills in `default` values of missing properties while validating."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


def _key(path) -> str:
    return ".".join(str(part) for part in path) or "(top level)"


def _allowed(schema: dict) -> str:
    """Say in words what a schema allows, for error messages."""
    if "anyOf" in schema:
        return " or ".join(_allowed(option) for option in schema["anyOf"])
    if "const" in schema:
        return repr(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(repr(v) for v in schema["enum"])
    if "pattern" in schema:
        return f"a name matching {schema['pattern']}"
    kind = schema.get("type", "value")
    if kind == "array":
        return "a list of " + _allowed(schema.get("items", {}))
    bounds = []
    if "minimum" in schema:
        bounds.append(f">= {schema['minimum']}")
    if "exclusiveMinimum" in schema:
        bounds.append(f"> {schema['exclusiveMinimum']}")
    if "maximum" in schema:
        bounds.append(f"<= {schema['maximum']}")
    text = {"integer": "an integer", "number": "a number", "string": "a string",
            "object": "a mapping", "boolean": "true or false"}.get(kind, kind)
    return " ".join([text, " and ".join(bounds)]).strip()


def _describe(error: jsonschema.ValidationError) -> str:
    key = _key(error.absolute_path)
    if error.validator in ("anyOf", "oneOf") and isinstance(error.instance, list):
        # A list where a list or a word is allowed (classes, cv.test_sessions): what is wrong with the list.
        options = error.schema[error.validator]
        lists = [e for e in error.context if e.schema_path and options[e.schema_path[0]].get("type") == "array"]
        if lists:
            return _describe(jsonschema.exceptions.best_match(lists))
    if error.validator == "anyOf" and isinstance(error.instance, dict):
        # A mapping where a mapping or a list is allowed (corpus): what is wrong with the mapping.
        options = error.schema["anyOf"]
        mappings = [e for e in error.context if e.schema_path and options[e.schema_path[0]].get("type") == "object"]
        if mappings:
            return "; ".join(_describe(e) for e in mappings)
    if error.validator == "additionalProperties":
        known = ", ".join(sorted(error.schema.get("properties", {})))
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        prefix = key + "." if error.absolute_path else ""
        return "; ".join(f"unknown key '{prefix}{name}' (known keys here: {known})" for name in extra)
    if "propertyNames" in error.schema_path:
        # A key's name is wrong: experiments' names, or what an experiment may set.
        return f"{key}: key {error.instance!r} not allowed; allowed: {_allowed(error.schema)}"
    if error.validator in ("minItems", "uniqueItems"):
        return f"{key}: {error.message}"
    hint = ""
    if error.schema.get("type") == "string" and isinstance(error.instance, (int, float)) \
            and not isinstance(error.instance, bool):  # YAML reads 1 as a number: a name must be quoted
        hint = f" (names are text: write '{error.instance}')"
    return f"{key}: got {error.instance!r}; allowed: {_allowed(error.schema)}{hint}"


def _coerce_numbers(config, schema: dict, ints_as_floats: bool = False) -> None:
    """Turn numeric strings into numbers where the schema wants numbers, in place.

    `snakemake --config section='{key: 4}'` parses nested values with YAML's BaseLoader, which
    gives the string '4'; without this, such a command-line override could never validate.
    `ints_as_floats` (once validated): `width: 6` and `width: 6.0` are the same setting and must
    reach the rules' params (compared as text) as the same value, so a `number` becomes a float.
    """
    if not isinstance(config, dict):
        return
    for name, sub in schema.get("properties", {}).items():
        value = config.get(name)
        if isinstance(value, dict):
            _coerce_numbers(value, sub, ints_as_floats)
        elif isinstance(value, str) and sub.get("type") in ("integer", "number"):
            try:
                number = float(value)
            except ValueError:
                continue
            if sub["type"] == "number":
                config[name] = number
            elif number.is_integer():
                config[name] = int(number)
        elif ints_as_floats and sub.get("type") == "number" and isinstance(value, int) \
                and not isinstance(value, bool):
            config[name] = float(value)


def canonical(value):
    """`value` with every mapping's keys in sorted order (recursively), for rule params.

    Snakemake compares params by their text, in which a dict's key order shows: without this,
    a config file with the same values in another order (or sorted by a tool) reruns jobs."""
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [canonical(item) for item in value]
    return value


def repeated_keys(path: str | Path) -> list[str]:
    """Each key a YAML (or JSON) config file writes twice in one mapping, one line each, naming the
    file, the line and the dotted key. YAML keeps the last of the two without a word: an experiment
    named twice would vanish from the run. A file YAML cannot read is Snakemake's to report."""
    try:
        root = yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    problems = []

    def walk(node, prefix: str) -> None:
        if isinstance(node, yaml.SequenceNode):
            for item in node.value:
                walk(item, prefix)
        if not isinstance(node, yaml.MappingNode):
            return
        first_line = {}
        for key, value in node.value:
            name = f"{prefix}{key.value}" if isinstance(key, yaml.ScalarNode) else None
            if name is not None and key.value != "<<":  # "<<" merges another mapping in
                if name in first_line:
                    problems.append(f"{path}, line {key.start_mark.line + 1}: key {name!r} is written twice (first "
                                    f"on line {first_line[name]}); YAML would keep only the last: remove or "
                                    "rename one")
                first_line.setdefault(name, key.start_mark.line + 1)
            walk(value, f"{name}." if name else prefix)

    walk(root, "")
    return problems


def experiment_configs(config: dict, workdir: Path | str = ".", classes_named: bool | None = None) -> dict[str, dict]:
    """Validate `config` in place and return each experiment's full, validated configuration.

    Without `experiments` that is {"default": config}. Each experiment's partial config is
    merged over the top level as written (before defaults, so that e.g. the model follows an
    experiment's `features`) and validated like it; its problems are named
    `experiments.<name>.<key>`. Raises ConfigError listing every problem.

    classes_named: whether the user's config names `classes` (the workflow knows it from its
    config files); None: whether `config` has the key before defaults are filled. A benchmark's
    classes that come from the defaults must be all of them (:func:`default_classes_problem`).
    """
    schema = load_schema()
    as_written = copy.deepcopy(config)
    named = "classes" in config if classes_named is None else classes_named
    problems = _problems(config, schema, Path(workdir))
    if not problems:
        problems += filter(None, [default_classes_problem(config, named)])
    experiments = {}
    if not problems:
        for name, override in (config.get("experiments") or {}).items():
            problems += filter(None, [experiment_name_problem(name, Path(workdir))])
            merged = _merged({k: v for k, v in as_written.items() if k != "experiments"}, override)
            found = _problems(merged, schema, Path(workdir)) or _experiment_problems(merged, config)
            problems += [f"experiments.{name}.{problem}" for problem in found]
            experiments[name] = merged
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
    for validated in (config, *experiments.values()):
        _coerce_numbers(validated, schema, ints_as_floats=True)
    return experiments or {"default": config}


# What a run writes inside an experiment's folder, at most: a fold's temporary model sidecar
# (predictions/activation/.fold_<session>.keras.json.<pid>.<token>.tmp, a session id up to 200 bytes).
EXPERIMENT_TAIL_BYTES = 300


def experiment_name_problem(name: str, workdir: Path) -> str | None:
    """An experiment's name becomes a folder (results/experiments/<name>/): checked at start
    against the file system's limits, not by a crash after the first experiment trained."""
    name_max, path_max = (_file_system_limit(workdir, limit, default) for limit, default in
                          (("PC_NAME_MAX", 255), ("PC_PATH_MAX", 4096)))
    size = len(name.encode())
    shown = name if len(name) <= 40 else f"{name[:40]}..."
    if size > name_max:
        return (f"experiments.{shown}: the experiment's name is {size} bytes, more than a file name may have here "
                f"(NAME_MAX {name_max}); choose a shorter name")
    folder = len(str(workdir.resolve() / "results" / "experiments" / name).encode())
    if folder + EXPERIMENT_TAIL_BYTES > path_max:
        return (f"experiments.{shown}: the experiment's folder under {workdir.resolve()} leaves too little of the "
                f"{path_max} bytes a path may have here (PATH_MAX) for its files; choose a shorter name")
    return None


def _file_system_limit(folder: Path, limit: str, default: int) -> int:
    try:
        return os.pathconf(folder, limit)
    except (OSError, ValueError):  # a limit the system does not report
        return default


def _merged(base: dict, override: dict) -> dict:
    """`override` laid over a copy of `base`, mappings merged key by key, other values replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _problems(config: dict, schema: dict, workdir: Path) -> list[str]:
    _coerce_numbers(config, schema)
    errors = sorted(_Validator(schema).iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    return [_describe(e) for e in errors] or _resolve_classes(config, workdir) or _semantic_problems(config, workdir)


def _resolve_classes(config: dict, workdir: Path) -> list[str]:
    """Replace `classes: all` with the corpus's classes in their fixed order (corpora.corpus_classes),
    once, at the start, so everything after sees a list; problems where that cannot be done. Over
    several corpora: the classes every listed corpus defines, in the first one's order (a class one
    corpus lacks could be neither trained nor tested everywhere)."""
    if config["classes"] != "all":
        return []
    from facemotion.corpora.manifest import ManifestError
    from facemotion.corpora.reading import corpus_classes

    several = isinstance(config["corpus"], list)
    shared = None
    for corpus in config["corpus"] if several else [config["corpus"]]:
        path = workdir / corpus["path"]
        if corpus["format"] == "tsv" and not path.is_file():
            return []  # the missing manifest is reported as such
        try:
            classes = corpus_classes(corpus["format"], path)
        except ManifestError as error:
            whose = f"the labels of corpus {corpus['name']}" if several else "the manifest's labels"
            return [f"classes: 'all' needs {whose}: {error}"]
        shared = classes if shared is None else [c for c in shared if c in classes]
    if len(shared) >= 2:
        config["classes"] = shared
        return []
    if several:
        return [f"classes: 'all' over the listed corpora found {len(shared)} class(es) every one of them has "
                f"({', '.join(shared) or 'none'}); at least 2 are needed: name the classes"]
    return [f"classes: 'all' found {len(shared)} label(s) in {config['corpus']['path']} "
            f"({', '.join(shared) or 'none'}); at least 2 are needed"]


def default_classes_problem(config: dict, named: bool) -> str | None:
    """A benchmark (dfew, mafw, ferv39k) run on a class subset the user did not name: the defaults'
    four classes would silently shrink the benchmark into something its published numbers are not."""
    from facemotion.corpora.reading import BENCHMARKS, corpus_classes

    if isinstance(config["corpus"], list):  # several corpora are no benchmark's protocol
        return None
    corpus_format = config["corpus"]["format"]
    if named or corpus_format not in BENCHMARKS:
        return None
    every = corpus_classes(corpus_format, config["corpus"]["path"])
    if set(config["classes"]) == set(every):
        return None
    return (f"classes: {', '.join(config['classes'])} come from the defaults, {len(config['classes'])} of "
            f"{BENCHMARKS[corpus_format]}'s {len(every)} classes; set `classes: all` for the official "
            f"{len(every)}-class protocol, or name the classes to run a subset (reported as not the official "
            "protocol)")


def _experiment_problems(experiment: dict, top_level: dict) -> list[str]:
    """What an experiment may not change: the corpus is read once, with the top level's classes and folds."""
    problems = []
    extra = [c for c in experiment["classes"] if c not in top_level["classes"]]
    if extra:
        problems.append(f"classes: {extra} are not among the top level's classes {top_level['classes']} "
                        "(the corpus is read once, with those)")
    # Several corpora read as cv.protocol loso keep every corpus's sessions: an experiment may then
    # run its own protocol over them (corpora.cross_corpus.experiment_folds).
    own_folds = isinstance(top_level["corpus"], list) and top_level["cv"]["protocol"] == "loso"
    keys = ("folds", "speakers_may_span_sessions", "test_sessions") if own_folds else \
        ("folds", "speakers_may_span_sessions", "test_sessions", "train", "test")
    for key in keys:
        if experiment["cv"][key] != top_level["cv"][key]:
            problems.append(f"cv.{key}: got {experiment['cv'][key]}; the folds are the corpus's, shared by all "
                            f"experiments (top level: {top_level['cv'][key]})")
    protocols = {experiment["cv"]["protocol"], top_level["cv"]["protocol"]}
    if own_folds and experiment["cv"]["protocol"] == "seed":
        problems.append("cv.protocol: got seed; over several corpora an experiment may run loso, cross_corpus or "
                        "leave_one_corpus_out beside the top level's loso")
    elif not own_folds and protocols & set(CORPUS_PROTOCOLS) and len(protocols) > 1:
        problems.append(f"cv.protocol: got {experiment['cv']['protocol']}; {' and '.join(sorted(protocols))} hold out "
                        "different recordings, and the corpora are read once into the folds of the top level's "
                        f"protocol ({top_level['cv']['protocol']}), shared by all experiments; to put a within-corpus "
                        "and a cross-corpus result side by side, set cv.protocol loso at the top level (every corpus "
                        "keeps its sessions) and the other protocols in experiments (docs/cross_corpus.md)")
    return problems


def _semantic_problems(config: dict, workdir: Path) -> list[str]:
    problems = _cross_corpus_problems(config)
    if isinstance(config["corpus"], list):
        for corpus in config["corpus"]:
            problems += _corpus_problems(corpus, workdir, f"corpus[{corpus['name']}]")
    else:
        problems += _corpus_problems(config["corpus"], workdir, "corpus")
    training = config["training"]
    # The seed's defaults depend on the feature type, which a schema default cannot express.
    fitting = MODEL_FOR_FEATURES[config["features"]]
    training.setdefault("model", fitting)
    training.setdefault("epochs", DEFAULT_EPOCHS[training["model"]])
    allowed = NORMALISATIONS[config["features"]]
    training.setdefault("normalisation", allowed[0])
    if training["normalisation"] not in allowed:
        problems.append(f"training.normalisation: {training['normalisation']!r} is not available for features "
                        f"{config['features']!r}; allowed: {', '.join(allowed)} (the seed's: {allowed[0]})")
    model = training["model"]
    if model != fitting:
        needs = next(features for features, m in MODEL_FOR_FEATURES.items() if m == model)
        problems.append(f"training.model: {model!r} needs features {needs!r}, but features is "
                        f"{config['features']!r}; allowed with it: {fitting!r}")
    binning = config["binning"]
    if not binning["low"] < binning["high"]:
        problems.append(f"binning: low ({binning['low']}) must be below high ({binning['high']})")
    scale = config["rating_scale"]
    if not scale["min"] < scale["max"]:
        problems.append(f"rating_scale: min ({scale['min']}) must be below max ({scale['max']})")
    landmark_model = config["extraction"]["landmark_model"]
    if landmark_model and not (workdir / landmark_model).is_file():
        problems.append(f"extraction.landmark_model: {landmark_model!r} is not a file")
    problems.append(_colour_map_problem(config["plots"]["cmap"]))
    return [problem for problem in problems if problem]


def _corpus_problems(corpus: dict, workdir: Path, key: str) -> list[str]:
    """One corpus's source and path (``key``: how the messages name it)."""
    from facemotion.corpora.reading import SOURCES, sources_of

    problems = []
    offered = sources_of(corpus["format"])  # FERV39k is released as frames only
    corpus.setdefault("source", offered[0])
    if corpus["source"] not in offered:
        where = ", ".join(f for f, sources in SOURCES.items() if corpus["source"] in sources)
        problems.append(f"{key}.source: {corpus['source']!r} is not offered by {key}.format {corpus['format']!r} "
                        f"(allowed: {', '.join(offered)}; {corpus['source']!r} is read by {where}"
                        + ("; a tsv manifest's path may name frame folders directly)" if corpus["format"] == "tsv"
                           else ")"))
    if corpus["format"] == "demo":
        from facemotion.corpora.demo import demo_folder_problem

        problems.append(demo_folder_problem(workdir / corpus["path"]))
    elif not (workdir / corpus["path"]).exists():
        kind = "manifest file" if corpus["format"] == "tsv" else "corpus root folder"
        problems.append(f"{key}.path: {corpus['path']!r} does not exist (expected the {kind} "
                        f"for {key}.format {corpus['format']!r})")
    return problems


def _cross_corpus_problems(config: dict) -> list[str]:
    """The corpus list and the protocols over it: unique names; cv.train and cv.test name listed
    corpora, disjoint, under cross_corpus only; leave_one_corpus_out needs two corpora or more."""
    cv, corpora = config["cv"], config["corpus"]
    protocol = cv["protocol"]
    if not isinstance(corpora, list):
        if protocol in CORPUS_PROTOCOLS:
            return [f"cv.protocol: {protocol} needs several corpora: write `corpus` as a list of corpora, each with "
                    "a name (docs/cross_corpus.md)"]
        return [f"cv.{key}: names corpora, but `corpus` is a single corpus; cv.{key} is for cv.protocol "
                "cross_corpus with a list of corpora" for key in ("train", "test") if cv[key]]
    names = [corpus["name"] for corpus in corpora]
    problems = [f"corpus: the name {name!r} is given to {names.count(name)} corpora; each needs its own"
                for name in dict.fromkeys(names) if names.count(name) > 1]
    if protocol == "cross_corpus":
        for key in ("train", "test"):
            if not cv[key]:
                problems.append(f"cv.{key}: empty; cv.protocol cross_corpus needs the corpora to {key} on "
                                f"(known: {', '.join(names)})")
            unknown = [name for name in cv[key] if name not in names]
            if unknown:
                problems.append(f"cv.{key}: {', '.join(unknown)} not among the corpora listed in `corpus` "
                                f"({', '.join(names)})")
        both = [name for name in cv["train"] if name in cv["test"]]
        if both:
            problems.append(f"cv.train and cv.test both name {', '.join(both)}: a corpus is trained on or tested, "
                            "never both (within a corpus: cv.protocol loso)")
    elif protocol == "loso":  # pooled, or restricted to the corpora named
        for key in ("train", "test"):
            unknown = [name for name in cv[key] if name not in names]
            if unknown:
                problems.append(f"cv.{key}: {', '.join(unknown)} not among the corpora listed in `corpus` "
                                f"({', '.join(names)})")
        untrained = [name for name in cv["test"] if cv["train"] and name not in cv["train"]]
        if untrained:
            problems.append(f"cv.test: {', '.join(untrained)} not among cv.train's corpora; cv.protocol loso tests "
                            "each session of a corpus it trains on (to test a corpus it never trained on: "
                            "cv.protocol cross_corpus)")
    else:
        problems += [f"cv.{key}: names corpora, which only cv.protocol cross_corpus and loso use (got {protocol})"
                     for key in ("train", "test") if cv[key]]
    if protocol == "leave_one_corpus_out" and len(corpora) < 2:
        problems.append(f"cv.protocol: leave_one_corpus_out needs at least 2 corpora, `corpus` lists {len(corpora)}")
    return problems


def _colour_map_problem(name: str) -> str | None:
    """An unknown colour map would fail only in the evaluation, after all training."""
    if name == "Blues":  # the default: spares every start the import of matplotlib (~0.3 s)
        return None
    import matplotlib

    if name not in matplotlib.colormaps:
        import seaborn  # noqa: F401  (registers its own maps, which the heatmaps may use)

        if name not in matplotlib.colormaps:
            close = difflib.get_close_matches(name, list(matplotlib.colormaps), n=3)
            hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
            return (f"plots.cmap: {name!r} is not a Matplotlib or seaborn colour map; {hint}"
                    "allowed: any name in matplotlib.colormaps, e.g. 'Blues', 'viridis', 'rocket'")
    return None
