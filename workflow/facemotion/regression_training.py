"""Training activation and valence as continuous ratings (``dimensions: regression``).

The seed's networks with one linear output, trained on the ratings z-scored with the training
rows' mean and standard deviation (the training sessions only, as for the inputs), predictions
mapped back to the rating scale. The epoch is chosen by the validation session's CCC (``loso``),
as the UAR chooses it for classes. The loss is the MSE of the z-scored ratings: on the demo a batch
CCC loss was no better beyond the noise, and less stable (README, "Activation and valence as
ratings"; tests/benchmarks/bench_regression_loss.py).
Recordings without a rating are left out of the target; the folds, their validation sessions
and the seed protocol's dev/test halves (stratified by the rating's bin) are the
classification's.
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace

import keras
import numpy as np
import pandas as pd

from .folds import split_fold
from .models import DEFAULT_EPOCHS, MODEL_FOR_FEATURES, build_model, compile_model
from .regression import TASK, ccc
from .targets import bin_ratings, target_classes
from .trained import FEATURES_OF_KIND, as_frames, input_kind, predict_proba, standardised_model
from .training import (
    EpochLog,
    TrainParams,
    _dtype_policy,
    _model_metadata,
    _skipped_fold_info,
    _start_tensorflow,
    batch_dataset,
    batches_per_epoch,
    final_epochs,
    fit_normalisation,
    fold_best_epochs,
    train_repeats,
)

LOSS = "mean_squared_error"  # chosen over ccc_loss by measurement (module docstring)


def ccc_loss(y_true, y_pred):
    """1 - the CCC of the batch: the loss that optimises the reported metric directly."""
    y_true = keras.ops.reshape(keras.ops.cast(y_true, "float32"), (-1,))
    y_pred = keras.ops.reshape(keras.ops.cast(y_pred, "float32"), (-1,))
    mean_true, mean_pred = keras.ops.mean(y_true), keras.ops.mean(y_pred)
    covariance = keras.ops.mean((y_true - mean_true) * (y_pred - mean_pred))
    denominator = keras.ops.var(y_true) + keras.ops.var(y_pred) + (mean_true - mean_pred) ** 2
    return 1.0 - 2.0 * covariance / (denominator + keras.backend.epsilon())


def fit_scaling(ratings: np.ndarray) -> dict:
    """Mean and standard deviation (ddof 0; 1 for constant ratings) of the training ratings."""
    ratings = np.asarray(ratings, dtype=np.float64)
    if len(ratings) == 0:
        raise ValueError("no training ratings to standardise the target with")
    std = float(ratings.std())
    return {"mean": float(ratings.mean()), "std": std if std > 0 else 1.0}


def predict_ratings(model, features, rows, scaling: dict, batch_size: int = 128) -> np.ndarray:
    """The model's outputs for ``features[rows]`` mapped back to the rating scale."""
    z = predict_proba(model, features, rows, batch_size)[:, 0].astype(np.float64)
    return z * scaling["std"] + scaling["mean"]


class CCCMonitor(keras.callbacks.Callback):
    """Scores the validation rows after each epoch (CCC and RMSE on the rating scale); with
    ``select`` keeps the weights of the best CCC, ties broken by lower RMSE."""

    def __init__(self, features, rows, ratings, scaling, batch_size, select: bool):
        super().__init__()
        self.args = (features, rows, scaling, batch_size)
        self.ratings, self.select = np.asarray(ratings, np.float64), select
        self.best_epoch, self.best_key, self.best_weights = None, None, None

    def on_epoch_end(self, epoch, logs=None):
        predicted = predict_ratings(self.model, *self.args)
        value, rmse = ccc(self.ratings, predicted), float(np.sqrt(np.mean((predicted - self.ratings) ** 2)))
        if logs is not None:
            logs.update(val_ccc=value, val_rmse=rmse)
        key = (np.nan_to_num(value, nan=-np.inf), -rmse)
        if self.select and (self.best_key is None or key > self.best_key):
            self.best_epoch, self.best_key = epoch + 1, key
            self.best_weights = self.model.get_weights()


def fit_regression(features, train_rows, ratings_train, val_rows, ratings_val, p: TrainParams, select: bool,
                   loss=LOSS):
    """A model of ``p.model`` with one linear output, trained on the z-scored training ratings;
    returns (model, input statistics, target scaling, info)."""
    kind = input_kind(features)
    model_name = p.model or MODEL_FOR_FEATURES[FEATURES_OF_KIND[kind]]
    epochs = p.epochs or DEFAULT_EPOCHS[model_name]
    if len(train_rows) == 0:
        raise ValueError("no training rows")
    stats = fit_normalisation(features, train_rows, p.normalisation)
    scaling = fit_scaling(ratings_train)
    z_train = ((np.asarray(ratings_train, np.float64) - scaling["mean"]) / scaling["std"]).astype(np.float32)
    sample_shape = as_frames(features, kind).shape[1:]
    with _dtype_policy(p.precision):
        model = standardised_model(build_model(model_name, sample_shape, 0), stats, kind, sample_shape)
    compile_model(model, p.optimizer, p.learning_rate, loss=loss)
    train_data = batch_dataset(features, train_rows, p.batch_size, epochs, y=z_train[:, None], shuffle_seed=p.seed)
    callbacks, monitor = [], None
    if len(val_rows):
        monitor = CCCMonitor(features, val_rows, ratings_val, scaling, p.batch_size, select)
        callbacks.append(monitor)
    callbacks.append(EpochLog(epochs))
    started = time.perf_counter()
    history = model.fit(train_data, epochs=epochs, steps_per_epoch=batches_per_epoch(len(train_rows), p.batch_size),
                        shuffle=False, verbose=p.verbose, callbacks=callbacks)
    seconds = time.perf_counter() - started
    best_epoch = epochs
    if select and monitor is not None and monitor.best_weights is not None:
        model.set_weights(monitor.best_weights)
        best_epoch = monitor.best_epoch
    info = {
        "model": model_name, "input_kind": kind, "precision": p.precision, "epochs_run": epochs,
        "best_epoch": best_epoch, "n_train": int(len(train_rows)), "n_val": int(len(val_rows)),
        "loss": loss if isinstance(loss, str) else loss.__name__,
        "history": [{"epoch": i + 1, **{k: float(v[i]) for k, v in history.history.items()}}
                    for i in range(len(history.history.get("loss", [])))],
        "fit_seconds": seconds,
    }
    return model, stats, scaling, info


def _usable(meta: pd.DataFrame, target: str):
    """Rows with a rating of ``target`` and those ratings."""
    ratings = meta[target].to_numpy(dtype=np.float64, na_value=np.nan)
    rows = np.flatnonzero(~np.isnan(ratings))
    return rows, ratings[rows]


def _metadata(target, stats, scaling, features, info, p: TrainParams) -> dict:
    """The classification's model metadata plus what turns the output into a rating and a bin."""
    return {**_model_metadata(target, target_classes(target), stats, features, info, p), "task": TASK,
            "target_scaling": scaling}


def _frame(meta, rows, ratings, predicted) -> pd.DataFrame:
    sub = meta.iloc[rows]
    return pd.DataFrame({"recording": sub["recording"].to_numpy(), "session": sub["session"].astype(str).to_numpy(),
                         "speaker": sub["speaker"].to_numpy(), "y_true": np.asarray(ratings, np.float64),
                         "y_pred": np.asarray(predicted, np.float64)})


def train_fold_regression(meta: pd.DataFrame, features: np.ndarray, target: str, test_session: str,
                          p: TrainParams):
    """:func:`facemotion.training.train_fold` for a rating target: the predictions' ``y_true`` and
    ``y_pred`` are ratings; the info adds ``task`` and ``target_scaling`` and counts the training
    ratings' bins in ``train_class_counts`` (the binned UAR's majority baseline)."""
    device = _start_tensorflow(p)
    classes = target_classes(target)
    rows, ratings = _usable(meta, target)
    sessions = meta["session"].astype(str).to_numpy()[rows]
    if str(test_session) not in set(sessions):
        info = _skipped_fold_info(meta, target, classes, str(test_session), p)
        return None, _frame(meta, rows[:0], ratings[:0], ratings[:0]), {
            **info, "task": TASK, "thresholds": {"low": p.low, "high": p.high}}
    bins = bin_ratings(ratings, p.low, p.high)
    split = split_fold(sessions, bins, test_session, p.protocol, p.split_seed, p.validation, p.validation_share,
                       meta["speaker"].astype(str).to_numpy()[rows])
    test_rows = rows[split.test]
    def fit_and_predict(repeat_params: TrainParams):
        fitted, stats, scaling, run = fit_regression(
            features, rows[split.train], ratings[split.train], rows[split.val], ratings[split.val],
            repeat_params, select=p.protocol == "loso")
        predicted = predict_ratings(fitted, features, test_rows, scaling, p.batch_size)
        return fitted, (stats, scaling), run, _frame(meta, test_rows, ratings[split.test], predicted)

    (model, (model_stats, model_scaling), info), predictions, runs = train_repeats(p, fit_and_predict)
    info.update(task=TASK, target=target, classes=classes, protocol=p.protocol, test_session=str(test_session),
                val_session=split.val_session, train_sessions=sorted(set(sessions[split.train])),
                n_test=int(len(test_rows)), device=device, repeats=runs, target_scaling=model_scaling,
                thresholds={"low": p.low, "high": p.high}, class_weight={},
                train_class_counts=np.bincount(bins[split.train], minlength=len(classes)).tolist())
    info["model_metadata"] = _metadata(target, model_stats, model_scaling, features, info, p)
    return model, predictions, info


def train_final_regression(meta: pd.DataFrame, features: np.ndarray, target: str, p: TrainParams,
                           fold_infos, extraction=None):
    """:func:`facemotion.training.train_final` for a rating target."""
    p = replace(p, epochs=final_epochs(fold_infos, asdict(p)))
    device = _start_tensorflow(p)
    rows, ratings = _usable(meta, target)
    model, stats, scaling, info = fit_regression(features, rows, ratings, rows[:0], ratings[:0], p, select=False)
    info.update(task=TASK, target=target, classes=target_classes(target), target_scaling=scaling, device=device,
                train_sessions=sorted(set(meta["session"].astype(str).to_numpy()[rows])))
    info["model_metadata"] = _metadata(target, stats, scaling, features, info, p)
    if extraction is not None:
        info["model_metadata"].update(features=extraction["features"], extraction=dict(extraction))
    info["model_metadata"]["fold_best_epochs"] = fold_best_epochs(fold_infos)
    return model, info
