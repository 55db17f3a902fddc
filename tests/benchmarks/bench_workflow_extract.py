"""Extraction through the workflow against the same extraction in one process (run by hand).

    .venv/bin/python tests/benchmarks/bench_workflow_extract.py [--recordings 1000] [--cores 2]
        [--per-job 125 250] [--rounds 3] [--corpus-dir DIR]

Renders a demo corpus (or reuses the one in --corpus-dir), extracts every recording in this
process (sum of per-recording times), then runs `snakemake --cores N results/features.parquet` on
the same videos (as a tsv corpus, so rendering is not timed; the manifest job, which a full run starts
beside extraction, is not part of that target) from an empty results folder, once per
--per-job value, and prints wall time / (sum / N): the cost of Snakemake, job start-up, batching
and gathering over ideal parallel extraction. Target: at most 1.15 for 1,000 recordings on 2 cores.

Where the difference goes:
- "N processes": the same extraction split over N worker processes with no Snakemake, i.e. what
  the hardware gives when N extractions share the machine (on this 2-vCPU virtual machine that
  varied between 0.95x and 1.14x of sum / N from one minute to the next);
- a breakdown of each workflow run from its outputs' modification times: when the first and the
  last batch finished, and when gathering did.
Every measurement is repeated --rounds times, interleaved (in alternating order), and the
medians are compared.
"""

import argparse
import csv
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow"))

from facemotion.corpora.demo import plan_demo_corpus, render_demo_corpus  # noqa: E402
from facemotion.extraction.extract import extract_recording  # noqa: E402
from facemotion.extraction.settings import ExtractionSettings  # noqa: E402


def _extract_all(paths: list[str]) -> float:
    """Sum of per-recording extraction times over `paths`, in this process."""
    import cv2

    cv2.setNumThreads(1)  # as in the workflow's batch jobs
    settings, total = ExtractionSettings(), 0.0
    for path in paths:
        began = time.perf_counter()
        extract_recording(path, settings)
        total += time.perf_counter() - began
    return total


def _corpus(corpus_dir: Path, recordings: int) -> list[str]:
    """The videos of the corpus the workflow will read: rendered unless `corpus_dir` has one."""
    if not (corpus_dir / "manifest.tsv").exists():
        plan = plan_demo_corpus(recordings, seed=3)
        began = time.perf_counter()
        render_demo_corpus(plan, corpus_dir)
        print(f"rendered {len(plan)} recordings in {time.perf_counter() - began:.1f} s")
    with open(corpus_dir / "manifest.tsv", newline="") as handle:
        paths = [str(corpus_dir / row["path"]) for row in csv.DictReader(handle, delimiter="\t")]
    if len(paths) != recordings:
        sys.exit(f"{corpus_dir} holds {len(paths)} recordings, not --recordings {recordings}")
    return paths


def _run_workflow(workdir: Path, corpus_dir: Path, cores: int, per_job: int | None) -> dict:
    shutil.rmtree(workdir / "results", ignore_errors=True)
    shutil.rmtree(workdir / ".snakemake", ignore_errors=True)
    # Only the corpus is set: every extraction setting is the schema default, as in-process.
    config = {"corpus": {"format": "tsv", "path": str(corpus_dir / "manifest.tsv")}}
    if per_job:
        config["extraction"] = {"recordings_per_job": per_job}
    (workdir / "config.json").write_text(json.dumps(config))
    command = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--directory", str(workdir),
               "results/features.parquet", "--configfile", str(workdir / "config.json")]
    began = time.time()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    ended = time.time()
    if result.returncode:
        sys.exit(result.stdout[-2000:] + result.stderr[-4000:])
    batches = sorted((workdir / "results" / "extraction" / "batches").glob("*.parquet"))
    finished = sorted(path.stat().st_mtime - began for path in batches)
    return {"wall": ended - began, "batches": len(batches), "first_batch_done": finished[0],
            "last_batch_done": finished[-1],
            "gathered": (workdir / "results" / "features.parquet").stat().st_mtime - began}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recordings", type=int, default=1000)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--per-job", type=int, nargs="+", default=[None],
                        help="extraction.recordings_per_job values to run (default: the schema's)")
    parser.add_argument("--rounds", type=int, default=3, help="repeat everything, interleaved; medians compared")
    parser.add_argument("--corpus-dir", type=Path, help="render here once and reuse (default: a temporary folder)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        corpus_dir = (args.corpus_dir or workdir / "corpus").resolve()
        paths = _corpus(corpus_dir, args.recordings)
        ideals, pools, walls = [], [], {per_job: [] for per_job in args.per_job}
        print(f"{'round':>5} {'sum / cores':>11} {'N processes':>11} {'per job':>8} {'batches':>7} "
              f"{'1st batch':>9} {'last batch':>10} {'gathered':>8} {'wall':>6} {'/ ideal':>7} {'/ N proc':>8}")
        for round_ in range(1, args.rounds + 1):
            # Odd rounds: in-process first; even rounds: workflows first. Sustained load on this
            # virtual machine slows what follows it, so neither side always comes second.
            steps = ["serial", "pool", *args.per_job]
            runs = {}
            for step in steps if round_ % 2 else reversed(steps):
                if step == "serial":
                    ideals.append(_extract_all(paths) / args.cores)
                elif step == "pool":
                    began = time.perf_counter()
                    with Pool(args.cores) as pool:
                        pool.map(_extract_all, [paths[k::args.cores] for k in range(args.cores)])
                    pools.append(time.perf_counter() - began)
                else:
                    runs[step] = _run_workflow(workdir, corpus_dir, args.cores, step)
                    walls[step].append(runs[step]["wall"])
            for per_job, run in runs.items():
                print(f"{round_:>5} {ideals[-1]:>10.1f}s {pools[-1]:>10.1f}s {per_job or 'default':>8} "
                      f"{run['batches']:>7} {run['first_batch_done']:>8.1f}s {run['last_batch_done']:>9.1f}s "
                      f"{run['gathered']:>7.1f}s {run['wall']:>5.1f}s {run['wall'] / ideals[-1]:>7.2f} "
                      f"{run['wall'] / pools[-1]:>8.2f}", flush=True)
        ideal, pooled = statistics.median(ideals), statistics.median(pools)
        print(f"medians of {args.rounds} round(s), {len(paths)} recordings: sum / {args.cores} = {ideal:.1f} s, "
              f"{args.cores} processes without Snakemake {pooled:.1f} s ({pooled / ideal:.2f}x)")
        for per_job, times in walls.items():
            wall = statistics.median(times)
            print(f"  per job {per_job or 'default'}: workflow {wall:.1f} s = {wall / ideal:.2f}x sum / "
                  f"{args.cores} (target 1.15), {wall / pooled:.2f}x {args.cores} processes")

if __name__ == "__main__":
    main()
