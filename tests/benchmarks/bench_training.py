"""Training benchmarks (run by hand, not collected by pytest); prints a table.

  (a) throughput of the project's batch loop (uint8 -> per-batch z-score -> model.fit) vs a bare
      model.fit on in-memory, pre-normalised float32 arrays: same model, batch size, threads;
  (b) peak RSS of one train_fold job at the seed's scale (7,756 x 8 x 100 x 100 uint8);
  (c) seed-CNN training samples/s on this machine (from (a)).

Every measurement runs in its own subprocess, so TensorFlow's thread pools and the peak RSS
belong to that measurement alone.

    .venv/bin/python tests/benchmarks/bench_training.py                 # everything (~5 min, 2 cores)
    .venv/bin/python tests/benchmarks/bench_training.py --skip-memory --n-throughput 512
    .venv/bin/python tests/benchmarks/bench_training.py --skip-throughput --n-memory 2000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow"))

SEED_CLASS_SHARES = {"Angry": 791, "Happy": 2622, "Neutral": 3458, "Sad": 885}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def make_pixels(n, n_frames, size, seed=0):
    rng = np.random.default_rng(seed)
    pixels = np.empty((n, n_frames, size, size), np.uint8)
    for start in range(0, n, 512):  # chunked: no large temporaries
        stop = min(n, start + 512)
        pixels[start:stop] = rng.integers(0, 256, (stop - start, n_frames, size, size), np.uint8)
    return pixels


def make_meta(n, n_sessions=6, seed=0):
    import pandas as pd

    rng = np.random.default_rng(seed)
    names, counts = zip(*SEED_CLASS_SHARES.items())
    labels = rng.choice(names, n, p=np.array(counts) / sum(counts))
    return pd.DataFrame(
        {
            "recording": [f"rec{i:05d}" for i in range(n)],
            "speaker": [f"spk{i % (2 * n_sessions):02d}" for i in range(n)],
            "session": [str(1 + i % n_sessions) for i in range(n)],
            "label": labels,
            "activation": rng.uniform(1, 5, n),
            "valence": rng.uniform(1, 5, n),
            "frame_index": 0,
        }
    )


class EpochTimer:
    """Wall time per epoch (epoch 1 includes tracing, so it is reported separately)."""

    def __new__(cls):
        import keras

        class _Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.seconds = []

            def on_epoch_begin(self, epoch, logs=None):
                self._t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.seconds.append(time.perf_counter() - self._t)

        return _Timer()


def worker_throughput(args, mode: str) -> dict:
    from facemotion.models import build_model, compile_model
    from facemotion.training import (
        BatchSequence,
        balanced_class_weights,
        configure_tensorflow,
        fit_normalisation,
    )

    configure_tensorflow(args.threads, seed=0)
    n = args.n_throughput
    pixels = make_pixels(n, args.frames, args.size)
    y = np.random.default_rng(1).integers(0, 4, n)
    cw = balanced_class_weights(y, 4)
    weights = np.array([cw[c] for c in y], np.float32)
    rows = np.arange(n)
    stats = fit_normalisation(pixels, rows)
    model = build_model("seed_cnn", pixels.shape[1:], 4)
    compile_model(model, "adam", 1e-4)
    timer = EpochTimer()
    if mode == "ours":
        data = BatchSequence(pixels, rows, stats, args.batch_size, y=y, weights=weights, shuffle_seed=0)
        model.fit(data, epochs=args.epochs, shuffle=False, verbose=0, callbacks=[timer])
    else:  # bare keras: everything pre-normalised in float32 memory
        x = ((pixels.transpose(0, 2, 3, 1).astype(np.float32) - stats["mean"]) / stats["std"])
        model.fit(x, y, sample_weight=weights, batch_size=args.batch_size, epochs=args.epochs,
                  shuffle=True, verbose=0, callbacks=[timer])
    steady = timer.seconds[1:] or timer.seconds
    return {
        "mode": mode,
        "first_epoch_s": timer.seconds[0],
        "samples_per_s": n / float(np.mean(steady)),
        "peak_rss_mb": peak_rss_mb(),
    }


def worker_memory(args) -> dict:
    from facemotion.training import train_fold

    t0 = time.perf_counter()
    n = args.n_memory
    pixels = make_pixels(n, args.frames, args.size)
    meta = make_meta(n)
    rss_data = peak_rss_mb()
    params = {
        "classes": list(SEED_CLASS_SHARES), "epochs": 1, "protocol": args.protocol,
        "batch_size": args.batch_size, "threads": args.threads, "verbose": 0,
    }
    _, pred, info = train_fold(meta, pixels, "label", "1", params)
    return {
        "n": n,
        "data_mb": pixels.nbytes / 2**20,
        "rss_after_data_mb": rss_data,
        "peak_rss_mb": peak_rss_mb(),
        "n_train": info["n_train"],
        "n_val": info["n_val"],
        "n_test": len(pred),
        "fit_s": info["fit_seconds"],
        "fit_samples_per_s": info["samples_per_second"],
        "total_s": time.perf_counter() - t0,
    }


def run_worker(name: str, argv: list[str]) -> dict:
    cmd = [sys.executable, __file__, "--worker", name, *argv]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--n-throughput", type=int, default=1024, help="recordings for (a)/(c)")
    ap.add_argument("--epochs", type=int, default=3, help="epochs for (a)/(c); the first is excluded")
    ap.add_argument("--n-memory", type=int, default=7756, help="recordings for (b)")
    ap.add_argument("--protocol", default="loso", choices=["loso", "seed"])
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args, _ = ap.parse_known_args()

    if args.worker:
        result = (
            worker_memory(args) if args.worker == "memory" else worker_throughput(args, args.worker)
        )
        print(json.dumps(result))
        return

    argv = [a for a in sys.argv[1:]]
    print(f"threads={args.threads} batch={args.batch_size} input={args.frames}x{args.size}x{args.size}")
    if not args.skip_throughput:
        ours, bare = run_worker("ours", argv), run_worker("bare", argv)
        print(f"\n(a)/(c) seed CNN training throughput, {args.n_throughput} recordings, "
              f"mean of epochs 2..{args.epochs}")
        print(f"{'loop':<34}{'samples/s':>10}{'epoch 1 s':>11}{'peak RSS MB':>13}")
        for r, label in ((ours, "ours (uint8, per-batch z-score)"), (bare, "bare fit (float32 in memory)")):
            print(f"{label:<34}{r['samples_per_s']:>10.1f}{r['first_epoch_s']:>11.1f}{r['peak_rss_mb']:>13.0f}")
        print(f"ratio ours/bare: {ours['samples_per_s'] / bare['samples_per_s']:.3f} (target >= 0.9)")
    if not args.skip_memory:
        m = run_worker("memory", argv)
        print(f"\n(b) one train_fold job ({args.protocol}, 1 epoch), {m['n']} recordings "
              f"({m['data_mb']:.0f} MB uint8)")
        print(f"{'train/val/test':<28}{m['n_train']}/{m['n_val']}/{m['n_test']}")
        print(f"{'RSS after generating data':<28}{m['rss_after_data_mb']:.0f} MB")
        print(f"{'peak RSS':<28}{m['peak_rss_mb']:.0f} MB (target <= 3072)")
        print(f"{'fit (1 epoch + val scoring)':<28}{m['fit_s']:.0f} s = {m['fit_samples_per_s']:.1f} samples/s")
        print(f"{'whole job':<28}{m['total_s']:.0f} s")


if __name__ == "__main__":
    main()
