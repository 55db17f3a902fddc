"""Extraction through the workflow against the same extraction in one process (run by hand).

    .venv/bin/python tests/benchmarks/bench_workflow_extract.py [--recordings 1000] [--cores 2]
        [--per-job 125 250] [--corpus-dir DIR]

Renders a demo corpus (or reuses the one in --corpus-dir), extracts every recording in this
process (sum of per-recording times), then runs `snakemake --cores N gather_features` on the same
videos (as a tsv corpus, so rendering is not timed) from an empty results folder, once per
--per-job value, and prints wall time / (sum / N): the cost of Snakemake, job start-up, batching
and gathering over ideal parallel extraction. Target: at most 1.15 for 1,000 recordings on 2 cores.

Two more lines say where the difference goes:
- "parallel in-process": the same extraction split over N worker processes with no Snakemake,
  i.e. what the hardware gives when N extractions share the machine;
- a breakdown of each workflow run from its outputs' modification times: until the first batch
  finished, the extraction phase, and gathering.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow"))

from facemotion.demo import plan_demo_corpus, render_demo_corpus  # noqa: E402
from facemotion.extract import ExtractionSettings, extract_recording  # noqa: E402


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
    plan = plan_demo_corpus(recordings, seed=3)
    if not (corpus_dir / "manifest.tsv").exists():
        began = time.perf_counter()
        render_demo_corpus(plan, corpus_dir)
        print(f"rendered {len(plan)} recordings in {time.perf_counter() - began:.1f} s")
    return [str(corpus_dir / path) for path in plan["path"]]


def _run_workflow(workdir: Path, corpus_dir: Path, cores: int, per_job: int | None) -> dict:
    shutil.rmtree(workdir / "results", ignore_errors=True)
    shutil.rmtree(workdir / ".snakemake", ignore_errors=True)
    # Only the corpus is set: every extraction setting is the schema default, as in-process.
    config = {"corpus": {"format": "tsv", "path": str(corpus_dir / "manifest.tsv")}}
    if per_job:
        config["extraction"] = {"recordings_per_job": per_job}
    (workdir / "config.json").write_text(json.dumps(config))
    command = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--directory", str(workdir),
               "gather_features", "--configfile", str(workdir / "config.json")]
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
    parser.add_argument("--corpus-dir", type=Path, help="render here once and reuse (default: a temporary folder)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        corpus_dir = (args.corpus_dir or workdir / "corpus").resolve()
        paths = _corpus(corpus_dir, args.recordings)

        total = _extract_all(paths)
        ideal = total / args.cores
        began = time.perf_counter()
        with Pool(args.cores) as pool:
            pool.map(_extract_all, [paths[k::args.cores] for k in range(args.cores)])
        parallel = time.perf_counter() - began
        print(f"in-process: sum {total:.1f} s, ideal on {args.cores} cores {ideal:.1f} s; "
              f"{args.cores} worker processes, no Snakemake: {parallel:.1f} s ({parallel / ideal:.2f}x ideal)")

        print(f"{'per job':>8} {'batches':>8} {'1st batch done':>15} {'last batch done':>16} "
              f"{'gathered':>9} {'wall':>7} {'ratio':>6}")
        for per_job in args.per_job:
            run = _run_workflow(workdir, corpus_dir, args.cores, per_job)
            print(f"{per_job or 'default':>8} {run['batches']:>8} {run['first_batch_done']:>14.1f}s "
                  f"{run['last_batch_done']:>15.1f}s {run['gathered']:>8.1f}s {run['wall']:>6.1f}s "
                  f"{run['wall'] / ideal:>6.2f}")


if __name__ == "__main__":
    main()
