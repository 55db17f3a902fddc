import ast
import os
import subprocess
import sys
from pathlib import Path

import facemotion
import keras
import numpy as np
import pandas as pd
import pytest
from facemotion.config import load_schema
from facemotion.learning.fitting import (
    batch_dataset,
    batches_per_epoch,
    final_epochs,
    fit_normalisation,
    train_final,
    train_fold,
)
from facemotion.learning.model import apply_model, load_model, metadata_path, save_model, standardised_model
from facemotion.learning.networks import build_model, seed_cnn, seed_dense
from facemotion.learning.params import TrainParams
from facemotion.learning.tasks import balanced_class_weights

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["Angry", "Happy", "Neutral", "Sad"]
FAST = {"classes": CLASSES, "epochs": 2, "batch_size": 8, "verbose": 0, "seed": 5, "threads": 2}


def make_data(n_sessions=4, per_session=10, n_frames=2, size=16, seed=0):
    rng = np.random.default_rng(seed)
    n = n_sessions * per_session
    meta = pd.DataFrame(
        {
            "recording": [f"rec{i:03d}" for i in range(n)],
            "speaker": [f"spk{i % (2 * n_sessions)}" for i in range(n)],
            "session": np.repeat([str(s + 1) for s in range(n_sessions)], per_session),
            "label": np.resize(CLASSES + ["Frustrated"], n),
            "activation": rng.uniform(1, 5, n),
            "valence": rng.uniform(1, 5, n),
            "frame_index": 0,
        }
    )
    pixels = rng.integers(0, 200, (n, n_frames, size, size), dtype=np.uint8)
    geometry = rng.normal(size=(n, n_frames, 6)).astype(np.float32)
    return meta, pixels, geometry


# ------------------------------------------------------------------ models


def test_seed_cnn_structure():
    model = seed_cnn(n_frames=8, face_size=100, n_classes=4)
    assert model.input_shape == (None, 100, 100, 8)  # frames as channels
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    assert [c.filters for c in convs] == [16, 32, 64]
    assert all(c.kernel_size == (5, 5) and c.padding == "same" for c in convs)
    assert all(c.activation.__name__ == "relu" for c in convs)
    pools = [layer for layer in model.layers if layer.__class__.__name__ == "MaxPooling2D"]
    assert [p.pool_size for p in pools] == [(2, 2)] * 3
    assert [layer.rate for layer in model.layers if layer.__class__.__name__ == "Dropout"] == [0.8, 0.8]
    dense = [layer for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert [d.units for d in dense] == [128, 4]
    assert dense[-1].activation.__name__ == "softmax"
    kinds = [layer.__class__.__name__ for layer in model.layers[1:]]
    assert kinds == ["Conv2D", "MaxPooling2D"] * 3 + ["Flatten", "Dropout", "Dense", "Dropout", "Dense"]
    assert model.get_layer("flatten").output.shape[-1] == 12 * 12 * 64  # 100 -> 50 -> 25 -> 12


def test_seed_dense_structure():
    model = seed_dense(n_frames=8, n_features=6, n_classes=3)
    assert model.input_shape == (None, 8, 6)
    kinds = [layer.__class__.__name__ for layer in model.layers[1:]]
    assert kinds == ["Flatten", "Dense", "Dropout", "Dense", "Dropout", "Dense"]
    assert [layer.units for layer in model.layers if layer.__class__.__name__ == "Dense"] == [128, 128, 3]
    assert [layer.rate for layer in model.layers if layer.__class__.__name__ == "Dropout"] == [0.5, 0.5]
    assert build_model("seed_dense", (8, 68, 2), 4).input_shape == (None, 8, 136)


# ------------------------------------------------------------------ normalisation / batches


def test_normalisation_statistics_use_only_the_given_rows():
    _, pixels, geometry = make_data()
    rows = np.arange(0, 30)
    stats = fit_normalisation(pixels, rows, chunk_rows=7)  # chunks must not change the result
    expected = pixels[rows].astype(np.float64)
    assert stats["mode"] == "global"
    assert stats["mean"] == pytest.approx(expected.mean(), rel=1e-6)
    assert stats["std"] == pytest.approx(expected.std(), rel=1e-6)
    poisoned = pixels.copy()
    poisoned[30:] = 255
    assert fit_normalisation(poisoned, rows)["mean"] == stats["mean"]

    per_pixel = fit_normalisation(pixels, rows, "per_pixel", chunk_rows=7)
    assert per_pixel["mean"].shape == pixels.shape[1:]
    np.testing.assert_allclose(per_pixel["std"], expected.std(axis=0), rtol=1e-5)

    per_feature = fit_normalisation(geometry, rows)
    assert per_feature["mode"] == "per_feature" and per_feature["mean"].shape == (6,)
    np.testing.assert_allclose(
        per_feature["mean"], geometry[rows].reshape(-1, 6).mean(axis=0), rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError):
        fit_normalisation(geometry, rows, "per_pixel")


def test_batches_carry_raw_uint8_and_cover_each_row_once_per_epoch():
    _, pixels, _ = make_data()
    rows = np.arange(5, 25)
    y = np.arange(len(rows))
    weights = y.astype(np.float32) / 10
    dataset = batch_dataset(pixels, rows, batch_size=8, epochs=2, y=y, weights=weights, shuffle_seed=1)
    assert int(dataset.cardinality()) == 6 == 2 * batches_per_epoch(len(rows), 8)
    batches = list(dataset.as_numpy_iterator())
    orders = []
    for epoch in (batches[:3], batches[3:]):  # the epochs follow one another
        seen = []
        for x, yb, wb in epoch:
            assert x.dtype == np.uint8 and x.shape[1:] == (2, 16, 16)  # as stored: 1 byte per pixel
            np.testing.assert_array_equal(x, pixels[rows[yb]])
            np.testing.assert_array_equal(wb, weights[yb])
            seen.extend(yb)
        assert sorted(seen) == list(y)
        orders.append(seen)
    assert [len(b[1]) for b in batches] == [8, 8, 4] * 2
    assert orders[0] != orders[1]  # reshuffled every epoch ...
    again = batch_dataset(pixels, rows, batch_size=8, epochs=1, y=y, weights=weights, shuffle_seed=1)
    # ... by the seed
    assert [list(b[1]) for b in again.as_numpy_iterator()] == [orders[0][i:i + 8] for i in (0, 8, 16)]
    unshuffled = batch_dataset(pixels, rows, batch_size=8, epochs=2, y=y)
    assert [list(b[1]) for b in unshuffled.as_numpy_iterator()] == [list(y[i:i + 8]) for i in (0, 8, 16)] * 2


@pytest.mark.slow
def test_fit_trains_on_each_epochs_own_batches_in_order():
    """Keras, given steps_per_epoch, reads on through the dataset's epochs: training equals
    train_on_batch over the dataset's batches one after another. Had it started the dataset
    again each epoch, every epoch would repeat the first one's order."""
    _, pixels, _ = make_data()
    rows = np.arange(len(pixels))
    y = rows % 4
    dataset = batch_dataset(pixels, rows, batch_size=8, epochs=3, y=y, shuffle_seed=2)
    batches = list(dataset.as_numpy_iterator())

    def trained(feed):
        keras.utils.set_random_seed(0)
        core = keras.Sequential([keras.Input((16, 16, 2)), keras.layers.Flatten(), keras.layers.Dense(4)])
        model = standardised_model(core, fit_normalisation(pixels, rows), "pixels", pixels.shape[1:])
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
        feed(model)
        return model.get_weights()

    per_epoch = batches_per_epoch(len(rows), 8)
    fitted = trained(lambda m: m.fit(dataset, epochs=3, steps_per_epoch=per_epoch, shuffle=False, verbose=0))
    stepped = trained(lambda m: [m.train_on_batch(x, yb) for x, yb in batches])
    first_epoch_thrice = trained(lambda m: [m.train_on_batch(x, yb) for x, yb in batches[:per_epoch] * 3])
    for a, b in zip(fitted, stepped):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not all(np.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(fitted, first_epoch_thrice))


@pytest.mark.parametrize("mode", ["global", "per_pixel"])
def test_the_model_z_scores_raw_pixels_and_moves_frames_to_channels(mode):
    _, pixels, _ = make_data()
    rows = np.arange(0, 30)
    stats = fit_normalisation(pixels, rows, mode)
    identity = keras.Sequential([keras.Input((16, 16, 2))])
    model = standardised_model(identity, stats, "pixels", pixels.shape[1:])
    assert model.input.dtype == "uint8"
    mean, std = stats["mean"], stats["std"]
    if mode == "per_pixel":
        mean, std = mean.transpose(1, 2, 0), std.transpose(1, 2, 0)
    expected = (pixels[:4].transpose(0, 2, 3, 1) - mean) / std
    np.testing.assert_allclose(model.predict_on_batch(pixels[:4]), expected, rtol=1e-5, atol=1e-5)


def test_balanced_class_weights():
    w = balanced_class_weights(np.array([0, 0, 0, 1]), n_classes=3)
    assert w == pytest.approx({0: 4 / 6, 1: 4 / 2})  # n / (n_present_classes * count)


# ------------------------------------------------------------------ train_fold


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["loso", "seed"])
def test_nothing_from_the_test_session_reaches_training(protocol):
    meta, pixels, _ = make_data()
    params = {**FAST, "protocol": protocol, "epochs": 1}
    model, pred, info = train_fold(meta, pixels, "label", "2", params)
    assert set(pred.session) == {"2"}
    assert "2" not in info["train_sessions"]
    if protocol == "loso":
        assert info["val_session"] == "3" and "3" not in info["train_sessions"]

    # Poison the held-out session: extreme pixels and shuffled (still valid) labels.
    held_out = (meta.session == "2").to_numpy()
    poisoned_meta, poisoned_pixels = meta.copy(), pixels.copy()
    poisoned_pixels[held_out] = 255
    poisoned_meta.loc[held_out, "label"] = "Sad"
    model2, _, info2 = train_fold(poisoned_meta, poisoned_pixels, "label", "2", params)
    assert info2["model_metadata"]["normalisation"] == info["model_metadata"]["normalisation"]
    assert info2["class_weight"] == info["class_weight"]
    assert info2["train_class_counts"] == info["train_class_counts"]
    for w1, w2 in zip(model.get_weights(), model2.get_weights()):
        np.testing.assert_array_equal(w1, w2)


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["loso", "seed"])
def test_nothing_from_the_test_session_reaches_training_of_ratings(protocol):
    meta, _, geometry = make_data()
    meta.loc[meta.index[::7], "activation"] = np.nan  # recordings without a rating are left out
    params = {**FAST, "protocol": protocol, "dimensions": "regression", "rating_calibration": "training"}
    model, pred, info = train_fold(meta, geometry, "activation", "2", params)
    assert set(pred.session) == {"2"} and pred["y_true"].notna().all()
    train = meta[meta.session.isin(info["train_sessions"]) & meta.activation.notna()]
    scaling = {"mean": train.activation.mean(), "std": train.activation.std(ddof=0)}
    assert info["target_scaling"] == pytest.approx(scaling)
    # The calibration: the outputs' mean and sd on the training rows, not the validation or test rows.
    outputs = apply_model(model, geometry, np.flatnonzero(meta.index.isin(train.index)))[:, 0].astype(np.float64)
    assert info["output_scaling"] == pytest.approx({"mean": outputs.mean(), "std": outputs.std()}, rel=1e-6)

    # Poison the held-out session: extreme features and ratings (still on the scale).
    held_out = (meta.session == "2").to_numpy()
    poisoned_meta, poisoned = meta.copy(), geometry.copy()
    poisoned[held_out] = 1e3
    poisoned_meta.loc[held_out, "activation"] = 5.0
    model2, _, info2 = train_fold(poisoned_meta, poisoned, "activation", "2", params)
    assert info2["model_metadata"]["normalisation"] == info["model_metadata"]["normalisation"]
    assert info2["target_scaling"] == info["target_scaling"]
    assert info2["output_scaling"] == info["output_scaling"] == info["model_metadata"]["output_scaling"]
    assert info2["train_class_counts"] == info["train_class_counts"]
    for w1, w2 in zip(model.get_weights(), model2.get_weights()):
        np.testing.assert_array_equal(w1, w2)


@pytest.mark.slow
def test_predictions_table_and_info():
    meta, _, geometry = make_data()
    _, pred, info = train_fold(meta, geometry, "activation", "4", FAST)
    assert list(pred.columns) == [
        "recording", "session", "speaker", "y_true", "y_pred", "p_low", "p_medium", "p_high", "repeat"
    ]
    assert (pred["repeat"] == 0).all()
    assert len(pred) == (meta.session == "4").sum() == info["n_test"]
    assert set(pred.y_pred) <= {"low", "medium", "high"}
    np.testing.assert_allclose(pred.filter(like="p_").sum(axis=1), 1.0, rtol=1e-5)
    assert info["model"] == "seed_dense" and info["protocol"] == "loso"
    assert 1 <= info["best_epoch"] <= info["epochs_run"] == 2
    assert [h["epoch"] for h in info["history"]] == [1, 2]
    assert {"val_uar", "val_loss", "loss"} <= set(info["history"][0])


@pytest.mark.slow
def test_retraining_a_fold_is_deterministic():
    meta, pixels, _ = make_data()
    runs = [train_fold(meta, pixels, "valence", "1", FAST) for _ in range(2)]
    pd.testing.assert_frame_equal(runs[0][1], runs[1][1], check_exact=True)
    assert runs[0][2]["best_epoch"] == runs[1][2]["best_epoch"]


@pytest.mark.slow
def test_repeat_r_is_the_model_of_seed_plus_r_on_the_same_test_recordings():
    meta, pixels, _ = make_data()
    params = {**FAST, "protocol": "seed", "seed": 3}
    model, both, info = train_fold(meta, pixels, "label", "2", {**params, "repeats": 2})
    _, second, _ = train_fold(meta, pixels, "label", "2", {**params, "seed": 4})
    assert both["repeat"].tolist() == [0] * info["n_test"] + [1] * info["n_test"]
    repeat_1 = both[both["repeat"] == 1].reset_index(drop=True)
    pd.testing.assert_frame_equal(repeat_1.drop(columns="repeat"), second.drop(columns="repeat"), check_exact=True)
    assert [run["seed"] for run in info["repeats"]] == [3, 4]
    # The saved model is the first repeat's.
    first = both[both["repeat"] == 0]
    rows = meta.reset_index(drop=True).index[meta.recording.isin(first.recording)].to_numpy()
    np.testing.assert_allclose(apply_model(model, pixels, rows), first.filter(like="p_").to_numpy(), atol=1e-6)
    # The seed protocol's test half depends on cv.split_seed only, not on the model seed.
    assert set(first.recording) == set(second.recording)
    _, other_split, _ = train_fold(meta, pixels, "label", "2", {**params, "split_seed": 1})
    assert set(other_split.recording) != set(first.recording)


@pytest.mark.slow
def test_save_load_round_trip_and_final_model(tmp_path):
    meta, _, geometry = make_data()
    extraction = {"features": "landmarks", "n_frames": 2}
    model, info = train_final(meta, geometry, "label", FAST, [{"best_epoch": 1}, {"best_epoch": None}], extraction)
    assert info["epochs_run"] == 1 and info["n_train"] == (meta.label != "Frustrated").sum()
    path = tmp_path / "final" / "model.keras"
    sidecar = save_model(model, path, info["model_metadata"])
    assert sidecar.name == "model.keras.json"
    loaded, metadata = load_model(path)
    assert metadata["classes"] == CLASSES and metadata["input_kind"] == "features"
    # What prediction needs to extract as training did, and how the epochs were chosen.
    assert metadata["features"] == "landmarks" and metadata["extraction"] == extraction
    assert metadata["epochs"] == 1 and metadata["fold_best_epochs"] == [1]
    # Which release trained it (the one version, facemotion.__version__).
    assert metadata["facemotion_version"] == facemotion.__version__
    rows = np.arange(len(meta))
    np.testing.assert_allclose(apply_model(loaded, geometry, rows), apply_model(model, geometry, rows), rtol=1e-5)


def test_a_sidecar_of_another_format_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"")
    metadata_path(path).write_text('{"format": 1}')
    with pytest.raises(ValueError, match=r"model\.keras\.json: sidecar format 1, this version reads format 2"):
        load_model(path)


@pytest.mark.slow
def test_mixed_precision_computes_in_half_precision_and_keeps_float32_probabilities():
    meta, pixels, _ = make_data()
    model, pred, info = train_fold(meta, pixels, "label", "2", {**FAST, "epochs": 1, "precision": "mixed_bfloat16"})
    network = model.get_layer("seed_cnn")
    assert network.get_layer("conv16").compute_dtype == "bfloat16"
    assert network.get_layer("conv16").variable_dtype == "float32"
    assert network.get_layer("probabilities").compute_dtype == "float32"
    assert info["precision"] == "mixed_bfloat16"
    np.testing.assert_allclose(pred.filter(like="p_").sum(axis=1), 1.0, rtol=1e-5)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    with pytest.raises(ValueError, match="precision"):
        train_fold(meta, pixels, "label", "2", {**FAST, "precision": "float16"})


def test_final_epochs_are_the_folds_median_under_loso_and_the_configured_ones_under_seed():
    infos = [{"best_epoch": e} for e in (3, None, 8, 5)]  # None: a skipped fold chose nothing
    assert final_epochs(infos, {"protocol": "loso", "epochs": 10}) == 5
    # Halves go to the even number: 5.5 -> 6, 2.5 -> 2.
    assert final_epochs(infos[:3], {"protocol": "loso", "epochs": 10}) == 6
    assert final_epochs([{"best_epoch": 2}, {"best_epoch": 3}], {"epochs": 10}) == 2
    assert final_epochs(infos, {"protocol": "seed", "epochs": 10}) == 10
    with pytest.raises(ValueError, match="no fold chose an epoch"):
        final_epochs([{"best_epoch": None}] * 2, {"protocol": "loso", "epochs": 10})
    with pytest.raises(ValueError, match="configured epochs"):
        final_epochs(infos, {"protocol": "seed"})


def test_training_defaults_are_the_schemas():
    """A package user without a config trains as the workflow's defaults do."""
    schema = load_schema()["properties"]
    training, defaults = schema["training"]["properties"], TrainParams()
    for key in ("optimizer", "learning_rate", "batch_size", "seed", "threads", "precision"):
        assert getattr(defaults, key) == training[key]["default"], key
    assert (defaults.low, defaults.high) == (schema["binning"]["properties"]["low"]["default"],
                                             schema["binning"]["properties"]["high"]["default"])
    assert defaults.protocol == schema["cv"]["properties"]["protocol"]["default"]


def test_unknown_parameter_is_rejected():
    with pytest.raises(ValueError, match="learnin_rate"):
        TrainParams.from_mapping({"learnin_rate": 1e-3})


@pytest.mark.slow
@pytest.mark.parametrize("cause", ["no_faces", "no_ratings"])
def test_a_session_without_usable_recordings_is_skipped_not_failed(cause):
    meta, _, geometry = make_data()
    if cause == "no_faces":  # session 4 lost every recording in extraction
        keep = (meta.session != "4").to_numpy()
        meta, geometry = meta[keep].reset_index(drop=True), geometry[keep]
        expected = "no recording of session 4 has enough face frames"
    else:
        meta.loc[meta.session == "4", "activation"] = np.nan
        expected = "no recording of session 4 has a activation rating"
    model, predictions, info = train_fold(meta, geometry, "activation", "4", FAST)
    assert model is None and len(predictions) == 0 and info["n_test"] == 0
    assert info["skipped"].startswith(expected) and info["best_epoch"] is None
    assert list(predictions.columns)[-3:] == ["p_low", "p_medium", "p_high"]
    # The other folds train without session 4, which holds no usable rows.
    _, _, other = train_fold(meta, geometry, "activation", "3", FAST)
    assert "4" not in other["train_sessions"] and other["val_session"] != "4" and "skipped" not in other


def test_a_skipped_fold_is_decided_without_starting_tensorflow():
    """The training job reads the table and decides that its fold is skipped with what its script
    imports before TensorFlow (its top-level imports): TensorFlow's start-up, seconds of CPU, is
    paid only by folds that train."""
    script = ROOT / "workflow" / "scripts" / "train_fold.py"
    top_imports = [ast.unparse(node) for node in ast.parse(script.read_text()).body
                   if isinstance(node, (ast.Import, ast.ImportFrom))]
    program = "\n".join([*top_imports, """
import sys
import numpy as np
from facemotion.learning.params import TrainParams
meta = pd.DataFrame({"recording": ["a", "b"], "session": ["1", "2"], "speaker": ["s1", "s2"],
                     "label": ["Angry", "Happy"], "activation": [np.nan, 3.0], "valence": [2.0, 3.0]})
skipped = skipped_fold(meta, "activation", "1", TrainParams())
assert skipped is not None and "has a activation rating" in skipped[1]["skipped"], skipped
assert skipped_fold(meta, "valence", "1", TrainParams()) is None
assert not {"tensorflow", "keras"} & set(sys.modules), "TensorFlow was imported"
"""])
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "workflow")})
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_a_training_job_holds_the_feature_array_once(tmp_path):
    """Reading the table and feeding every row through the training pipeline adds the table's
    bytes once, not a copy per stage: 1.5-1.6x here (a 131 MB table; the rest is the batches and
    TensorFlow's buffers), 4.3x with the table read whole and copied into the pipeline, as before
    (docs/performance.md, Training). 2.5x is allowed."""
    sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))
    from bench_training_memory import write_table

    table_bytes = write_table(tmp_path / "features.parquet", 4000, 64)
    program = f"""
import resource
import numpy as np
from facemotion.extraction.feature_table import read_feature_table
from facemotion.learning.fitting import batch_dataset
def iterate(pixels):
    rows = np.arange(len(pixels))
    for batch in batch_dataset(pixels, rows, 128, y=rows % 4, shuffle_seed=0):
        pass
iterate(np.zeros((10, 8, 64, 64), np.uint8))  # TensorFlow's pipeline started before the baseline
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
iterate(read_feature_table({str(tmp_path / "features.parquet")!r}).pixels)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before) / {table_bytes})
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "workflow")})
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.split()[-1]) < 2.5


def test_under_the_seed_protocol_experiments_that_keep_different_recordings_test_the_same_half():
    """The test halves are drawn once over the manifest: an experiment that lost some recordings
    tests the same recordings as one that kept them all, less those it lost (a draw over what each
    kept would put others in its half)."""
    meta, _, geometry = make_data(per_session=40)
    params = {**FAST, "protocol": "seed", "epochs": 1}
    _, everything, _ = train_fold(meta, geometry, "label", "2", params, manifest=meta)
    lost = meta.recording.isin(meta.recording[meta.session == "2"].iloc[::7])
    _, fewer, _ = train_fold(meta[~lost].reset_index(drop=True), geometry[~lost.to_numpy()], "label", "2", params,
                             manifest=meta)
    assert set(fewer.recording) == set(everything.recording) - set(meta.recording[lost])
    _, drawn_over_kept, _ = train_fold(meta[~lost].reset_index(drop=True), geometry[~lost.to_numpy()], "label", "2",
                                       params)
    assert set(drawn_over_kept.recording) != set(fewer.recording)
    # half of the session's 40, stratified by label: 4 of each of its 5 labels, 4 of them in classes
    assert len(everything) == 16 and everything.y_true.value_counts().tolist() == [4] * 4
