"""The one training core: a cross-validation fold (or a final model) trained without leaking the
held-out session, for either task of :mod:`facemotion.learning.tasks` (classes or ratings).

It starts TensorFlow on the chosen device with the seeds, z-scores with statistics of the training
rows only, feeds the rows through one tf.data pipeline, trains ``repeats`` models per fold, chooses
the epoch on the validation recordings, and writes what prediction needs into the model's metadata.

Memory: the feature array stays as given (uint8 pixels: 620 MB at the seed's scale) and is held
once: the prefetching tf.data pipeline gathers its batches of raw rows from it, and the z-score
statistics are accumulated over chunks of training rows. The z-scoring (and, for pixels, moving the frames
to the channels) happens inside the model, on the device it trains on: a GPU receives uint8, a
quarter of float32's bytes, and the CPU only gathers rows.
"""

from __future__ import annotations

import contextlib
import logging
import statistics
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

# isort: off
# First: it sets TensorFlow's environment (log level, allocator) before keras loads TensorFlow.
from facemotion.learning.model import FEATURES_OF_KIND, METADATA_FORMAT, as_frames, input_kind, standardised_model

# isort: on
import keras
import tensorflow as tf

import facemotion
from facemotion.extraction.settings import EXTRACTOR_VERSION
from facemotion.learning.device import select_device
from facemotion.learning.folds import manifest_test_halves, split_fold
from facemotion.learning.networks import DEFAULT_EPOCHS, MODEL_FOR_FEATURES, NORMALISATIONS, build_model, compile_model
from facemotion.learning.params import PRECISIONS, TrainParams
from facemotion.learning.tasks import fold_examples, make_task, skipped_fold

PREFETCH_BATCHES = 2  # gathered ahead of the one training: enough to overlap, little memory


# --------------------------------------------------------------------------- runtime set-up

_warned_threads: set[int] = set()


def configure_tensorflow(threads: int | None, seed: int) -> None:
    """Seed python/numpy/TF, make ops deterministic and pin TF's thread pools.

    Thread counts can only be set before TF executes its first op; later calls with a different
    count warn and keep the old pools (run each fold in its own process to control them).
    """
    if threads:
        for getter, setter, want in (
            (tf.config.threading.get_intra_op_parallelism_threads,
             tf.config.threading.set_intra_op_parallelism_threads, threads),
            # One inter-op thread: the seed models are a chain of ops, and spare inter-op threads
            # would only compete with the intra-op pool for the few cores a job gets.
            (tf.config.threading.get_inter_op_parallelism_threads,
             tf.config.threading.set_inter_op_parallelism_threads, 1),
        ):
            if getter() != want:
                try:
                    setter(want)
                except RuntimeError:
                    if not _warned_threads:
                        warnings.warn("TensorFlow already initialised; thread counts unchanged", stacklevel=2)
                    _warned_threads.add(want)
    keras.backend.clear_session()  # also forgets the global seed, so seed afterwards
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


# --------------------------------------------------------------------------- normalisation


def fit_normalisation(
    features: np.ndarray, rows: np.ndarray, mode: str | None = None, chunk_rows: int = 128
) -> dict:
    """Z-score statistics over ``features[rows]`` only (the training rows).

    Modes: ``global`` (one mean/std over every value: the seed's pixel variant), ``per_pixel``
    (per frame and pixel), ``per_feature`` (per feature over recordings and frames: the seed's
    landmark variant). Two float64 passes over chunks keep memory flat and the result exact.
    Returns ``{"mode", "mean", "std"}`` with float32 arrays broadcastable to one recording.
    """
    kind = input_kind(features)
    allowed = NORMALISATIONS[FEATURES_OF_KIND[kind]]
    mode = mode or allowed[0]
    if mode not in allowed:
        raise ValueError(f"normalisation {mode!r} not available for {kind}: {allowed}")
    x = as_frames(features, kind)
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    if len(rows) == 0:
        raise ValueError("no training rows to compute normalisation statistics from")
    axes = {"global": None, "per_pixel": (0,), "per_feature": (0, 1)}[mode]
    per_row = x[0].size if axes is None else int(np.prod([x.shape[a] for a in axes if a]))
    count = len(rows) * per_row

    def chunk_sums(shift):
        total = 0.0
        for start in range(0, len(rows), chunk_rows):
            block = x[rows[start : start + chunk_rows]].astype(np.float64)
            total = total + ((block - shift) ** 2 if shift is not None else block).sum(axis=axes)
        return total

    mean = chunk_sums(None) / count
    std = np.sqrt(chunk_sums(mean if axes is None else np.expand_dims(mean, axes)) / count)
    std = np.where(std > 0, std, 1.0)  # constant inputs: centre only, avoid dividing by zero
    return {"mode": mode, "mean": np.asarray(mean, np.float32), "std": np.asarray(std, np.float32)}


def batch_dataset(
    features, rows, batch_size, epochs=1, y=None, weights=None, shuffle_seed=None
) -> tf.data.Dataset:
    """Batches of raw ``features[rows]`` for ``epochs`` epochs, one after another (uint8 pixels
    stay uint8; landmarks flattened per frame), with ``y`` and ``weights`` of the same positions
    when given, prefetched on a background thread. Train with ``steps_per_epoch`` =
    :func:`batches_per_epoch`, so that Keras reads on through the epochs.

    With ``shuffle_seed`` each epoch has its own sample order, drawn from one generator, so the
    orders depend on the seed only; without, the rows come in the given order every epoch.
    The batches are gathered from ``features`` itself by a NumPy call in the pipeline: a copy of
    the array inside TensorFlow (a variable, a constant) doubled a job's memory (docs/performance.md,
    Training).
    """
    x = as_frames(features, input_kind(features))
    rows = np.asarray(rows, dtype=np.int64)
    batch_size, epochs = int(batch_size), int(epochs)
    rng = np.random.default_rng(shuffle_seed) if shuffle_seed is not None else None
    # positions[e]: the positions in ``rows`` that epoch e visits, sorted within each batch so
    # that the reads from the big array go forward (cache friendly).
    positions = np.empty((epochs, len(rows)), np.int64)
    for epoch in range(epochs):
        order = rng.permutation(len(rows)) if rng is not None else np.arange(len(rows))
        for start in range(0, len(rows), batch_size):
            positions[epoch, start : start + batch_size] = np.sort(order[start : start + batch_size])
    columns = [np.asarray(a)[positions] for a in (y, weights) if a is not None]
    epoch_slices = tf.data.Dataset.from_tensor_slices((rows[positions], *columns))
    batches = epoch_slices.flat_map(lambda *epoch: tf.data.Dataset.from_tensor_slices(epoch).batch(batch_size))

    def gathered(index, *rest):
        # Rows copied out of the caller's array itself: TensorFlow holds no copy of it.
        rows_of_batch = tf.numpy_function(lambda i: x[i], [index], tf.as_dtype(x.dtype), stateful=False)
        rows_of_batch.set_shape((None, *x.shape[1:]))
        return (rows_of_batch, *rest)

    dataset = batches.map(gathered)
    n_batches = epochs * batches_per_epoch(len(rows), batch_size)
    return dataset.apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(PREFETCH_BATCHES)


def batches_per_epoch(n_rows: int, batch_size: int) -> int:
    return -(-int(n_rows) // int(batch_size))


@contextlib.contextmanager
def dtype_policy(name: str):
    """Keras' global dtype policy set to ``name`` while models are built in the block."""
    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {name!r}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


# --------------------------------------------------------------------------- training


class EpochMonitor(keras.callbacks.Callback):
    """Scores the validation rows after each epoch (``score(model)`` gives the values and the key,
    highest best); with ``select`` keeps the best epoch's weights."""

    def __init__(self, score, select: bool):
        super().__init__()
        self.score, self.select = score, select
        self.best_epoch, self.best_key, self.best_weights = None, None, None

    def on_epoch_end(self, epoch, logs=None):
        values, key = self.score(self.model)
        if logs is not None:
            logs.update(values)
        if self.select and (self.best_key is None or key > self.best_key):
            self.best_epoch, self.best_key = epoch + 1, key
            self.best_weights = self.model.get_weights()


class EpochLog(keras.callbacks.Callback):
    """One log line per epoch, so a job's log file shows how training went."""

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        values = ", ".join(f"{k} {v:.4f}" for k, v in sorted((logs or {}).items()) if np.isscalar(v))
        logging.getLogger("facemotion").info("epoch %d/%d: %s", epoch + 1, self.epochs, values)


@dataclass
class Fitted:
    """A trained model with what applying it needs: the input statistics and the task's state."""

    model: keras.Model
    stats: dict  # fit_normalisation's
    state: dict  # the task's (class weights; the ratings' scaling)
    info: dict


def fit(task, features, train_rows, y_train, val_rows, y_val, p: TrainParams, select: bool) -> Fitted:
    """One model of ``task`` trained on ``features[train_rows]``; with ``select`` the weights of
    the epoch the validation rows score best, else of the last epoch."""
    kind = input_kind(features)
    model_name = p.model or MODEL_FOR_FEATURES[FEATURES_OF_KIND[kind]]
    epochs = p.epochs or DEFAULT_EPOCHS[model_name]
    if len(train_rows) == 0:
        raise ValueError("no training rows")
    stats = fit_normalisation(features, train_rows, p.normalisation)
    targets, weights, state = task.training_targets(y_train)
    sample_shape = as_frames(features, kind).shape[1:]
    with dtype_policy(p.precision):
        model = standardised_model(build_model(model_name, sample_shape, task.n_outputs), stats, kind, sample_shape)
    compile_model(model, p.optimizer, p.learning_rate, loss=task.loss)
    train_data = batch_dataset(features, train_rows, p.batch_size, epochs, y=targets, weights=weights,
                               shuffle_seed=p.seed)
    callbacks, monitor = [], None
    if len(val_rows):
        monitor = EpochMonitor(lambda m: task.score(m, features, val_rows, y_val, state, p.batch_size), select)
        callbacks.append(monitor)
    callbacks.append(EpochLog(epochs))  # after the monitor, which adds the validation values
    started = time.perf_counter()
    # steps_per_epoch: Keras reads on through the dataset's epochs instead of starting it again.
    # shuffle=False: the dataset draws its own sample order (keras would only warn it ignores it).
    history = model.fit(train_data, epochs=epochs, steps_per_epoch=batches_per_epoch(len(train_rows), p.batch_size),
                        shuffle=False, verbose=p.verbose, callbacks=callbacks)
    seconds = time.perf_counter() - started
    best_epoch = epochs
    if select and monitor is not None and monitor.best_weights is not None:
        model.set_weights(monitor.best_weights)
        best_epoch = monitor.best_epoch
    state = task.trained(model, features, train_rows, state, p.batch_size)
    info = {
        "model": model_name,
        "input_kind": kind,
        "precision": p.precision,
        "epochs_run": epochs,
        "best_epoch": best_epoch,
        "n_train": int(len(train_rows)),
        "n_val": int(len(val_rows)),
        **task.fit_info(y_train, state),
        "history": [{"epoch": i + 1, **{k: float(v[i]) for k, v in history.history.items()}}
                    for i in range(len(history.history.get("loss", [])))],
        "fit_seconds": seconds,  # all epochs, including the validation scoring after each
        "samples_per_second": len(train_rows) * epochs / seconds if seconds > 0 else None,
    }
    return Fitted(model, stats, state, info)


def model_metadata(task, fitted: Fitted, features, info, p: TrainParams) -> dict:
    """What prediction needs besides the weights; JSON-serialisable (see
    :func:`facemotion.learning.model.save_model`)."""
    return {
        "format": METADATA_FORMAT,
        "facemotion_version": facemotion.__version__,
        "target": task.target,
        "classes": list(task.classes),
        "model": info["model"],
        "input_kind": info["input_kind"],
        "sample_shape": list(features.shape[1:]),
        "normalisation": {
            "mode": fitted.stats["mode"],
            "mean": np.asarray(fitted.stats["mean"]).tolist(),
            "std": np.asarray(fitted.stats["std"]).tolist(),
        },
        "thresholds": {"low": p.low, "high": p.high},
        "epochs": info["best_epoch"],
        "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(p).items()},
        **task.described(fitted.state),
    }


def train_fold(
    meta: pd.DataFrame, features: np.ndarray, target: str, test_session: str, params: Mapping,
    manifest: pd.DataFrame | None = None, train_sessions: Sequence[str] | None = None,
) -> tuple[keras.Model, pd.DataFrame, dict]:
    """Train on all sessions but ``test_session`` (or on ``train_sessions`` only, when given: under
    cross_corpus the training corpora's, never another test corpus) and predict its (test part of
    the) rows.

    ``features`` rows align with ``meta`` rows: uint8 pixels (N, n, s, s) or float features
    (N, n, 6) / (N, n, 68, 2). Returns the model, the predictions (columns ``recording``,
    ``session``, ``speaker``, ``y_true``, ``y_pred``, and for classes ``p_<class>`` ...; one block
    per training repeat, column ``repeat``) and a JSON-serialisable info dict;
    ``info["best_epoch"]`` is the epoch count a final model should train for and
    ``info["model_metadata"]`` goes to :func:`facemotion.learning.model.save_model`. A test session
    without usable rows (no faces, no ratings) is not trained: the model is None, the predictions
    are empty and ``info["skipped"]`` says why. Under the seed protocol the test half is drawn over
    ``manifest`` (every recording of the corpus; without it, ``meta``'s), stratified by label
    (:func:`facemotion.learning.folds.test_halves`), so every experiment and target tests the
    same half, less what it dropped.
    """
    p = TrainParams.from_mapping(params)
    if len(meta) != len(features):
        raise ValueError(f"meta has {len(meta)} rows, features {len(features)}")
    skipped = skipped_fold(meta, target, test_session, p, train_sessions)
    if skipped is not None:
        return None, *skipped
    task = make_task(target, p)
    rows, y, strata = fold_examples(task, meta, test_session, train_sessions)
    device = start_tensorflow(p)
    sessions = meta["session"].astype(str).to_numpy()[rows]
    in_test_half = None
    if p.protocol == "seed":
        halves = manifest_test_halves(meta if manifest is None else manifest, p.split_seed)
        in_test_half = meta["recording"].astype(str).isin(halves).to_numpy()[rows]
    split = split_fold(sessions, strata, test_session, p.protocol, p.split_seed, p.validation, p.validation_share,
                       meta["speaker"].astype(str).to_numpy()[rows], in_test_half)
    test_rows = rows[split.test]

    def fit_and_predict(repeat_params: TrainParams):
        fitted = fit(task, features, rows[split.train], y[split.train], rows[split.val], y[split.val],
                     repeat_params, select=p.protocol == "loso")
        outputs = task.predict(fitted.model, features, test_rows, fitted.state, p.batch_size)
        return fitted, task.predictions(meta, test_rows, y[split.test], outputs)

    first, predictions, runs = train_repeats(p, fit_and_predict)
    info = first.info
    info.update(
        target=target,
        classes=task.classes,
        protocol=p.protocol,
        test_session=str(test_session),
        val_session=split.val_session,
        train_sessions=sorted(set(sessions[split.train])),
        n_test=int(len(test_rows)),
        device=device,
        repeats=runs,
        **task.described(first.state),
    )
    info["model_metadata"] = model_metadata(task, first, features, info, p)
    return first.model, predictions, info


def train_repeats(p: TrainParams, fit_and_predict):
    """Train ``p.repeats`` models of one fold, with seeds ``p.seed``, ``p.seed + 1``, ...

    ``fit_and_predict(params)`` trains with ``params`` and returns the :class:`Fitted` model and
    its test predictions; TensorFlow must already have started with ``p.seed``. Returns the first
    repeat's :class:`Fitted`, the fold's model; every repeat's predictions, one block per repeat
    with a ``repeat`` column; and per repeat its seed, chosen epoch and history.
    """
    runs, predictions = [], []
    for repeat in range(p.repeats):
        if repeat:  # the first repeat's seeds were set when TensorFlow started
            configure_tensorflow(p.threads, p.seed + repeat)
        fitted, frame = fit_and_predict(replace(p, seed=p.seed + repeat))
        predictions.append(frame.assign(repeat=repeat))
        runs.append({"repeat": repeat, "seed": p.seed + repeat,
                     **{key: fitted.info[key] for key in ("best_epoch", "epochs_run", "history", "fit_seconds")}})
        if repeat == 0:
            first = fitted
    return first, pd.concat(predictions, ignore_index=True), runs


def final_epochs(fold_infos: Sequence[Mapping], params: Mapping) -> int:
    """How long the final model trains, from its folds' infos (see :func:`train_fold`).

    Under the loso protocol each fold chose its best epoch on its validation recordings: the final
    model trains as long as the median of the folds' models did, every repeat counted (Python's
    ``round``: halves go to the even number). Skipped folds chose no epoch. Under the seed
    protocol, and without validation recordings (``validation`` none), the epochs were fixed: the
    configured ``epochs``.
    """
    p = TrainParams.from_mapping(params)
    if p.protocol != "loso" or p.validation == "none":
        if p.epochs is None:
            raise ValueError(f"protocol {p.protocol!r} trains a final model for the configured epochs; none given")
        return p.epochs
    chosen = fold_best_epochs(fold_infos)
    if not chosen:
        raise ValueError(f"no fold chose an epoch (all {len(fold_infos)} were skipped), so no epoch count can "
                         "be taken from them; see the folds' info files for why")
    return round(statistics.median(chosen))


def fold_best_epochs(fold_infos: Sequence[Mapping]) -> list[int]:
    """The epochs the folds' models chose (every repeat's), in the given order; skipped folds chose none."""
    return [run["best_epoch"] for info in fold_infos for run in info.get("repeats") or [info]
            if run["best_epoch"] is not None]


def train_final(
    meta: pd.DataFrame, features: np.ndarray, target: str, params: Mapping, fold_infos: Sequence[Mapping],
    extraction: Mapping | None = None,
) -> tuple[keras.Model, dict]:
    """Train on every usable recording for :func:`final_epochs` of ``fold_infos``; no data is
    held out, so nothing is reported from it.

    ``info["model_metadata"]`` goes to :func:`facemotion.learning.model.save_model`; besides what
    :func:`train_fold` records it holds the folds' chosen epochs and, when given, the ``extraction``
    settings (with ``features``), so that prediction extracts exactly as training did.
    """
    p = TrainParams.from_mapping({**dict(params), "epochs": final_epochs(fold_infos, params)})
    task = make_task(target, p)
    device = start_tensorflow(p)
    rows, y, _ = task.examples(meta)
    fitted = fit(task, features, rows, y, rows[:0], y[:0], p, select=False)
    info = fitted.info
    info.update(target=target, classes=task.classes, train_sessions=sorted(set(meta["session"].astype(str).iloc[rows])),
                device=device, **task.described(fitted.state))
    info["model_metadata"] = model_metadata(task, fitted, features, info, p)
    if extraction is not None:
        # The extractor's version too: prediction refuses to extract otherwise than training did.
        info["model_metadata"].update(features=extraction["features"], extraction=dict(extraction),
                                      extraction_version=EXTRACTOR_VERSION)
    info["model_metadata"]["fold_best_epochs"] = fold_best_epochs(fold_infos)
    return fitted.model, info


def start_tensorflow(p: TrainParams) -> str:
    """The device first (a GPU job without a usable GPU stops here; a CPU job hides the GPUs
    before TensorFlow initialises CUDA), then threads and seeds; returns the device in words."""
    device = select_device(p.gpus)
    logging.getLogger("facemotion").info("training on %s, precision %s", device, p.precision)
    configure_tensorflow(p.threads, p.seed)
    return device
