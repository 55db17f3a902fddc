# Parse-time setup: validate the config and read the corpus once, so every mistake is reported
# before any job starts and the folds and extraction batches are known to the DAG.
import functools
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

# The package is installed with the environment that runs Snakemake (`-e .` in
# envs/requirements.txt; docs/deployment.md says why), so the rules import it the same way from a
# clone and as a module of another repository; the scripts' processes find it through the
# search path Snakemake hands them.
try:
    import facemotion
except ModuleNotFoundError:
    logger.error(
        "the facemotion package is not installed in the environment that runs Snakemake: install the "
        "workflow's environment from its checkout, `pip install -r envs/requirements.txt` "
        "(docs/deployment.md)"
    )
    sys.exit(1)
from facemotion.config import (
    ConfigError,
    canonical,
    experiment_configs,
    rating_settings,
    repeated_keys,
    schema_of,
    without_scheduling,
)
from facemotion.corpora.reading import (
    build_manifest,
    dropped_as_miss,
    official_test_counts,
    protocol_of,
    protocol_sentence,
)
from facemotion.corpora.cross_corpus import CORPUS_PROTOCOLS, class_problems, experiment_folds, several_corpora
from facemotion.learning.folds import manifest_test_halves, training_protocol, validation_method
from facemotion.corpora.manifest import (
    ManifestError,
    assign_batches,
    speaker_independent,
    speakers_known,
    train_only_sessions,
)
from facemotion.prediction.predict import PredictionInputError, read_recordings
from facemotion.report.front_page import page_settings
from facemotion.common.targets import TARGETS as ALL_TARGETS, learnt_as_rating


def refuse(error):
    """End the start on a mistake in the settings or the corpus with its message alone. Raised,
    it would reach Snakemake, which adds the line of this file and 3-5 `File ...` lines of
    facemotion's code: noise to a user, who has a file of theirs to fix."""
    logger.error(f"{type(error).__name__}: {error}")
    sys.exit(1)


# The rules and the package they import must be one release: a module's rules come from its tag,
# the package from the environment, and a tag changed without installing that release's
# environment would run new rules on old code.
_RULES_VERSION = re.search(
    r'^__version__ = "([^"]+)"', Path(workflow.source_path("../facemotion/__init__.py")).read_text(), re.MULTILINE
).group(1)
if _RULES_VERSION != facemotion.__version__:
    logger.error(
        f"these rules are facemotion {_RULES_VERSION}, but the environment that runs Snakemake has facemotion "
        f"{facemotion.__version__} (at {Path(facemotion.__file__).parent}): install the environment of "
        f"release {_RULES_VERSION} (docs/deployment.md)"
    )
    sys.exit(1)


try:
    # A key written twice in a config file (the project's or a --configfile): Snakemake's YAML
    # loader keeps the last one without a word.
    _repeated = [problem for path in workflow.configfiles for problem in repeated_keys(path)]
    if _repeated:
        raise ConfigError("\n".join(_repeated))
    # Validates the top level and every experiment; without `experiments`, one called "default".
    # The classes are the user's where a --configfile or --config names them, or where the
    # project's config.yaml was edited away from the defaults: a benchmark refuses others but all.
    EXPERIMENT_CONFIGS = experiment_configs(
        config,
        classes_named="classes" in workflow.config_settings.overwrite_config
        or config.get("classes") != schema_of("classes")["default"],
    )
    MANIFEST, MANIFEST_NOTES = build_manifest(config)
    # The recordings to predict, read (and checked) at start as the corpus is: their videos are the
    # predict job's inputs, so a replaced or newly present video reruns it.
    PREDICT_ROWS = read_recordings(config["predict"]["recordings"]) if config["predict"]["recordings"] else None
except (ConfigError, ManifestError, PredictionInputError) as error:
    refuse(error)
for note in MANIFEST_NOTES:
    logger.warning(f"manifest: {note}")
# With cv.speakers_may_span_sessions a fold may test speakers it trained on: the notes above (the
# start-up and manifest logs) and the evaluation log say so.
SPEAKER_INDEPENDENT = speaker_independent(MANIFEST)
# Each recording's manifest row as plain values (None for missing), as extraction jobs get them.
MANIFEST_ROWS = {
    row["recording"]: row for row in MANIFEST.astype(object).where(MANIFEST.notna(), None).to_dict("records")
}
SPEAKERS_KNOWN = speakers_known(MANIFEST)
TRAIN_ONLY_SESSIONS = train_only_sessions(MANIFEST)
# The folds: every session that is tested, or those cv.test_sessions names.
SESSIONS = sorted(set(MANIFEST["session"]) - set(TRAIN_ONLY_SESSIONS))
if config["cv"]["test_sessions"] != "all":
    _unknown = sorted(set(config["cv"]["test_sessions"]) - set(SESSIONS))
    if _unknown:
        refuse(
            ConfigError(
                f"cv.test_sessions: {_unknown} are not sessions the corpus tests; "
                f"its sessions: {SESSIONS}"
                + (f" (training only: {TRAIN_ONLY_SESSIONS})" if TRAIN_ONLY_SESSIONS else "")
            )
        )
    SESSIONS = sorted(config["cv"]["test_sessions"])

_NO_VALUES = [t for t in ALL_TARGETS if t != "label" and MANIFEST[t].isna().all()]
# Only the targets some experiment asks for: the others are not skipped, just not wanted.
for _target in sorted(
    {t for settings in EXPERIMENT_CONFIGS.values() for t in settings["targets"]} & set(_NO_VALUES),
    key=ALL_TARGETS.index,
):
    logger.warning(f"target {_target!r} skipped: the corpus has no {_target} ratings")


def extraction_settings(settings):
    """What extraction depends on; `recordings_per_job` only groups recordings into jobs."""
    return canonical(
        {
            "features": settings["features"],
            **{key: value for key, value in settings["extraction"].items() if key != "recordings_per_job"},
        }
    )


def extraction_dir(settings):
    """Folder under results/ of the extraction these settings need: the top level's settings
    extract into results/ itself, as without experiments; others into extractions/<digest>/.
    Not `recordings_per_job`: it only groups recordings into jobs, and a new folder would retrain."""
    if extraction_settings(settings) == extraction_settings(config):
        return ""
    key = json.dumps(extraction_settings(settings), sort_keys=True)
    return f"extractions/{hashlib.sha256(key.encode()).hexdigest()[:12]}/"


def training_settings(settings):
    """The settings training depends on; resources only schedule jobs and do not change results.
    Canonical (keys sorted; numbers typed by the schema): only a changed value reruns anything.
    Only what a fold reads: the split seed under the seed protocol or a validation share, the
    share only with it (binning: target_training adds it for the targets it bins)."""
    # cross_corpus, leave_one_corpus_out: the manifest's sessions make their folds, trained as loso's
    protocol = training_protocol(settings["cv"]["protocol"])
    validation = validation_method(
        settings["cv"]["validation"],
        bool(TRAIN_ONLY_SESSIONS),
        SPEAKERS_KNOWN,
        folds_are_corpora=settings["cv"]["protocol"] in CORPUS_PROTOCOLS,
    )
    split = {}
    if protocol == "seed" or validation == "share":
        split["split_seed"] = settings["cv"]["split_seed"]
    if protocol == "loso" and validation == "share":
        split["validation_share"] = settings["cv"]["validation_share"]
    return canonical(
        {
            "classes": settings["classes"],
            "protocol": protocol,
            "validation": validation,
            **split,
            **without_scheduling(settings["training"]),
        }
    )


@dataclass
class Experiment:
    """One experiment: where its results go, what it learns and with which settings."""

    name: str
    dir: str  # under results/ and logs/: "" without `experiments`, else "experiments/<name>/"
    settings: dict  # its full, validated configuration
    targets: list
    extraction_dir: str  # under results/: where its extraction and feature table are
    extraction: dict
    training: dict
    folds: object  # corpora.cross_corpus.Folds: its folds, what each tests and trains on

    @property
    def sessions(self):
        """Its folds' names: the held-out sessions (or, over several corpora, test corpora)."""
        return self.folds.names


EXPERIMENTS = {
    name: Experiment(
        name=name,
        dir=f"experiments/{name}/" if config.get("experiments") else "",
        settings=settings,
        targets=[t for t in settings["targets"] if t not in _NO_VALUES],
        extraction_dir=extraction_dir(settings),
        extraction=extraction_settings(settings),
        training=training_settings(settings),
        folds=(
            experiment_folds(MANIFEST, SESSIONS, settings["cv"], config["cv"])
            if several_corpora(config)
            else experiment_folds(MANIFEST, SESSIONS, config["cv"], config["cv"])
        ),
    )
    for name, settings in EXPERIMENT_CONFIGS.items()
}
# An experiment with folds of its own (over several corpora read as loso): its classes in the
# corpora it tests and trains on, checked as the top level's are.
for _experiment in EXPERIMENTS.values():
    if several_corpora(config) and _experiment.settings["cv"] != config["cv"]:
        _problems = class_problems(MANIFEST, _experiment.settings["classes"], _experiment.settings["cv"])
        if _problems:
            refuse(ManifestError(f"experiment {_experiment.name}: " + "; ".join(_problems)))
    if not _experiment.sessions:
        refuse(ConfigError(f"experiment {_experiment.name}: no fold tests any of the sessions {SESSIONS}"))
for _experiment in EXPERIMENTS.values():
    if not _experiment.targets:
        _where = "" if _experiment.name == "default" else f" of experiment {_experiment.name}"
        refuse(
            ConfigError(
                f"targets{_where}: "
                f"none of {_experiment.settings['targets']} can be learnt from this corpus (it has no "
                "ratings for them); allowed: 'label' or a target whose column the manifest fills"
            )
        )
# The format of a single corpus; several corpora have none (no benchmark protocol, no demo).
CORPUS_FORMAT = "" if several_corpora(config) else config["corpus"]["format"]
# A benchmark's (dfew, mafw, ferv39k) class set per experiment, as summary.tsv's protocol column
# states it: the official N-class protocol or not; empty for every other format (no column).
PROTOCOLS = {
    name: protocol_of(CORPUS_FORMAT, e.settings["classes"])
    for name, e in EXPERIMENTS.items()
    if protocol_of(CORPUS_FORMAT, e.settings["classes"])
}
for _name, _protocol in PROTOCOLS.items():
    if _protocol.startswith("not "):
        _sentence = protocol_sentence(CORPUS_FORMAT, EXPERIMENTS[_name].settings["classes"])
        logger.warning(f"{'' if _name == 'default' else f'experiment {_name}: '}{_sentence}")


@functools.cache
def test_halves(seed):
    """The seed protocol's test halves drawn over the manifest with ``seed`` (learning.folds)."""
    return frozenset(manifest_test_halves(MANIFEST, seed))


# cv.dropped_test_clips miss (auto: the benchmarks): per experiment learning `label`, its test
# recordings per session and class, so that summary.tsv scores every one, a dropped one as a miss.
def tested_recordings(e):
    """The manifest's recordings an experiment tests: all, or under the seed protocol each
    session's test half (learning.folds.manifest_test_halves), as its folds draw it; their
    sessions named by the experiment's folds (a test corpus's sessions by the corpus)."""
    tested = MANIFEST
    if e.training["protocol"] == "seed":
        tested = MANIFEST[MANIFEST["recording"].isin(test_halves(e.training["split_seed"]))]
    fold_of = {session: fold for fold, sessions in e.folds.tested.items() for session in sessions}
    if all(fold == session for session, fold in fold_of.items()):
        return tested
    return tested.assign(session=tested["session"].map(fold_of).fillna(""))


OFFICIAL_TESTS = {
    name: official_test_counts(tested_recordings(e), e.sessions, e.settings["classes"])
    for name, e in EXPERIMENTS.items()
    if "label" in e.targets and dropped_as_miss(e.settings["cv"]["dropped_test_clips"], CORPUS_FORMAT)
}
# Several corpora: per experiment and fold, the corpora its model trains on and the one it tests
# (summary.tsv, speakers.tsv and the front page name them); {} for a single corpus. Experiments
# share the top level's protocol, but where the top level reads the corpora as loso
# (corpora.cross_corpus.experiment_folds).
FOLD_CORPORA = {name: e.folds.corpora for name, e in EXPERIMENTS.items() if e.folds.corpora}
# The experiments whose label results a benchmark's papers print per official fold.
BENCHMARK_TABLES = [name for name, e in EXPERIMENTS.items() if "label" in e.targets and name in PROTOCOLS]
PLOT_SETTINGS = canonical(config["plots"])
# The first experiment is the reference of the comparison, and its final models predict.
REFERENCE = next(iter(EXPERIMENTS.values()))
EXPERIMENT_AT = {e.dir: e for e in EXPERIMENTS.values()}
# Experiments with the same extraction settings share one extraction: one set of batches each, as
# the first of them groups its recordings (recordings_per_job).
EXTRACTIONS = {}
for _e in EXPERIMENTS.values():
    EXTRACTIONS.setdefault(
        _e.extraction_dir,
        {
            "settings": _e.extraction,
            "batches": assign_batches(list(MANIFEST["recording"]), _e.settings["extraction"]["recordings_per_job"]),
        },
    )


def experiment(wildcards):
    return EXPERIMENT_AT[wildcards.experiment_dir]


def batches(wildcards):
    return EXTRACTIONS[wildcards.extraction_dir]["batches"]


def features_file(wildcards):
    return f"results/{experiment(wildcards).extraction_dir}features.parquet"


def features_input(wildcards):
    """A training job's feature table and its digest, known once gathering is done (a checkpoint).
    Both ancient: the table's time does not rerun training (it is rewritten whenever a batch
    reruns, byte for byte the same after the corpus moved); its content does, through the digest
    param (features_digest)."""
    checkpoints.gather_features.get(extraction_dir=experiment(wildcards).extraction_dir)
    return {"features": ancient(features_file(wildcards)), "digest": ancient(f"{features_file(wildcards)}.sha256")}


def test_halves_input(wildcards):
    """Under the seed protocol, the manifest: each held-out session's test half is drawn over all of
    its recordings, the same for every experiment and target (learning.folds.test_halves). Ancient:
    a manifest rewritten with other paths (the corpus moved) retrains nothing; the halves themselves
    are in the fold's settings (fold_training)."""
    return {"manifest": ancient("results/manifest.tsv")} if experiment(wildcards).training["protocol"] == "seed" else {}


def test_halves_digest(seed):
    """A digest of the seed protocol's test halves drawn over the manifest with ``seed``."""
    return hashlib.sha256("\n".join(sorted(test_halves(seed))).encode()).hexdigest()[:16]


# Whether some fold trains on chosen sessions only (cross_corpus, or an experiment's folds over
# several corpora): the feature table then has a digest per session (features_digest).
# The manifest's sessions some experiment tests (the others' recordings train only).
TESTED_SESSIONS = sorted({s for e in EXPERIMENTS.values() for sessions in e.folds.tested.values() for s in sessions})
SESSION_DIGESTS = any(sessions is not None for e in EXPERIMENTS.values() for sessions in e.folds.training.values())


def features_digest(wildcards):
    """The feature table's digest; where a fold trains on chosen sessions (cross_corpus) that of
    the rows it reads (its training corpora and its test corpus), so that adding a test corpus
    retrains no other fold."""
    checkpoints.gather_features.get(extraction_dir=experiment(wildcards).extraction_dir)
    path = Path(f"{features_file(wildcards)}.sha256")
    if not path.is_file():
        return ""
    whole, *lines = path.read_text().strip().split("\n")
    if not hasattr(wildcards, "session") or experiment(wildcards).folds.read(wildcards.session) is None:
        return whole
    by_session = dict(line.split("\t") for line in lines)
    read = "".join(f"{s}\t{by_session.get(s, '')}\n" for s in experiment(wildcards).folds.read(wildcards.session))
    return hashlib.sha256(read.encode()).hexdigest()


def experiment_predictions(suffix):
    """Input function: one experiment's fold files (`suffix`: tsv or info.json); each path names its
    target and held-out session, which is how the scripts key them (facemotion.evaluation.predictions.fold_files)."""

    def files(wildcards):
        return expand(
            "results/{experiment_dir}predictions/{target}/fold_{session}.{suffix}",
            experiment_dir=wildcards.experiment_dir,
            target=experiment(wildcards).targets,
            session=experiment(wildcards).sessions,
            suffix=suffix,
        )

    return files


def target_training(wildcards):
    """The training settings of one target: activation and valence add the binning (the label bins
    nothing), and under `dimensions: regression` it and the rating keys (training.rating_calibration;
    binned targets keep the settings they had, so nothing of theirs reruns)."""
    e = experiment(wildcards)
    if wildcards.target == "label":  # the emotion is a class: the ratings' bins are not its business
        return e.training
    binned = {**e.training, "binning": e.settings["binning"]}
    if learnt_as_rating(wildcards.target, e.settings["dimensions"]):
        return canonical({**binned, "dimensions": e.settings["dimensions"], **rating_settings(e.settings["training"])})
    return canonical(binned)


def fold_training(wildcards):
    """A fold's training settings: the target's, and under cross_corpus the sessions it trains on
    (not another test corpus; the same list when a test corpus is added, so nothing reruns); where
    the fold is a corpus of several sessions (an experiment's cross_corpus over corpora read as
    loso), the sessions it tests, which the training job reads as one; under the seed protocol a
    digest of the test halves, so that a change in them (not a manifest with other paths) retrains."""
    folds = experiment(wildcards).folds
    extra = {}
    if experiment(wildcards).training["protocol"] == "seed":
        extra["test_halves"] = test_halves_digest(experiment(wildcards).training["split_seed"])
    if folds.training[wildcards.session] is not None:
        extra["train_sessions"] = folds.training[wildcards.session]
    if folds.remapped(wildcards.session):
        extra["test_sessions"] = folds.remapped(wildcards.session)
    return canonical({**target_training(wildcards), **extra}) if extra else target_training(wildcards)


def experiment_fold_files(suffix):
    """Input function: one target's fold files of one experiment (`suffix`: tsv or info.json)."""

    def files(wildcards):
        return expand(
            "results/{experiment_dir}predictions/{target}/fold_{session}.{suffix}",
            experiment_dir=wildcards.experiment_dir,
            target=wildcards.target,
            session=experiment(wildcards).sessions,
            suffix=suffix,
        )

    return files


def rating_targets(e):
    """The targets an experiment learns as ratings (`dimensions: regression`)."""
    return [t for t in e.targets if learnt_as_rating(t, e.settings["dimensions"])]


def batch_rows(wildcards):
    return [MANIFEST_ROWS[recording] for recording in batches(wildcards)[wildcards.batch]]


def extraction_processes(wildcards):
    """Worker processes of one extraction job: fewer batches (of all extractions) than cores still
    use every core."""
    all_batches = sum(len(extraction["batches"]) for extraction in EXTRACTIONS.values())
    return max(1, min(len(batches(wildcards)[wildcards.batch]), (workflow.cores or 1) // all_batches))


def batch_videos(wildcards):
    """The batch's videos and frame folders. A folder, not its frames: a corpus of a million frames
    would cost Snakemake a million files to check at every start. A frame added, removed or renamed
    changes the folder's time; one overwritten in place does not (touch the folder)."""
    return sorted({row["path"] for row in batch_rows(wildcards)})


def gather_mem_mb(wildcards):
    """Gathering holds about 2.3 times the feature table (docs/performance.md, Storage): 2.5 times
    its pixels, plus 1 GB for Python and the libraries; at least 4 GB."""
    settings = EXTRACTIONS[wildcards.extraction_dir]["settings"]
    pixels = (
        len(MANIFEST) * settings["n_frames"] * settings["face_size"] ** 2 if settings["features"] == "pixels" else 0
    )
    return max(4000, 1000 + int(2.5 * pixels / 1e6))


def landmark_model_file(wildcards):
    """A configured landmark model, as an input: another model written over it reruns the extraction
    (and its content is in the cache key: extraction.settings.ExtractionSettings.fingerprint)."""
    settings = EXTRACTIONS[wildcards.extraction_dir]["settings"]
    return [settings["landmark_model"]] if settings["features"] == "landmarks" and settings["landmark_model"] else []


def predict_recordings_file(wildcards):
    if not config["predict"]["recordings"]:
        raise WorkflowError(
            "set predict.recordings to a tsv of recordings (recording, path, optional start, end) "
            "to use the predict target, e.g. --config predict='{recordings: my_videos.tsv}'"
        )
    return config["predict"]["recordings"]


def predict_videos(wildcards):
    """The listed videos and frame folders that exist: a replaced one reruns prediction (its time),
    one that appears too (the set of inputs changes); a missing one gets an `unreadable` row."""
    if PREDICT_ROWS is None:
        return []
    return sorted({path for path in PREDICT_ROWS["path"] if os.path.isfile(path) or os.path.isdir(path)})


def predict_rows(wildcards):
    return PREDICT_ROWS.astype(object).where(PREDICT_ROWS.notna(), None).to_dict("records")


wildcard_constraints:
    batch=r"\d{4}",
    # Empty for the default layout: results/metrics.tsv; else results/experiments/<name>/metrics.tsv.
    experiment_dir=r"(experiments/[A-Za-z0-9][A-Za-z0-9_-]*/)?",
    extraction_dir=r"(extractions/[0-9a-f]{12}/)?",
    session=r"[A-Za-z0-9][A-Za-z0-9._-]*",
    target="|".join(ALL_TARGETS),


# One environment for every rule, for `--sdm conda` (relative to the rule files); training on
# GPUs needs TensorFlow with CUDA instead of tensorflow-cpu.
CONDA_ENV = "../../envs/facemotion.yaml"
GPU_CONDA_ENV = "../../envs/facemotion-gpu.yaml"


def training_conda_env(wildcards):
    """The training jobs' environment: with CUDA where their experiment trains on a GPU."""
    return GPU_CONDA_ENV if experiment(wildcards).settings["training"]["gpu"] else CONDA_ENV
