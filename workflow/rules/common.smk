# Parse-time setup: validate the config and read the corpus once, so every mistake is reported
# before any job starts and the folds and extraction batches are known to the DAG.
import hashlib
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))

from facemotion.config import canonical, validate_config
from facemotion.corpora import build_manifest
from facemotion.manifest import assign_batches, speaker_independent
from facemotion.targets import TARGETS as ALL_TARGETS

validate_config(config)

MANIFEST, MANIFEST_NOTES = build_manifest(config)
for note in MANIFEST_NOTES:
    logger.warning(f"manifest: {note}")
# With cv.speakers_may_span_sessions a fold may test speakers it trained on: the notes above (the
# start-up and manifest logs) and the evaluation log say so.
SPEAKER_INDEPENDENT = speaker_independent(MANIFEST)
# Each recording's manifest row as plain values (None for missing), as extraction jobs get them.
MANIFEST_ROWS = {row["recording"]: row for row in MANIFEST.astype(object).where(MANIFEST.notna(), None)
                 .to_dict("records")}
BATCHES = assign_batches(list(MANIFEST["recording"]), config["extraction"]["recordings_per_job"])
SESSIONS = sorted(MANIFEST["session"].unique())


def _targets_with_values():
    """Configured targets the corpus has values for; the others are skipped with a message."""
    kept = []
    for target in config["targets"]:
        if target != "label" and MANIFEST[target].isna().all():
            logger.warning(f"target {target!r} skipped: the corpus has no {target} ratings")
        else:
            kept.append(target)
    if not kept:
        raise WorkflowError(f"targets: none of {config['targets']} can be learnt from this corpus (it has no "
                            "ratings for them); allowed: 'label' or a target whose column the manifest fills")
    return kept


TARGETS = _targets_with_values()

# The settings each step depends on travel as params, so changing one reruns exactly its dependents.
# Canonical (keys sorted; numbers typed by the schema): only a changed value reruns anything.
EXTRACTION_SETTINGS = canonical({
    "features": config["features"],
    **{key: value for key, value in config["extraction"].items() if key != "recordings_per_job"},
})
# Resources (mem_mb, runtime, gpu, threads) only schedule jobs; they do not change results.
TRAINING_SETTINGS = canonical({
    "classes": config["classes"],
    "binning": config["binning"],
    "protocol": config["cv"]["protocol"],
    **{key: value for key, value in config["training"].items() if key not in ("mem_mb", "runtime", "gpu", "threads")},
})
PLOT_SETTINGS = canonical(config["plots"])


def batch_rows(wildcards):
    return [MANIFEST_ROWS[recording] for recording in BATCHES[wildcards.batch]]


def extraction_processes(wildcards):
    """Worker processes of one extraction job: fewer batches than cores still use every core."""
    return max(1, min(len(BATCHES[wildcards.batch]), (workflow.cores or 1) // len(BATCHES)))


def batch_videos(wildcards):
    return sorted({row["path"] for row in batch_rows(wildcards)})


def predict_recordings_file(wildcards):
    if not config["predict"]["recordings"]:
        raise WorkflowError("set predict.recordings to a tsv of recordings (recording, path, optional start, end) "
                            "to use the predict target, e.g. --config predict='{recordings: my_videos.tsv}'")
    return config["predict"]["recordings"]


wildcard_constraints:
    batch=r"\d{4}",
    session=r"[A-Za-z0-9][A-Za-z0-9._-]*",
    target="|".join(ALL_TARGETS),

# One environment for every rule, for `--sdm conda` (relative to the rule files).
CONDA_ENV = "../../envs/facemotion.yaml"
