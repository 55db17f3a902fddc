"""Peak memory of one training job against the bytes of the feature rows it trains and validates on.

For each corpus size and face size a synthetic feature table (random pixels, the seed's class
shares, 6 sessions) is written in the project's format; then one job does what rule train_fold
does (reads the table with read_feature_table, trains label with session 1 held out under loso,
predicts the held-out session), in a fresh process, and reports its peak RSS. Training stops after
a few steps (the pipeline, the model and the epoch's scoring of the validation session are all
there: what scales with the corpus is the data), so the benchmark takes minutes, not hours.

    .venv/bin/python tests/benchmarks/bench_training_memory.py                     # 2,000 / 7,756 / 38,935 x 64 / 112
    .venv/bin/python tests/benchmarks/bench_training_memory.py --sizes 300 2000 --faces 64

The fixed amount is the peak of the smallest run less its table's bytes (Python, TensorFlow,
the model); the ratio is (peak - fixed) / bytes of the training and validation rows.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow"))

CLASS_SHARES = {"Angry": 791, "Happy": 2622, "Neutral": 3458, "Sad": 885}  # the seed corpus's
SESSIONS = 6
STEPS = 8  # training steps before the job stops training


def write_table(path: Path, n: int, face: int, frames: int = 8) -> int:
    """A feature table of ``n`` recordings of random ``face`` x ``face`` crops; returns its pixel bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from facemotion.extraction import feature_table as ft

    meta = {"format_version": ft.FORMAT_VERSION, "features": "pixels", "n_frames": frames, "face_size": face,
            "settings": {"features": "pixels", "n_frames": frames, "face_size": face}, "libraries": {},
            "fingerprint": "benchmark"}
    schema = ft._schema(meta)
    rng = np.random.default_rng(0)
    names = list(CLASS_SHARES)
    shares = np.array(list(CLASS_SHARES.values())) / sum(CLASS_SHARES.values())
    row_bytes = frames * face * face
    with pq.ParquetWriter(path, schema, compression=ft.COMPRESSION) as writer:
        for start in range(0, n, ft.ROW_GROUP_ROWS):
            ids = range(start, min(n, start + ft.ROW_GROUP_ROWS))
            k = len(ids)
            pixels = rng.integers(0, 256, (k, row_bytes), np.uint8)
            columns = {
                "recording": [f"rec{i:06d}" for i in ids],
                "speaker": [f"spk{i % (2 * SESSIONS):02d}" for i in ids],
                "session": [str(1 + i % SESSIONS) for i in ids],
                "label": list(rng.choice(names, k, p=shares)),
                "activation": rng.uniform(1, 5, k),
                "valence": rng.uniform(1, 5, k),
                "frame_index": [list(range(frames))] * k,
                "pixels": pa.FixedSizeBinaryArray.from_buffers(pa.binary(row_bytes), k, [None, pa.py_buffer(pixels)]),
            }
            writer.write_table(pa.table(columns, schema=schema))
    return n * row_bytes


def job(table: str) -> dict:
    """One training job as rule train_fold runs it (its imports, the table read, train_fold)."""
    started = time.perf_counter()
    from facemotion.extraction.feature_table import model_input, read_feature_table

    data = read_feature_table(table)
    after_read = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    import keras
    from facemotion.learning.fitting import train_fold

    class StopAfter(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch + 1 >= STEPS:
                self.model.stop_training = True

    fit = keras.Model.fit
    keras.Model.fit = lambda self, *a, callbacks=(), **k: fit(self, *a, callbacks=[*callbacks, StopAfter()], **k)
    params = {"classes": list(CLASS_SHARES), "epochs": 1, "batch_size": 128, "threads": 2, "verbose": 0,
              "learning_rate": 1e-4}
    _, predictions, info = train_fold(data.meta, model_input(data, "pixels"), "label", "1", params)
    return {"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "after_read_mb": after_read,
            "n_train": info["n_train"], "n_val": info["n_val"], "n_test": len(predictions),
            "seconds": time.perf_counter() - started}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[300, 2000, 7756, 38935])
    ap.add_argument("--faces", type=int, nargs="+", default=[64, 112])
    ap.add_argument("--job", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.job:
        print(json.dumps(job(args.job)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for face in args.faces:
            for n in args.sizes:
                path = Path(folder) / f"features_{n}_{face}.parquet"
                table_bytes = write_table(path, n, face)
                out = subprocess.run([sys.executable, __file__, "--job", str(path)], check=True, capture_output=True,
                                     text=True)
                path.unlink()
                result = json.loads(out.stdout.strip().splitlines()[-1])
                row_bytes = table_bytes / n
                rows.append({"n": n, "face": face, "table_mb": table_bytes / 2**20,
                             "train_val_mb": (result["n_train"] + result["n_val"]) * row_bytes / 2**20, **result})
                print(json.dumps(rows[-1]), flush=True)
    print(f"\n{'recordings':>10s} {'face':>4s} {'table MB':>9s} {'train+val MB':>12s} {'peak MB':>8s} "
          f"{'(peak - fixed) / train+val':>27s} {'s':>6s}")
    for face in args.faces:
        same = [r for r in rows if r["face"] == face]
        smallest = min(same, key=lambda r: r["n"])
        fixed = smallest["peak_mb"] - smallest["table_mb"]
        for r in same:
            ratio = (r["peak_mb"] - fixed) / r["train_val_mb"]
            print(f"{r['n']:10,d} {face:4d} {r['table_mb']:9.0f} {r['train_val_mb']:12.0f} {r['peak_mb']:8.0f} "
                  f"{ratio:27.2f} {r['seconds']:6.0f}")
        print(f"fixed amount (face {face}): {fixed:.0f} MB, the {smallest['n']}-recording run's peak less its table")


if __name__ == "__main__":
    main()
