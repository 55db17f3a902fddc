"""The training options (:class:`TrainParams`) and how the workflow's settings map onto them.

Plain data, without TensorFlow: a job decides from them (and the feature table's labels) whether
its fold has anything to train before it pays for starting TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from facemotion.common.targets import DEFAULT_HIGH, DEFAULT_LOW

# Keras dtype policies: float32, or mixed precision (float16 / bfloat16 compute, float32 weights).
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@dataclass(frozen=True)
class TrainParams:
    """Training options; ``None`` means "the default for this model / input"."""

    classes: tuple[str, ...] | None = None  # emotion labels kept for the "label" target
    low: float = DEFAULT_LOW  # rating <= low -> first bin
    high: float = DEFAULT_HIGH  # rating >= high -> third bin
    model: str | None = None  # one of networks.MODELS; None: the one for the input (MODEL_FOR_FEATURES)
    protocol: str = "loso"  # "loso" or "seed"
    optimizer: str = "adam"
    learning_rate: float = 1e-4
    batch_size: int = 128
    epochs: int | None = None  # None: the network's networks.DEFAULT_EPOCHS
    normalisation: str | None = None  # one of networks.NORMALISATIONS; None: the seed's for the input
    monitor: str = "uar"  # loso epoch selection: "uar" (ties -> lower loss) or "loss"
    class_weight: str | None = "balanced"
    seed: int = 0  # the model seed (weights, sample order) of the first repeat; repeat r uses seed + r
    repeats: int = 1  # models trained per fold, each tested on the same recordings
    split_seed: int = 0  # the seed protocol's dev/test halves, a validation share: the same for every model seed
    validation: str = "next_session"  # loso: "next_session", a "share" of the training recordings, or "none"
    validation_share: float = 0.1
    threads: int | None = 2  # TF intra-op threads; None leaves TF's default
    gpus: int = 0  # 0: GPUs hidden from TF; 1: train on the GPU, or stop naming why it cannot
    precision: str = "float32"  # one of PRECISIONS; mixed ones pay off on GPUs only
    verbose: int = 2  # keras fit verbosity: 2 = one line per epoch
    dimensions: str = "binned"  # config dimensions: activation, valence binned into classes or as ratings
    rating_calibration: str = "training"  # ratings: one of tasks.RATING_CALIBRATIONS

    @classmethod
    def from_mapping(cls, params: Mapping | None) -> TrainParams:
        params = dict(params or {})
        unknown = set(params) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown training parameters: {sorted(unknown)}")
        if params.get("classes") is not None:
            params["classes"] = tuple(params["classes"])
        return cls(**params)


def training_params(settings: Mapping, threads: int, gpus: int = 0) -> dict:
    """Map the workflow's training settings (config `training`, `binning`, `classes`,
    `cv.protocol`) and the job's threads and GPUs onto :class:`TrainParams` keys."""
    settings = dict(settings)
    # The emotion label's settings carry no binning (it bins nothing): TrainParams' defaults stand.
    binning = settings.pop("binning", None)
    thresholds = {"low": binning["low"], "high": binning["high"]} if binning else {}
    # verbose 0: the per-epoch lines go to the job's log through EpochLog instead of stdout.
    return {**settings, **thresholds, "threads": threads, "gpus": gpus, "verbose": 0}
