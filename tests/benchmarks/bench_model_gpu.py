"""Seed-CNN training throughput under Keras 3 on whichever backend is there, and the minutes that
throughput gives for the seed's trainings and the benchmark corpora (run by hand, not collected by
pytest).

What it measures: ``model.fit`` of the project's own network, built as training does it
(``facemotion.learning.networks.seed_cnn`` behind ``facemotion.learning.model.standardised_model``, compiled by
``facemotion.learning.networks.compile_model``: adam, learning rate 1e-4, sparse categorical cross-entropy,
accuracy weighted by per-sample class weights, "balanced" as the project computes them), on
random uint8 pixels of the seed's shape (n_frames x face_size x face_size, z-scored inside the
model), batch size 128, float32. Batches come from in-memory NumPy arrays through Keras' own
adapter (shuffled each epoch). One warm-up epoch (tracing, compilation) is left out; the table
gives samples/s of the timed epochs, training steps only.

What it does not measure: the project's ``tf.data`` pipeline and TensorFlow itself (on a machine
without TensorFlow, Keras runs on JAX or PyTorch here; ``bench_training.py --device gpu`` is the
TensorFlow benchmark), the validation scoring after each epoch, start-up, the z-score statistics,
prediction, or the accuracy of anything (the labels are random). The projections are training
steps only: samples x epochs / (samples/s).

    KERAS_BACKEND=jax python3 tests/benchmarks/bench_model_gpu.py --n 8192 --epochs 4
    KERAS_BACKEND=tensorflow .venv/bin/python tests/benchmarks/bench_model_gpu.py --n 256 --epochs 2
    ... --float32          # pre-z-scored float32 arrays in, the Standardise layer left out
    ... --precision mixed_bfloat16

On a GPU machine with JAX but without TensorFlow, Keras 3 needs only its own wheels besides what
such images hold (numpy, h5py, ml-dtypes, absl-py, rich, packaging): keras==3.15.1 (as pinned in
envs/requirements.txt), namex and optree, installed with ``pip install --no-deps --target``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow"))

SEED_CLASS_SHARES = (791, 2622, 3458, 885)  # Angry, Happy, Neutral, Sad: the seed's 7,756 recordings
SEED_EPOCHS = 10  # config/seed.yaml training.epochs
# (name, trainings, epochs each, training samples each, note)
WORKLOADS = (
    ("seed (MSP-IMPROV)", 18, SEED_EPOCHS, 6463, "3 targets x 6 sessions, 1 repeat"),
    ("seed, repeats 5", 90, SEED_EPOCHS, 6463, "config/seed.yaml: 5 models per fold"),
    ("DFEW", 5, SEED_EPOCHS, 9358, "label, 5 folds of 11,697 clips"),
    ("FERV39k", 1, SEED_EPOCHS, 31088, "label, the training split"),
)
PIXEL_MEAN, PIXEL_STD = 127.5, 73.9  # of uniform random uint8


def device_lines(backend: str) -> list[str]:
    """The devices the backend computes on, in words."""
    if backend == "jax":
        import jax

        return [f"jax {jax.__version__}: {jax.devices()}", f"default backend: {jax.default_backend()}"]
    if backend == "tensorflow":
        import tensorflow as tf

        return [f"tensorflow {tf.__version__}: GPUs {tf.config.list_physical_devices('GPU')}",
                f"CPUs {tf.config.list_physical_devices('CPU')}"]
    if backend == "torch":
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
        return [f"torch {torch.__version__}: CUDA GPU {gpu}"]
    return [f"backend {backend}: device not queried"]


def make_data(n: int, n_frames: int, size: int, n_classes: int, seed: int = 0):
    """Random uint8 pixels (n, n_frames, size, size), labels in the seed's class shares and the
    per-sample "balanced" class weights (n_samples / (n_classes x count)) training gives them."""
    rng = np.random.default_rng(seed)
    x = np.empty((n, n_frames, size, size), np.uint8)
    for start in range(0, n, 512):
        stop = min(n, start + 512)
        x[start:stop] = rng.integers(0, 256, (stop - start, n_frames, size, size), np.uint8)
    shares = np.resize(np.asarray(SEED_CLASS_SHARES, float), n_classes)
    y = rng.choice(n_classes, n, p=shares / shares.sum()).astype(np.int64)
    counts = np.bincount(y, minlength=n_classes)
    class_weight = np.where(counts > 0, n / (n_classes * np.maximum(counts, 1)), 0.0)
    return x, y, class_weight[y].astype(np.float32)


def build(args):
    """The project's model and compilation, as facemotion.learning.fitting.fit makes them."""
    import keras
    from facemotion.learning.networks import compile_model, seed_cnn

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(args.precision)
    try:
        core = seed_cnn(args.n_frames, args.face_size, args.classes)
        if args.float32:
            model = core
        else:
            from facemotion.learning.model import standardised_model

            stats = {"mode": "global", "mean": np.float32(PIXEL_MEAN), "std": np.float32(PIXEL_STD)}
            model = standardised_model(core, stats, "pixels", (args.n_frames, args.face_size, args.face_size))
    finally:
        keras.config.set_dtype_policy(previous)
    return compile_model(model, "adam", 1e-4)


class EpochTimes:
    def __new__(cls):
        import keras

        class _EpochTimes(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.seconds = []

            def on_epoch_begin(self, epoch, logs=None):
                self._start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):  # logs hold Python floats: the device is done
                self.seconds.append(time.perf_counter() - self._start)

        return _EpochTimes()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=4096, help="training samples per epoch")
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs, after one warm-up epoch")
    ap.add_argument("--face-size", type=int, default=100, help="the seed's: 100")
    ap.add_argument("--n-frames", type=int, default=8, help="the seed's: 8")
    ap.add_argument("--batch-size", type=int, default=128, help="the seed's: 128")
    ap.add_argument("--classes", type=int, default=4, help="the seed's: 4")
    ap.add_argument("--precision", default="float32", choices=("float32", "mixed_float16", "mixed_bfloat16"))
    ap.add_argument("--float32", action="store_true",
                    help="feed float32 arrays z-scored beforehand (no Standardise layer) instead of uint8")
    args = ap.parse_args(argv)

    import keras

    backend = keras.backend.backend()
    print(f"python {platform.python_version()}, keras {keras.__version__}, backend {backend}")
    for line in device_lines(backend):
        print(line)
    keras.utils.set_random_seed(0)
    x, y, weights = make_data(args.n, args.n_frames, args.face_size, args.classes)
    if args.float32:
        x = ((x.transpose(0, 2, 3, 1).astype(np.float32) - PIXEL_MEAN) / PIXEL_STD)
    model = build(args)
    print(f"model {model.name}: {model.count_params():,} parameters, input {model.input_shape} "
          f"{'float32 z-scored' if args.float32 else 'uint8, z-scored in the model'}, "
          f"precision {args.precision}, batch {args.batch_size}, {args.n:,} samples per epoch")

    started = time.perf_counter()
    model.fit(x, y, sample_weight=weights, batch_size=args.batch_size, epochs=1, verbose=0)
    warmup = time.perf_counter() - started
    timer = EpochTimes()
    started = time.perf_counter()
    history = model.fit(x, y, sample_weight=weights, batch_size=args.batch_size, epochs=args.epochs,
                        verbose=0, callbacks=[timer])
    seconds = time.perf_counter() - started
    rate = args.n * args.epochs / seconds
    per_epoch = ", ".join(f"{s:.2f}" for s in timer.seconds)
    print(f"warm-up epoch {warmup:.2f} s; timed epochs {per_epoch} s; loss {history.history['loss'][-1]:.4f}")
    print(f"throughput: {rate:,.0f} samples/s ({args.epochs} epochs x {args.n:,} in {seconds:.2f} s)"
          f"; fastest epoch {args.n / min(timer.seconds):,.0f} samples/s")
    print()
    print(f"projected training time at {rate:,.0f} samples/s (training steps only; face {args.face_size}, "
          f"{args.n_frames} frames)")
    print(f"{'workload':<20} {'trainings':>9} {'epochs':>6} {'samples':>8} {'minutes':>9}  note")
    for name, trainings, epochs, samples, note in WORKLOADS:
        minutes = trainings * epochs * samples / rate / 60
        print(f"{name:<20} {trainings:>9} {epochs:>6} {samples:>8,} {minutes:>9.2f}  {note}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
