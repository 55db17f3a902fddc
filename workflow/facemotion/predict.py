"""Apply the final models to new recordings: extract faces as in training, then predict.

A final model folder (results/final/) holds one subfolder per target with `model.keras` and its
sidecar `model.keras.json`: class names, normalisation statistics, and the extraction settings
and feature type the model was trained on, so prediction extracts exactly as training did.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from facemotion.extract import ExtractionSettings, extract_recording, optional_float
from facemotion.features import model_input
from facemotion.manifest import resolve_paths

MODEL_FILE = "model.keras"


def load_final_models(model_dir: Path | str) -> dict:
    """{target: (model, metadata)} for every target folder under `model_dir`."""
    from facemotion.training import load_model

    model_dir = Path(model_dir)
    paths = sorted(model_dir.glob(f"*/{MODEL_FILE}"))
    if not paths:
        raise FileNotFoundError(f"no final models (*/{MODEL_FILE}) under {model_dir}; "
                                "train them with `snakemake final_models`")
    return {path.parent.name: load_model(path) for path in paths}


def model_features(result, metadata: dict) -> np.ndarray | None:
    """The array a model takes from one extraction result (one recording, batch axis added)."""
    values = model_input(result, metadata["features"])
    return None if values is None else values[None]


def predict_recordings(rows: pd.DataFrame, models: dict) -> pd.DataFrame:
    """One row per input row: extraction status and detail, and per target the predicted class
    and one probability per class (`{target}_p_{class}`); empty where no face frames were found."""
    from facemotion.training import predict_proba

    settings = {json.dumps(meta["extraction"], sort_keys=True) for _, meta in models.values()}
    if len(settings) != 1:
        raise ValueError("the final models were trained on different extraction settings; retrain them together")
    settings = ExtractionSettings(**json.loads(settings.pop()))
    output = []
    for row in rows.to_dict("records"):
        result = extract_recording(row["path"], settings, optional_float(row.get("start")),
                                   optional_float(row.get("end")))
        entry = {"recording": row["recording"], "status": result.status, "detail": result.detail}
        for target, (model, meta) in models.items():
            features = model_features(result, meta) if result.ok else None
            probabilities = (predict_proba(model, features, np.array([0]))[0]
                             if features is not None else [np.nan] * len(meta["classes"]))
            entry[target] = meta["classes"][int(np.argmax(probabilities))] if features is not None else ""
            entry.update({f"{target}_p_{name}": float(p) for name, p in zip(meta["classes"], probabilities)})
        output.append(entry)
    return pd.DataFrame(output)


def read_recordings(path: Path | str) -> pd.DataFrame:
    """The predict.recordings tsv: `recording`, `path` (relative to the tsv's folder), optional start/end."""
    path = Path(path)
    # Empty cells stay "" (an empty path is then reported unreadable, not a crash).
    table = pd.read_csv(path, sep="\t", dtype={"recording": str, "path": str}, keep_default_na=False,
                        na_values={"start": [""], "end": [""]})
    missing = {"recording", "path"} - set(table.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}; need recording, path, "
                         "optional start, end")
    table["path"] = resolve_paths(table["path"].str.strip(), path.parent)
    return table
