"""Classes and ratings: the two tasks the training core (:mod:`facemotion.learning.fitting`) fits.

A task says which recordings have a value of its target, what the network outputs and is trained
on, how the validation recordings score an epoch, and what a fold's predictions table holds:

- :class:`ClassTask`: the emotion label, or activation / valence binned at ``low`` / ``high``.
  Cross-entropy with class-balanced sample weights; an epoch is scored by the validation UAR (ties:
  lower loss), or by the loss alone with ``monitor: loss``. The predictions hold the predicted
  class and one ``p_<class>`` probability per class.
- :class:`RatingTask` (``dimensions: regression``): activation / valence as ratings. One linear
  output trained on the MSE of the ratings z-scored with the training rows' mean and standard
  deviation, mapped back to the rating scale; an epoch is scored by the validation CCC (ties: lower
  RMSE). With ``rating_calibration: training`` the trained model's outputs are then stretched so
  that, on the training rows, they have the mean and standard deviation of the ratings: MSE
  squeezes them toward the mean, which the CCC punishes. The folds and the seed protocol's dev/test
  halves are stratified by the rating's bin, as the classes are; ``y_true`` and ``y_pred`` are
  ratings. Loss and calibration measured in tests/benchmarks/bench_regression_loss.py
  (docs/ratings.md).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.utils.class_weight import compute_class_weight

from facemotion.common.scores import ccc, uar
from facemotion.common.targets import RATING_TASK, bin_ratings, encode_target, learnt_as_rating, target_classes

# rating_calibration: none, or "training" (the outputs' mean and sd on the training rows matched
# to the training ratings').
RATING_CALIBRATIONS = ("none", "training")


def fold_examples(task, meta: pd.DataFrame, test_session: str, train_sessions=None):
    """The rows of ``meta`` a fold may use (those with a value of the task's target; with
    ``train_sessions``, under cross_corpus, those sessions' and the test session's only), their
    values and their strata: :meth:`ClassTask.examples`."""
    rows, y, strata = task.examples(meta)
    if train_sessions is not None:
        kept = meta["session"].astype(str).isin([*train_sessions, str(test_session)]).to_numpy()[rows]
        rows, y, strata = rows[kept], y[kept], strata[kept]
    return rows, y, strata


def skipped_fold(meta: pd.DataFrame, target: str, test_session: str, p, train_sessions=None) \
        -> tuple[pd.DataFrame, dict] | None:
    """A fold that is not trained because no recording of its test session has a value of the
    target (or face frames): its empty predictions and its info, which says why; None for a fold
    that trains. Needs no TensorFlow, so a job whose fold is skipped never starts it."""
    task = make_task(target, p)
    rows, y, _ = fold_examples(task, meta, test_session, train_sessions)
    test_session = str(test_session)
    if test_session in set(meta["session"].astype(str).to_numpy()[rows]):
        return None
    if test_session in set(meta["session"].astype(str)):
        what = "label in classes" if task.target == "label" else f"{task.target} rating"
        reason = f"no recording of session {test_session} has a {what}"
    else:
        reason = (f"no recording of session {test_session} has enough face frames "
                  "(see results/extraction/report.tsv)")
    info = {"skipped": reason, "target": task.target, "classes": list(task.classes), "protocol": p.protocol,
            "test_session": test_session, "n_test": 0, "best_epoch": None, "repeats": [],
            "train_class_counts": [0] * len(task.classes), **task.described()}
    no_outputs = np.zeros((0, max(task.n_outputs, 1)), np.float32)
    return task.predictions(meta, rows[:0], y[:0], no_outputs), info


def make_task(target: str, p) -> ClassTask | RatingTask:
    """The task that learns ``target`` under the training parameters ``p`` (``dimensions`` decides)."""
    return RatingTask(target, p) if learnt_as_rating(target, p.dimensions) else ClassTask(target, p)


def balanced_class_weights(y_train: np.ndarray, n_classes: int) -> dict[int, float]:
    """sklearn "balanced" weights from the training labels; classes absent there get none."""
    present = np.unique(y_train)
    weights = compute_class_weight("balanced", classes=present, y=y_train)
    return {int(c): float(w) for c, w in zip(present, weights) if c < n_classes}


class ClassTask:
    """A target learnt as classes: ``y`` are class codes into :attr:`classes`."""

    loss = None  # networks.compile_model's default: sparse categorical cross-entropy

    def __init__(self, target: str, p):
        if p.class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight must be 'balanced' or None, got {p.class_weight!r}")
        self.target, self.p = target, p
        self.classes = target_classes(target, p.classes)
        self.n_outputs = len(self.classes)

    def examples(self, meta: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rows with a value of the target, those values, and the class codes that stratify splits."""
        mask, y = encode_target(meta, self.target, self.p.classes, self.p.low, self.p.high)
        return np.flatnonzero(mask), y, y

    def training_targets(self, y_train: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, dict]:
        """What the network trains on: targets, per-sample weights (or None) and the fitted state
        (here the class weights) that :meth:`score`, :meth:`predict` and the info read."""
        class_weight = balanced_class_weights(y_train, self.n_outputs) if self.p.class_weight else None
        weights = np.array([class_weight[c] for c in y_train], np.float32) if class_weight else None
        return y_train, weights, {"class_weight": class_weight}

    def score(self, model, features, rows, y, state, batch_size) -> tuple[dict, tuple]:
        """The validation values of an epoch and the key that chooses the best epoch (highest wins)."""
        from facemotion.learning.model import apply_model

        proba = apply_model(model, features, rows, batch_size)
        loss = float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-7, 1.0))))
        value = uar(y, proba.argmax(axis=1))
        return {"val_loss": loss, "val_uar": value}, ((-loss,) if self.p.monitor == "loss" else (value, -loss))

    def predict(self, model, features, rows, state, batch_size) -> np.ndarray:
        from facemotion.learning.model import apply_model

        return apply_model(model, features, rows, batch_size)

    def trained(self, model, features, train_rows, state, batch_size) -> dict:
        """The state once the model is trained: nothing to add for classes."""
        return state

    def predictions(self, meta: pd.DataFrame, rows, y_true, outputs) -> pd.DataFrame:
        names = np.asarray(self.classes, dtype=object)
        frame = _identities(meta, rows).assign(
            y_true=names[y_true], y_pred=names[outputs.argmax(axis=1)] if len(rows) else names[:0])
        for k, name in enumerate(self.classes):
            frame[f"p_{name}"] = outputs[:, k].astype(np.float64)
        return frame

    def fit_info(self, y_train, state) -> dict:
        return {"class_weight": {str(k): v for k, v in (state["class_weight"] or {}).items()},
                "train_class_counts": np.bincount(y_train, minlength=self.n_outputs).tolist()}

    def described(self, state: Mapping | None = None) -> dict:
        """What a fold's info and a model's sidecar add for this task."""
        return {}


class RatingTask:
    """A target learnt as a rating: ``y`` are ratings on the rating scale."""

    def __init__(self, target: str, p, loss="mean_squared_error"):
        if p.rating_calibration not in RATING_CALIBRATIONS:
            raise ValueError(f"rating_calibration must be one of {RATING_CALIBRATIONS}, got {p.rating_calibration!r}")
        self.target, self.p, self.loss = target, p, loss
        self.classes = target_classes(target)  # the bins, for the binned UAR and its baselines
        self.n_outputs = 0  # networks.build_model: one linear output

    def examples(self, meta: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ratings = meta[self.target].to_numpy(dtype=np.float64, na_value=np.nan)
        rows = np.flatnonzero(~np.isnan(ratings))
        return rows, ratings[rows], bin_ratings(ratings[rows], self.p.low, self.p.high)

    def training_targets(self, y_train: np.ndarray) -> tuple[np.ndarray, None, dict]:
        scaling = fit_scaling(y_train)
        z_train = ((np.asarray(y_train, np.float64) - scaling["mean"]) / scaling["std"]).astype(np.float32)
        return z_train[:, None], None, {"target_scaling": scaling}

    def score(self, model, features, rows, y, state, batch_size) -> tuple[dict, tuple]:
        predicted = self.predict(model, features, rows, state, batch_size)
        ratings = np.asarray(y, np.float64)
        value, rmse = ccc(ratings, predicted), float(np.sqrt(np.mean((predicted - ratings) ** 2)))
        return {"val_ccc": value, "val_rmse": rmse}, (np.nan_to_num(value, nan=-np.inf), -rmse)

    def predict(self, model, features, rows, state, batch_size) -> np.ndarray:
        from facemotion.learning.model import predict_ratings

        return predict_ratings(model, features, rows, state["target_scaling"], batch_size,
                               state.get("output_scaling"))

    def trained(self, model, features, train_rows, state, batch_size) -> dict:
        """The state with ``output_scaling`` under ``rating_calibration: training``: the mean and
        standard deviation of the model's outputs on the training rows, which :meth:`predict` maps
        onto those of the training ratings (the training rows only: nothing of the validation or
        test recordings)."""
        if self.p.rating_calibration != "training":
            return state
        from facemotion.learning.model import apply_model

        outputs = apply_model(model, features, train_rows, batch_size)[:, 0]
        return {**state, "output_scaling": fit_scaling(outputs)}

    def predictions(self, meta: pd.DataFrame, rows, y_true, outputs) -> pd.DataFrame:
        return _identities(meta, rows).assign(y_true=np.asarray(y_true, np.float64),
                                              y_pred=np.asarray(outputs, np.float64))

    def fit_info(self, y_train, state) -> dict:
        bins = bin_ratings(y_train, self.p.low, self.p.high)
        return {"loss": self.loss if isinstance(self.loss, str) else self.loss.__name__, "class_weight": {},
                "train_class_counts": np.bincount(bins, minlength=len(self.classes)).tolist()}

    def described(self, state: Mapping | None = None) -> dict:
        scaling = {key: state[key] for key in ("target_scaling", "output_scaling") if key in (state or {})}
        return {"task": RATING_TASK, "thresholds": {"low": self.p.low, "high": self.p.high}, **scaling}


def fit_scaling(ratings: np.ndarray) -> dict:
    """Mean and standard deviation (ddof 0; 1 for constant values) of the training ratings, or of
    a model's outputs on the training rows."""
    ratings = np.asarray(ratings, dtype=np.float64)
    if len(ratings) == 0:
        raise ValueError("no training ratings to standardise the target with")
    std = float(ratings.std())
    return {"mean": float(ratings.mean()), "std": std if std > 0 else 1.0}


def _identities(meta: pd.DataFrame, rows) -> pd.DataFrame:
    sub = meta.iloc[rows]
    return pd.DataFrame({"recording": sub["recording"].to_numpy(), "session": sub["session"].astype(str).to_numpy(),
                         "speaker": sub["speaker"].to_numpy()})
