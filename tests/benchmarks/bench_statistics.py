"""Time the summary (intervals, tests, comparison) at the demo's or the seed's scale, with repeats.

MSP-IMPROV as the seed used it: 7,756 recordings of 12 speakers in 6 sessions, 3 targets
(4, 3 and 3 classes), leave-one-session-out; the demo: 300 recordings. Simulated predictions are
written as train_fold writes them (one block of rows per repeat), then read and summarised with
every table and the plot, as the rule does.
Run: PYTHONPATH=workflow python tests/benchmarks/bench_statistics.py [--experiments N] [--repeats R]
[--recordings 300]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from facemotion.evaluation.summary import results_from_files, write_summary

CLASSES = {"label": ["Angry", "Happy", "Neutral", "Sad"], "activation": ["low", "medium", "high"],
           "valence": ["negative", "neutral", "positive"]}
SESSIONS = 6


def write_experiment(folder: Path, rng: np.random.Generator, accuracy: float, recordings: int, repeats: int) -> dict:
    session = np.arange(recordings) % SESSIONS + 1
    speaker = np.char.add(np.char.add("S", session.astype(str)), np.where(np.arange(recordings) % 12 < 6, "F", "M"))
    files = {}
    for target, classes in CLASSES.items():
        true = rng.integers(0, len(classes), recordings)
        for fold in range(1, SESSIONS + 1):
            rows = session == fold
            frames = []
            for repeat in range(repeats):
                right = rng.random(rows.sum()) < accuracy
                predicted = np.where(right, true[rows], rng.integers(0, len(classes), rows.sum()))
                frame = pd.DataFrame({"recording": np.char.add("r", np.flatnonzero(rows).astype(str)),
                                      "session": str(fold), "speaker": speaker[rows],
                                      "y_true": np.array(classes)[true[rows]],
                                      "y_pred": np.array(classes)[predicted]})
                for c in classes:
                    frame[f"p_{c}"] = 1.0 / len(classes)
                frames.append(frame.assign(repeat=repeat))
            frame = pd.concat(frames)
            folder.mkdir(parents=True, exist_ok=True)
            predictions, info = folder / f"{target}_{fold}.tsv", folder / f"{target}_{fold}.info.json"
            frame.to_csv(predictions, sep="\t", index=False, float_format="%.6f")
            info.write_text(json.dumps({"train_class_counts": [100] * len(classes)}))
            files[(target, str(fold))] = (str(predictions), str(info))
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=2, help="experiments compared (the first is the reference)")
    parser.add_argument("--resamples", type=int, default=2000, help="permutations of p_chance")
    parser.add_argument("--recordings", type=int, default=7756, help="7756: the seed's MSP-IMPROV; 300: the demo")
    parser.add_argument("--repeats", type=int, default=1, help="training repeats per fold")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        experiments = {f"e{i}": write_experiment(tmp / f"e{i}", rng, 0.3 + 0.05 * i, args.recordings, args.repeats)
                       for i in range(args.experiments)}
        start = time.perf_counter()
        results = {name: results_from_files(files) for name, files in experiments.items()}
        summary = write_summary(results, tmp / "summary.tsv", tmp / "speakers.tsv", tmp / "comparison.tsv",
                                args.resamples, seed=0)
        elapsed = time.perf_counter() - start
    print(f"{args.experiments} experiment(s) x {len(CLASSES)} targets x {args.recordings} recordings x "
          f"{args.repeats} repeat(s), {args.resamples} permutations: {elapsed:.1f} s "
          f"({elapsed / args.experiments:.1f} s per experiment; reading, comparison and plot included)")
    columns = ["experiment", "target", "uar", "uar_ci_low", "uar_ci_high", "uar_repeat_sd", "p_chance",
               "p_chance_speakers"]
    print(summary[columns].round(3).to_string(index=False))


if __name__ == "__main__":
    main()
