"""Start-up of the workflow on a corpus of FERV39k's size in FERV39k's layout: 38,935 clips
(31,088 train_All, 7,847 test_All) as frame folders under 2_ClipsforFaceCrop/<Scene>/<Emotion>/<NNNN>/,
read by the ferv39k reader with its split files.

    PYTHONPATH=workflow .venv/bin/python tests/benchmarks/bench_scale.py [--runs 3] [--workdir DIR]

Measures, each the median of --runs: reading the corpus (facemotion.corpora.reading.read_corpus: split files,
their checks, one existence check per clip folder), the whole manifest (build_manifest: that and the
checks against the configuration), and `snakemake -n` (config check, manifest, DAG), as wall time and
as CPU time of the Snakemake process (the steadier figure on a shared machine). Target: under 30 s.

Each clip folder holds one small jpg: the same image, with the clip's name appended after the
image's end marker (decoders ignore it), so no two folders have the same content (a leakage check by
content would otherwise find every clip in both sessions). About 40,000 folders and 40 MB on disk,
made once and reused.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow"))

from facemotion.corpora.reading import build_manifest, read_corpus  # noqa: E402
from tiny_run import validated  # noqa: E402

TRAIN, TEST = 31_088, 7_847  # FERV39k's train_All and test_All
SCENES = ["Action", "Argue", "Business", "Conflict", "Contest", "Crime", "Crisis", "DailyLife", "ElegantArt",
          "Experiment", "History", "Interview", "Liveshow", "Medicine", "OfficialEvent", "ScholarReport", "School",
          "Social", "Speech", "Talkshow", "Terror", "War"]
EMOTIONS = ["Happy", "Sad", "Neutral", "Angry", "Surprise", "Disgust", "Fear"]


def make_corpus(root: Path, train: int, test: int) -> Path:
    """FERV39k's layout with train + test clip folders; kept if already made with these sizes."""
    mark = root / ".made"
    if mark.is_file() and mark.read_text() == f"{train} {test}":
        return root
    image = cv2.imencode(".jpg", np.full((32, 32, 3), 128, np.uint8))[1].tobytes()
    lines = {"train_All.csv": [], "test_All.csv": []}
    for i in range(train + test):
        scene, emotion = SCENES[i % len(SCENES)], EMOTIONS[i // len(SCENES) % len(EMOTIONS)]
        clip = f"{scene}/{emotion}/{i // (len(SCENES) * len(EMOTIONS)) + 1:04d}"
        folder = root / "2_ClipsforFaceCrop" / clip
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "1.jpg").write_bytes(image + clip.encode())
        lines["train_All.csv" if i < train else "test_All.csv"].append(f"{clip} {emotion}")
    setups = root / "4_setups" / "All_scenes"
    setups.mkdir(parents=True, exist_ok=True)
    for name, rows in lines.items():
        (setups / name).write_text("\n".join(rows) + "\n")
    mark.write_text(f"{train} {test}")
    return root


def timed(function, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        began = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--train", type=int, default=TRAIN)
    parser.add_argument("--test", type=int, default=TEST)
    parser.add_argument("--workdir", default="/tmp/facemotion-scale")
    args = parser.parse_args()
    workdir = Path(args.workdir)
    began = time.perf_counter()
    root = make_corpus(workdir / "FERV39k", args.train, args.test)
    print(f"corpus: {args.train + args.test} clip folders at {root} ({time.perf_counter() - began:.1f} s to make "
          "or find)")
    settings = {"corpus": {"format": "ferv39k", "path": str(root)}, "classes": "all"}
    config_file = workdir / "config.yaml"
    config_file.write_text(yaml.safe_dump(settings))

    read, (manifest, _) = timed(lambda: read_corpus("ferv39k", root, ["Happy", "Sad", "Neutral", "Angry",
                                                                      "Surprised", "Disgusted", "Fearful"]), args.runs)
    print(f"read_corpus: {read:.2f} s for {len(manifest)} recordings (median of {args.runs})")
    built, _ = timed(lambda: build_manifest(validated(yaml.safe_load(config_file.read_text()))), args.runs)
    print(f"build_manifest (config check, reading, checks against the config): {built:.2f} s")

    times, cpu = [], []
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for _ in range(args.runs):
        began, used = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        result = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--directory",
                                 str(workdir / "run"), "--configfile", str(config_file)], cwd=ROOT,
                                capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - began)
        now = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime)
        if result.returncode:
            sys.exit(result.stderr[-3000:])
    verdict = "under" if statistics.median(times) < 30 else "OVER"
    print(f"snakemake -n: {statistics.median(times):.2f} s wall ({', '.join(f'{t:.2f}' for t in times)}), "
          f"CPU {statistics.median(cpu):.2f} s ({', '.join(f'{t:.2f}' for t in cpu)}): {verdict} the 30 s target")


if __name__ == "__main__":
    main()
