"""Time the summary (bootstrap intervals, permutation tests, comparison) at the seed's scale.

MSP-IMPROV as the seed used it: 7,756 recordings of 12 speakers in 6 sessions, 3 targets
(4, 3 and 3 classes), leave-one-session-out. Simulated predictions are written as train_fold
writes them, then ``write_summary`` reads them and writes every table and the plot, as the rule
does. Run: PYTHONPATH=workflow python tests/benchmarks/bench_statistics.py [--experiments N]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from facemotion.summary import write_summary

CLASSES = {"label": ["Angry", "Happy", "Neutral", "Sad"], "activation": ["low", "medium", "high"],
           "valence": ["negative", "neutral", "positive"]}
RECORDINGS, SESSIONS = 7756, 6


def write_experiment(folder: Path, rng: np.random.Generator, accuracy: float) -> dict:
    session = np.arange(RECORDINGS) % SESSIONS + 1
    speaker = np.char.add(np.char.add("S", session.astype(str)), np.where(np.arange(RECORDINGS) % 12 < 6, "F", "M"))
    files = {}
    for target, classes in CLASSES.items():
        true = rng.integers(0, len(classes), RECORDINGS)
        predicted = np.where(rng.random(RECORDINGS) < accuracy, true, rng.integers(0, len(classes), RECORDINGS))
        for fold in range(1, SESSIONS + 1):
            rows = session == fold
            frame = pd.DataFrame({"recording": np.char.add("r", np.flatnonzero(rows).astype(str)),
                                  "session": str(fold), "speaker": speaker[rows],
                                  "y_true": np.array(classes)[true[rows]],
                                  "y_pred": np.array(classes)[predicted[rows]]})
            for c in classes:
                frame[f"p_{c}"] = 1.0 / len(classes)
            folder.mkdir(parents=True, exist_ok=True)
            predictions, info = folder / f"{target}_{fold}.tsv", folder / f"{target}_{fold}.info.json"
            frame.to_csv(predictions, sep="\t", index=False, float_format="%.6f")
            info.write_text(json.dumps({"train_class_counts": [100] * len(classes)}))
            files[(target, str(fold))] = (str(predictions), str(info))
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=2, help="experiments compared (the first is the reference)")
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        experiments = {f"e{i}": write_experiment(tmp / f"e{i}", rng, 0.3 + 0.05 * i) for i in range(args.experiments)}
        start = time.perf_counter()
        summary = write_summary(experiments, tmp / "summary.tsv", tmp / "speakers.tsv", tmp / "comparison.tsv",
                                tmp / "comparison.png", args.resamples, seed=0)
        elapsed = time.perf_counter() - start
    print(f"{args.experiments} experiment(s) x {len(CLASSES)} targets x {RECORDINGS} recordings, "
          f"{args.resamples} resamples: {elapsed:.1f} s "
          f"({elapsed / args.experiments:.1f} s per experiment, comparison and plot included)")
    columns = ["experiment", "target", "uar", "uar_ci_low", "uar_ci_high", "p_chance"]
    print(summary[columns].round(3).to_string(index=False))


if __name__ == "__main__":
    main()
