"""A trained model: the layer that z-scores its raw input, saving and loading it with the sidecar
prediction needs, and applying it to features. Training (``facemotion.learning.fitting``) makes such
models; prediction (``facemotion.prediction.predict``) loads and applies them without the fitting code.

A model takes one recording's raw features (uint8 pixels (n, s, s), or other features (n, F)) in
batches and z-scores them itself (a :class:`Standardise` layer holding the training statistics).
Its sidecar ``<model>.keras.json`` holds the classes, the normalisation statistics, the input
shape and the settings it was trained with.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep C++ start-up chatter out of job logs
# TensorFlow's caching allocator for CPU memory too: with plain malloc every large tensor (a batch
# cast to float32, the conv activations) is fresh memory that page-faults again at each step
# (docs/performance.md, Training).
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")

import keras  # noqa: E402

from facemotion.common.files import read_json, reading  # noqa: E402

# The sidecar's layout; load_model refuses another. The model takes raw features and z-scores them itself.
METADATA_FORMAT = 2


# The feature type (config `features`) each input kind comes from.
FEATURES_OF_KIND = {"pixels": "pixels", "features": "landmarks"}


def input_kind(features: np.ndarray) -> str:
    """"pixels" for uint8 face crops (N, n, s, s), else "features" (N, n, ...)."""
    return "pixels" if features.dtype == np.uint8 else "features"


def as_frames(features: np.ndarray, kind: str) -> np.ndarray:
    # Landmarks (N, n, 68, 2) become (N, n, 136): the statistics are per feature column.
    return features if kind == "pixels" else features.reshape(len(features), features.shape[1], -1)


def _model_layout(stats: dict, kind: str):
    """Mean and 1/std arranged like one model input (pixels: frames moved to channels)."""
    mean = np.asarray(stats["mean"], np.float32)
    inv = (1.0 / np.asarray(stats["std"], np.float64)).astype(np.float32)
    if kind == "pixels" and mean.ndim == 3:  # per_pixel: (n, s, s) -> (s, s, n)
        mean, inv = mean.transpose(1, 2, 0), inv.transpose(1, 2, 0)
    return mean, inv


@keras.saving.register_keras_serializable(package="facemotion")
class Standardise(keras.layers.Layer):
    """``(x - mean) * inv_std`` in float32 inside the model, mean and 1/std held as weights.

    With ``frames_to_channels`` raw pixels (B, n, s, s) become (B, s, s, n) first, so the seed
    CNN sees the frames as channels.
    """

    def __init__(self, stats_shape, frames_to_channels: bool, **kwargs):
        super().__init__(**kwargs)
        self.stats_shape = tuple(stats_shape)
        self.frames_to_channels = bool(frames_to_channels)
        self.mean = self.add_weight(shape=self.stats_shape, initializer="zeros", trainable=False, name="mean")
        self.inv_std = self.add_weight(shape=self.stats_shape, initializer="ones", trainable=False, name="inv_std")

    def call(self, inputs):
        x = inputs
        if self.frames_to_channels:  # before the cast: moves a quarter of the bytes
            x = keras.ops.transpose(x, (0, 2, 3, 1))
        return (keras.ops.cast(x, self.compute_dtype) - self.mean) * self.inv_std

    def get_config(self):
        return {**super().get_config(), "stats_shape": list(self.stats_shape),
                "frames_to_channels": self.frames_to_channels}


def standardised_model(core: keras.Model, stats: dict, kind: str, sample_shape) -> keras.Model:
    """``core`` behind a :class:`Standardise` layer: it takes one recording's raw features of
    ``sample_shape`` (uint8 pixels (n, s, s); other features (n, F)) in batches."""
    mean, inv_std = _model_layout(stats, kind)
    inputs = keras.Input(tuple(sample_shape), dtype="uint8" if kind == "pixels" else "float32", name="raw")
    # float32 whatever the precision: z-scores of 0..255 lose digits in float16.
    standardise = Standardise(mean.shape, kind == "pixels", dtype="float32", name="standardise")
    outputs = core(standardise(inputs))
    standardise.set_weights([mean, inv_std])
    return keras.Model(inputs, outputs, name=core.name)


def apply_model(model, features, rows, batch_size: int = 128) -> np.ndarray:
    """The model's outputs (len(rows), n_outputs) for ``features[rows]`` in the given order: class
    probabilities, or one z-scored rating (see :func:`predict_ratings`); ``model`` takes raw
    features (see :func:`standardised_model`)."""
    n_outputs = model.output_shape[-1]
    if len(rows) == 0:
        return np.zeros((0, n_outputs), np.float32)
    x, rows = as_frames(features, input_kind(features)), np.asarray(rows, dtype=np.int64)
    return np.concatenate([
        np.asarray(model.predict_on_batch(x[rows[start : start + batch_size]]), dtype=np.float32)
        for start in range(0, len(rows), batch_size)
    ])


def predict_ratings(model, features, rows, scaling: Mapping, batch_size: int = 128,
                    output_scaling: Mapping | None = None) -> np.ndarray:
    """A rating model's outputs for ``features[rows]`` mapped back to the rating scale with the
    training ratings' ``scaling`` (``{"mean", "std"}``, the sidecar's ``target_scaling``); with
    ``output_scaling`` (the sidecar's: the outputs' mean and std on the training rows) the outputs
    are z-scored with it first, so that they spread as the training ratings do."""
    z = apply_model(model, features, rows, batch_size)[:, 0].astype(np.float64)
    if output_scaling is not None:
        z = (z - output_scaling["mean"]) / output_scaling["std"]
    return z * scaling["std"] + scaling["mean"]


def metadata_path(model_path) -> Path:
    """Sidecar of ``model.keras``: ``model.keras.json``."""
    return Path(f"{model_path}.json")


def save_model(model: keras.Model, path, extra_metadata: Mapping) -> Path:
    """Write ``path`` (.keras) and the JSON sidecar ``<path>.json`` with ``extra_metadata``
    (normally ``info["model_metadata"]``: classes, normalisation, input shape, params)."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"model path must end in .keras, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    sidecar = metadata_path(path)
    sidecar.write_text(json.dumps(_jsonable(dict(extra_metadata)), indent=1) + "\n")
    return sidecar


def load_model(path) -> tuple[keras.Model, dict]:
    """The model, taking raw features (``apply_model(model, x, rows)``), and its metadata."""
    metadata = read_json(metadata_path(path))
    if metadata.get("format") != METADATA_FORMAT:
        raise ValueError(f"{metadata_path(path)}: sidecar format {metadata.get('format')!r}, this version reads "
                         f"format {METADATA_FORMAT}; train the model again with this version")
    with reading(path):
        model = keras.saving.load_model(path, compile=False)
    return model, metadata


def _jsonable(obj):
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
