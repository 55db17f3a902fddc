"""Training benchmarks (run by hand, not collected by pytest); prints a table.

  (a) throughput of the project's training loop (uint8 batches from a prefetching tf.data
      pipeline, z-scored inside the model) vs a bare model.fit on in-memory, pre-normalised
      float32 arrays: same model, batch size, threads, device;
  (b) peak RSS of one train_fold job at the seed's scale (7,756 x 8 x 100 x 100 uint8);
  (c) seed-CNN training samples/s on this device (from (a)) and the projected time of the
      seed's 18 trainings (3 targets x 6 sessions, 10 epochs on 5/6 of 7,756 recordings each);
  (d) whether training twice with the same seed gives bit-identical weights on this device;
  (e) with --candidates: the training loop against candidate speed-ups (XLA compilation of the step,
      several steps per call, oneDNN off, one thread), in alternating rounds, each with its
      samples/s, GFLOP/s against this machine's FMA peak, and whether its weights after training
      are bit-identical to the loop's as it is.

Every measurement runs in its own subprocess, so TensorFlow's thread pools, the GPU memory and
the peak RSS belong to that measurement alone. `--device gpu` needs the GPU environment
(envs/requirements-gpu.txt) and stops, naming the cause, where TensorFlow cannot use a GPU.

    .venv/bin/python tests/benchmarks/bench_training.py                 # everything (~6 min, 2 cores)
    .venv/bin/python tests/benchmarks/bench_training.py --device gpu    # on a GPU node
    .venv/bin/python tests/benchmarks/bench_training.py --skip-memory --n-throughput 512
    .venv/bin/python tests/benchmarks/bench_training.py --skip-throughput --n-memory 2000
    .venv/bin/python tests/benchmarks/bench_training.py --candidates --rounds 3 --epochs 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow"))

SEED_CLASS_SHARES = {"Angry": 791, "Happy": 2622, "Neutral": 3458, "Sad": 885}
SEED_RECORDINGS = sum(SEED_CLASS_SHARES.values())  # 7,756
SEED_TRAININGS = 18  # 3 targets x 6 sessions
SEED_EPOCHS = 10
SEED_TRAIN_RECORDINGS = SEED_RECORDINGS * 5 // 6  # all sessions but the held-out one


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
    """Wall and process CPU time per epoch (epoch 1 includes tracing, so it is reported
    separately). CPU time says more than wall time on a machine shared with other work."""

    def __new__(cls):
        import keras

        class _Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.seconds, self.cpu_seconds = [], []

            def on_epoch_begin(self, epoch, logs=None):
                self._t, self._cpu = time.perf_counter(), time.process_time()

            def on_epoch_end(self, epoch, logs=None):
                self.seconds.append(time.perf_counter() - self._t)
                self.cpu_seconds.append(time.process_time() - self._cpu)

        return _Timer()


# (e): name -> (keras compile options, environment of the worker, threads instead of --threads).
# "epoch": as many steps per call as an epoch has. The project enables TensorFlow's op determinism
# (bit-identical reruns), under which Keras turns XLA off; "jit_compile" alone is the loop as it is.
CANDIDATES = {
    "as it is": ({}, {}, None),
    "XLA, determinism off": ({"jit_compile": True}, {"DETERMINISM": "off"}, None),
    "an epoch per call": ({"steps_per_execution": "epoch"}, {}, None),
    "oneDNN off": ({}, {"TF_ENABLE_ONEDNN_OPTS": "0"}, None),
    "1 thread": ({}, {}, 1),
}


def training_flops_per_sample(model) -> float:
    """Multiply-adds x 2 of one training step per sample: the forward pass, the weights' gradients
    (as many as the forward pass) and the inputs' gradients (the same again, but the first layer's)."""
    forward = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            _, height, width, filters = layer.output.shape
            kh, kw = layer.kernel_size
            forward.append(height * width * filters * kh * kw * layer.input.shape[-1])
        elif kind == "Dense":
            forward.append(layer.input.shape[-1] * layer.units)
    macs = 2 * sum(forward) + sum(forward[1:])
    return 2.0 * macs


def fma_peak_gflops(threads: int) -> tuple[float, str]:
    """The machine's fp32 FMA peak for ``threads`` cores at the nominal clock /proc/cpuinfo gives."""
    info = Path("/proc/cpuinfo").read_text()
    flags = set(next(line for line in info.splitlines() if line.startswith("flags")).split())
    mhz = float(next(line for line in info.splitlines() if line.startswith("cpu MHz")).split(":")[1])
    # Two FMA units per core: AVX-512 16 floats, AVX2 8; an FMA is 2 FLOP.
    width = 16 if "avx512f" in flags else 8 if "fma" in flags else 4
    per_cycle = 2 * width * 2
    return threads * per_cycle * mhz / 1000, f"{threads} x {per_cycle} FLOP/cycle x {mhz:.0f} MHz"


def gpus(args) -> int:
    return 1 if args.device == "gpu" else 0


def start_tensorflow(args, seed=0) -> str:
    from facemotion.learning.device import select_device
    from facemotion.learning.fitting import configure_tensorflow

    device = select_device(gpus(args))  # before TensorFlow initialises: a CPU run hides the GPUs
    configure_tensorflow(args.threads, seed=seed)
    return device


def worker_throughput(args, mode: str) -> dict:
    import hashlib

    import keras
    from facemotion.learning.fitting import batch_dataset, batches_per_epoch, fit_normalisation
    from facemotion.learning.model import standardised_model
    from facemotion.learning.networks import build_model, compile_model
    from facemotion.learning.tasks import balanced_class_weights

    device = start_tensorflow(args)
    n = args.n_throughput
    pixels = make_pixels(n, args.frames, args.size)
    y = np.random.default_rng(1).integers(0, 4, n)
    cw = balanced_class_weights(y, 4)
    weights = np.array([cw[c] for c in y], np.float32)
    rows = np.arange(n)
    stats = fit_normalisation(pixels, rows)
    keras.config.set_dtype_policy(args.precision)
    network = build_model("seed_cnn", pixels.shape[1:], 4)
    timer = EpochTimer()
    if mode == "ours" or mode in CANDIDATES:
        model = compile_model(standardised_model(network, stats, "pixels", pixels.shape[1:]), "adam", 1e-4)
        options = dict(CANDIDATES.get(mode, ({},))[0])
        if options.get("steps_per_execution") == "epoch":
            options["steps_per_execution"] = batches_per_epoch(n, args.batch_size)
        if os.environ.get("DETERMINISM") == "off":
            from tensorflow.python.framework import config

            config.disable_op_determinism()
        if options:  # compiled again with the candidate's options, the same optimizer and loss
            model.compile(optimizer=model.optimizer, loss=model.loss, weighted_metrics=["accuracy"], **options)
        data = batch_dataset(pixels, rows, args.batch_size, args.epochs, y=y, weights=weights, shuffle_seed=0)
        model.fit(data, epochs=args.epochs, steps_per_epoch=batches_per_epoch(n, args.batch_size), shuffle=False,
                  verbose=0, callbacks=[timer])
    else:  # bare keras: everything pre-normalised in float32 memory
        model = compile_model(network, "adam", 1e-4)
        x = ((pixels.transpose(0, 2, 3, 1).astype(np.float32) - stats["mean"]) / stats["std"])
        model.fit(x, y, sample_weight=weights, batch_size=args.batch_size, epochs=args.epochs,
                  shuffle=True, verbose=0, callbacks=[timer])
    steady = timer.seconds[1:] or timer.seconds
    steady_cpu = timer.cpu_seconds[1:] or timer.cpu_seconds
    return {
        "mode": mode,
        "device": device,
        "first_epoch_s": timer.seconds[0],
        "samples_per_s": n / float(np.mean(steady)),
        "samples_per_cpu_s": n / float(np.mean(steady_cpu)),
        "peak_rss_mb": peak_rss_mb(),
        "gflop_per_sample": training_flops_per_sample(network) / 1e9,
        "weights_sha256": hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest(),
    }


def worker_repeat(args) -> dict:
    """Train the same small fold twice with the same seed; compare the weights bit for bit."""
    from facemotion.learning.fitting import train_fold

    n = args.n_repeat
    pixels, meta = make_pixels(n, args.frames, args.size), make_meta(n)
    params = {"classes": list(SEED_CLASS_SHARES), "epochs": 2, "batch_size": args.batch_size,
              "threads": args.threads, "gpus": gpus(args), "precision": args.precision, "verbose": 0}
    runs = [train_fold(meta, pixels, "label", "1", params) for _ in range(2)]
    first, second = (run[0].get_weights() for run in runs)
    return {
        "device": runs[0][2]["device"],
        "identical": all(np.array_equal(a, b) for a, b in zip(first, second)),
        "max_abs_difference": max(float(np.max(np.abs(a - b))) for a, b in zip(first, second)),
    }


def worker_memory(args) -> dict:
    import psutil
    from facemotion.learning.fitting import train_fold

    t0 = time.perf_counter()
    n = args.n_memory
    pixels = make_pixels(n, args.frames, args.size)
    meta = make_meta(n)
    data_s = time.perf_counter() - t0
    rss_data = peak_rss_mb()
    params = {
        "classes": list(SEED_CLASS_SHARES), "epochs": 1, "protocol": args.protocol,
        "batch_size": args.batch_size, "threads": args.threads, "gpus": gpus(args),
        "precision": args.precision, "verbose": 0,
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
        # What a workflow job spends: from process start (imports included), less making the data.
        "job_s": time.time() - psutil.Process().create_time() - data_s,
    }


def run_worker(name: str, argv: list[str], env: dict | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", name, *argv]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, **(env or {})})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    ap.add_argument("--precision", choices=["float32", "mixed_float16", "mixed_bfloat16"], default="float32")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--n-throughput", type=int, help="recordings for (a)/(c); default 1024 (cpu), 7756 (gpu)")
    ap.add_argument("--epochs", type=int, default=3, help="epochs for (a)/(c); the first is excluded")
    ap.add_argument("--n-repeat", type=int, default=512, help="recordings for (d)")
    ap.add_argument("--rounds", type=int, default=1, help="alternating ours/bare runs of (a); medians are printed")
    ap.add_argument("--n-memory", type=int, default=7756, help="recordings for (b)")
    ap.add_argument("--protocol", default="loso", choices=["loso", "seed"])
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-repeat", action="store_true")
    ap.add_argument("--candidates", action="store_true", help="(e) only: candidate speed-ups against the loop")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args, _ = ap.parse_known_args()
    if args.n_throughput is None:
        args.n_throughput = 1024 if args.device == "cpu" else SEED_RECORDINGS

    if args.worker:
        workers = {"memory": worker_memory, "repeat": worker_repeat}
        result = workers[args.worker](args) if args.worker in workers else worker_throughput(args, args.worker)
        print(json.dumps(result))
        return

    argv = sys.argv[1:]
    if args.candidates:
        candidates(args, argv)
        return
    print(f"device={args.device} precision={args.precision} threads={args.threads} batch={args.batch_size} "
          f"input={args.frames}x{args.size}x{args.size}")
    if not args.skip_throughput:
        # The order alternates from round to round, so that neither loop always runs first.
        rounds = []
        for round_number in range(args.rounds):
            order = ("ours", "bare") if round_number % 2 == 0 else ("bare", "ours")
            runs = {mode: run_worker(mode, argv) for mode in order}
            rounds.append((runs["ours"], runs["bare"]))
        measured = ("samples_per_s", "samples_per_cpu_s", "first_epoch_s", "peak_rss_mb")
        ours, bare = (
            {**runs[0], **{key: float(np.median([r[key] for r in runs])) for key in measured}}
            for runs in zip(*rounds)
        )
        ratios = [o["samples_per_s"] / b["samples_per_s"] for o, b in rounds]
        cpu_ratios = [o["samples_per_cpu_s"] / b["samples_per_cpu_s"] for o, b in rounds]
        print(f"\n(a)/(c) seed CNN training throughput on {ours['device']}, {args.n_throughput} recordings, "
              f"mean of epochs 2..{args.epochs}")
        print(f"{'loop':<40}{'samples/s':>10}{'samples/CPU-s':>14}{'epoch 1 s':>11}{'peak RSS MB':>13}")
        for r, label in ((ours, "ours (uint8 tf.data, z-score in model)"), (bare, "bare fit (float32 in memory)")):
            print(f"{label:<40}{r['samples_per_s']:>10.1f}{r['samples_per_cpu_s']:>14.1f}{r['first_epoch_s']:>11.1f}"
                  f"{r['peak_rss_mb']:>13.0f}")
        print(f"ratio ours/bare: {np.median(ratios):.3f} (median of {args.rounds} alternating rounds: "
              f"{', '.join(f'{r:.3f}' for r in ratios)}; target >= 0.95); per CPU second: {np.median(cpu_ratios):.3f} "
              f"({', '.join(f'{r:.3f}' for r in cpu_ratios)})")
        samples = SEED_TRAININGS * SEED_EPOCHS * SEED_TRAIN_RECORDINGS
        print(f"projected seed's {SEED_TRAININGS} trainings ({SEED_TRAININGS} x {SEED_EPOCHS} epochs x "
              f"{SEED_TRAIN_RECORDINGS} recordings, training steps only): "
              f"{samples / ours['samples_per_s'] / 60:.1f} min (goal on one data-centre GPU: <= 5 min)")
    if not args.skip_memory:
        m = run_worker("memory", argv)
        print(f"\n(b) one train_fold job ({args.protocol}, 1 epoch), {m['n']} recordings "
              f"({m['data_mb']:.0f} MB uint8)")
        print(f"{'train/val/test':<28}{m['n_train']}/{m['n_val']}/{m['n_test']}")
        print(f"{'RSS after generating data':<28}{m['rss_after_data_mb']:.0f} MB")
        print(f"{'peak RSS':<28}{m['peak_rss_mb']:.0f} MB (target <= 3072)")
        print(f"{'fit (1 epoch + val scoring)':<28}{m['fit_s']:.0f} s = {m['fit_samples_per_s']:.1f} samples/s")
        print(f"{'whole job':<28}{m['total_s']:.0f} s")
        if m["n"] == SEED_RECORDINGS and args.protocol == "loso":
            # Each further epoch costs at most what the first did (which includes tracing).
            projected = SEED_TRAININGS * (m["job_s"] + (SEED_EPOCHS - 1) * m["fit_s"])
            print(f"projected seed's {SEED_TRAININGS} trainings, one after another, from this job "
                  f"({SEED_TRAININGS} x (job {m['job_s']:.0f} s without making the data + {SEED_EPOCHS - 1} x "
                  f"epoch {m['fit_s']:.0f} s)): {projected / 60:.1f} min")
    if not args.skip_repeat:
        r = run_worker("repeat", argv)
        print(f"\n(d) the same fold trained twice ({args.n_repeat} recordings, 2 epochs, same seed) on {r['device']}: "
              f"{'bit-identical' if r['identical'] else 'NOT bit-identical'} weights "
              f"(largest difference {r['max_abs_difference']:.3g})")


def candidates(args, argv: list[str]) -> None:
    """(e): every candidate once per round, the order rotating from round to round."""
    names = list(CANDIDATES)
    results = {name: [] for name in names}
    for round_number in range(args.rounds):
        for name in names[round_number % len(names):] + names[: round_number % len(names)]:
            _, env, threads = CANDIDATES[name]
            worker_argv = [*argv, "--threads", str(threads)] if threads else argv
            results[name].append(run_worker(name, worker_argv, env))
    base = results["as it is"]
    print(f"(e) candidate speed-ups, seed CNN {args.frames}x{args.size}x{args.size}, batch {args.batch_size}, "
          f"{args.n_throughput} recordings, epochs 2..{args.epochs}, {args.rounds} rounds (medians; ratio: per round "
          f"against the loop as it is)")
    flop = base[0]["gflop_per_sample"]
    print(f"training: {flop:.3f} GFLOP per sample (forward, weight and input gradients)")
    print(f"{'candidate':<22}{'samples/s':>10}{'GFLOP/s':>9}{'% of peak':>10}{'ratio':>7}{'samples/CPU-s':>14}"
          f"{'ratio':>7}  weights")
    for name in names:
        runs = results[name]
        threads = CANDIDATES[name][2] or args.threads
        peak, how = fma_peak_gflops(threads)
        speed = float(np.median([r["samples_per_s"] for r in runs]))
        cpu = float(np.median([r["samples_per_cpu_s"] for r in runs]))
        ratio = float(np.median([r["samples_per_s"] / b["samples_per_s"] for r, b in zip(runs, base)]))
        cpu_ratio = float(np.median([r["samples_per_cpu_s"] / b["samples_per_cpu_s"] for r, b in zip(runs, base)]))
        same = all(r["weights_sha256"] == b["weights_sha256"] for r, b in zip(runs, base))
        print(f"{name:<22}{speed:>10.1f}{speed * flop:>9.1f}{100 * speed * flop / peak:>9.0f}%{ratio:>7.2f}"
              f"{cpu:>14.1f}{cpu_ratio:>7.2f}  {'bit-identical' if same else 'differ'}  (peak {peak:.0f}: {how})")


if __name__ == "__main__":
    main()
