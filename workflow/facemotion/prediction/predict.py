"""Apply the final models to new recordings: extract faces as in training, then predict.

A final model folder (results/final/) holds one subfolder per target with `model.keras` and its
sidecar `model.keras.json`: class names, normalisation statistics, and the extraction settings
and feature type the model was trained on, so prediction extracts exactly as training did.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from facemotion.common.logs import JobError
from facemotion.common.targets import BINNED_CLASSES, bin_ratings, is_rating
from facemotion.common.values import optional_float, optional_text
from facemotion.corpora.manifest import ManifestError, read_tsv, resolve_paths
from facemotion.corpora.recordings import REGIONS
from facemotion.extraction.settings import (
    EXTRACTOR_VERSION,
    ExtractionSettings,
    LandmarkModelError,
    find_landmark_model,
)

MODEL_FILE = "model.keras"


class PredictionInputError(JobError, ValueError):
    """A mistake in what prediction was given (recordings, segments, model folder); the command
    line prints it as one line."""


def load_final_models(model_dir: Path | str, targets: list[str] | None = None) -> dict:
    """{target: (model, metadata)} for `targets`, by default every target folder under `model_dir`
    (the workflow names the configured ones: an old model of a target no longer configured stays
    out of the predictions)."""
    model_dir = Path(model_dir)
    paths = sorted(model_dir.glob(f"*/{MODEL_FILE}")) if targets is None else [
        model_dir / target / MODEL_FILE for target in targets]
    if not paths:
        raise PredictionInputError(f"no final models (*/{MODEL_FILE}) under {model_dir}; "
                                   "train them with `snakemake final_models`")
    # Here, not at the top: TensorFlow starts only once there are models to load.
    from facemotion.learning.model import load_model

    models = {}
    for path in paths:
        if not Path(f"{path}.json").is_file():
            raise PredictionInputError(f"{path}: its sidecar {path}.json is missing; copy the model with it")
        try:
            model, metadata = load_model(path)
        except (ValueError, JobError) as error:  # a sidecar of another version; a file cut short
            raise PredictionInputError(str(error)) from None
        check_model(path, model, metadata)
        # The folder names the target the predictions are labelled with; the sidecar says what the
        # model learnt. A model copied into the wrong folder would label one target with another's classes.
        if metadata.get("target") != path.parent.name:
            raise PredictionInputError(f"{path}: its sidecar says it predicts {metadata.get('target')!r}, but it "
                                       f"is in the folder {path.parent.name!r}; move it to "
                                       f"{model_dir / str(metadata.get('target'))}/")
        models[path.parent.name] = (model, metadata)
    return models


def check_model(path: Path, model, metadata: dict) -> None:
    """Refuse a final model whose sidecar cannot be what it was trained with: not a final model's
    (a fold's names no extraction), or outputs and input that differ from the sidecar's."""
    if "extraction" not in metadata or "features" not in metadata:
        raise PredictionInputError(f"{path}: its sidecar names no extraction settings, as a fold's model does; "
                                   "predict with the final models (snakemake final_models)")
    try:
        settings = ExtractionSettings(**metadata["extraction"])  # as predict_recordings extracts
    except (TypeError, ValueError) as error:
        raise PredictionInputError(f"{path}: its sidecar's extraction settings are not this version's: {error}") \
            from None
    outputs = 1 if is_rating(metadata) else len(metadata["classes"])
    shape = tuple(metadata["sample_shape"])
    expected = (settings.n_frames, *((settings.face_size,) * 2 if settings.features == "pixels" else ()))
    if model.output_shape[-1] != outputs or int(np.prod(model.input_shape[1:])) != int(np.prod(shape)) \
            or shape[:len(expected)] != expected:
        raise PredictionInputError(f"{path}: the model (input {model.input_shape[1:]}, {model.output_shape[-1]} "
                                   f"outputs) does not match its sidecar ({shape} of {metadata['features']} "
                                   f"extracted as {expected}, {outputs} outputs); copy the model with its own sidecar")
    version = metadata.get("extraction_version")
    if version is not None and version != EXTRACTOR_VERSION:
        raise PredictionInputError(f"{path}: trained on faces extracted by extractor version {version}; this "
                                   f"version extracts with version {EXTRACTOR_VERSION}, so its inputs would differ; "
                                   "train the final models again (snakemake --forcerun final_model)")


def model_features(result, metadata: dict) -> np.ndarray | None:
    """The array a model takes from one extraction result (one recording, batch axis added)."""
    from facemotion.extraction.feature_table import model_input

    values = model_input(result, metadata["features"])
    return None if values is None else values[None]


def predict_recordings(rows: pd.DataFrame, models: dict) -> pd.DataFrame:
    """One row per input row: extraction status and detail, and per target the predicted class
    and one probability per class (`{target}_p_{class}`); empty where no face frames were found."""
    # Imported here: Snakemake reads the recordings (read_recordings) when it starts, without OpenCV.
    from facemotion.extraction.extract import extract_recording
    from facemotion.learning.model import apply_model

    settings = {json.dumps(meta["extraction"], sort_keys=True) for _, meta in models.values()}
    if len(settings) != 1:
        raise PredictionInputError(f"the final models of {', '.join(models)} were trained on different extraction "
                                   "settings; train them again together: snakemake --forcerun final_model predict")
    try:
        settings = ExtractionSettings(**json.loads(settings.pop()))
        if settings.features == "landmarks":
            find_landmark_model(settings.landmark_model)
    except LandmarkModelError as error:
        raise PredictionInputError(f"the final models' landmark model: {error}") from None
    output = []
    for row in rows.to_dict("records"):
        result = extract_recording(row["path"], settings, optional_float(row.get("start")),
                                   optional_float(row.get("end")), optional_text(row.get("region")))
        entry = {"recording": row["recording"], "status": result.status, "detail": result.detail}
        for target, (model, meta) in models.items():
            features = model_features(result, meta) if result.ok else None
            if is_rating(meta):
                entry.update(predict_rating(model, features, meta, target))
                continue
            probabilities = (apply_model(model, features, np.array([0]))[0]
                             if features is not None else [np.nan] * len(meta["classes"]))
            entry[target] = meta["classes"][int(np.argmax(probabilities))] if features is not None else ""
            entry.update({f"{target}_p_{name}": float(p) for name, p in zip(meta["classes"], probabilities)})
        output.append(entry)
    return pd.DataFrame(output)


def predict_rating(model, features, meta: dict, target: str) -> dict:
    """A rating model's columns: the predicted rating (``target``) and its bin (``{target}_bin``),
    binned at the thresholds the model was trained with; empty without features."""
    from facemotion.learning.model import predict_ratings

    if features is None:
        return {target: np.nan, f"{target}_bin": ""}
    rating = float(predict_ratings(model, features, np.array([0]), meta["target_scaling"],
                                   output_scaling=meta.get("output_scaling"))[0])
    code = bin_ratings([rating], meta["thresholds"]["low"], meta["thresholds"]["high"])[0]
    return {target: rating, f"{target}_bin": BINNED_CLASSES[target][int(code)]}


def read_recordings(path: Path | str) -> pd.DataFrame:
    """The predict.recordings tsv: `recording`, `path` (a video or a folder of frames, relative to
    the tsv's folder), optional start/end (not for a folder) and region, read as the corpus
    manifest reads them."""
    path = Path(path)
    # The manifest's reader, so the same mistakes get the same messages. Empty cells stay "" (an
    # empty path is then reported unreadable, not a crash).
    try:
        table = read_tsv(path)
    except ManifestError as error:
        raise PredictionInputError(str(error)) from None
    missing = {"recording", "path"} - set(table.columns)
    if missing:
        raise PredictionInputError(f"{path}: missing column(s) {', '.join(sorted(missing))}; need recording, "
                                   "path, optional start, end")
    if table.empty:
        raise PredictionInputError(f"{path}: no recordings listed, only a header; add one row per video")
    table["recording"] = table["recording"].str.strip()
    empty = [str(i + 2) for i in table.index[table["recording"] == ""]]
    if empty:  # as the corpus manifest
        raise PredictionInputError(f"{path}: empty recording in row(s) {', '.join(empty)}; give each video an id")
    twice = table["recording"][table["recording"].duplicated()]
    if len(twice):  # as the corpus manifest: the predictions have one row per id
        rows = [str(i + 2) for i in table.index[table["recording"] == twice.iloc[0]]]
        raise PredictionInputError(f"{path}: recording id {twice.iloc[0]!r} is in rows {' and '.join(rows)}; give "
                                   "each video its own id (the predictions have one row per id)")
    for column in ("start", "end", "region"):
        table[column] = table[column] if column in table.columns else ""
    problems = []
    for i, row in zip(table.index, table.to_dict("records")):
        try:
            check_segment(row["start"], row["end"])
        except PredictionInputError as error:
            problems.append(f"row {i + 2}: {error}")
        if optional_text(row["region"]) not in (None, *REGIONS):
            problems.append(f"row {i + 2}: region {row['region']!r} is not empty, 'left' or 'right'")
    if problems:
        raise PredictionInputError(f"{path}: " + "; ".join(problems))
    table["start"] = [optional_float(v) for v in table["start"]]
    table["end"] = [optional_float(v) for v in table["end"]]
    table["path"] = resolve_paths(table["path"].str.strip(), path.parent)
    has_segment = [optional_float(start) is not None or optional_float(end) is not None
                   for start, end in zip(table["start"], table["end"])]
    folders = [i for i, video, segment in zip(table.index, table["path"], has_segment)
               if segment and os.path.isdir(video)]
    if folders:
        raise PredictionInputError(f"{path}: row(s) {', '.join(str(i + 2) for i in folders)}: start and end select "
                                   "seconds of a video, but the path is a folder of frames, which has no frame "
                                   "rate; leave start and end empty for it")
    return table.reset_index(drop=True)


def check_segment(start, end) -> None:
    """Refuse a segment that would select the wrong part of a video: start and end, where given,
    are numbers of seconds, start >= 0, end after start."""
    values = {}
    for name, value in (("start", start), ("end", end)):
        try:
            values[name] = optional_float(value)
        except ValueError:
            raise PredictionInputError(f"{name} {value!r} is not a number of seconds") from None
        if values[name] is not None and not math.isfinite(values[name]):
            raise PredictionInputError(f"{name} {value!r} is not a number of seconds")
    start, end = values["start"], values["end"]
    if start is not None and start < 0:
        raise PredictionInputError(f"start {start:g} is negative; allowed: seconds >= 0")
    if end is not None and end <= (start or 0):
        raise PredictionInputError(f"end {end:g} is not after start {start or 0:g}")
