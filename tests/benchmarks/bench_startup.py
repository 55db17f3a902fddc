"""Start-up time of the workflow on a 40,000-row tsv manifest: `snakemake -n` (config check,
manifest reading and checks, DAG), median of a few runs, as wall time and as CPU time (user +
system of the Snakemake process: on a machine shared with other work the steadier figure).

    .venv/bin/python tests/benchmarks/bench_startup.py [--rows 40000] [--runs 3] [--workdir DIR]

The videos are sparse files of distinct sizes (no bytes on disk; the leakage check reads only
files of equal size), so the figure is the workflow's own cost per row.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def make_corpus(folder: Path, rows: int) -> Path:
    videos = folder / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    lines = ["recording\tpath\tspeaker\tsession\tlabel\tactivation\tvalence\tnotes"]
    labels = ["Angry", "Happy", "Neutral", "Sad"]
    for i in range(rows):
        path = videos / f"r{i:05d}.mp4"
        if not path.exists():
            with open(path, "wb") as handle:
                handle.truncate(10_000 + i)
        session = i % 6 + 1
        lines.append(f"r{i:05d}\tvideos/{path.name}\tS{session}_{i % 2}\t{session}\t{labels[i % 4]}\t3\t2.5\tok")
    manifest = folder / "manifest.tsv"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", default="/tmp/facemotion-startup")
    args = parser.parse_args()
    workdir = Path(args.workdir)
    manifest = make_corpus(workdir / "corpus", args.rows)
    config = workdir / "config.yaml"
    config.write_text(yaml.safe_dump({"corpus": {"format": "tsv", "path": str(manifest)}}))
    times, cpu = [], []
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for _ in range(args.runs):
        began, used = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        result = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--directory",
                                 str(workdir), "--configfile", str(config)], cwd=ROOT, capture_output=True,
                                text=True, env=env)
        times.append(time.perf_counter() - began)
        now = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime)
        if result.returncode:
            sys.exit(result.stderr[-3000:])
    print(f"{args.rows} rows: snakemake -n {statistics.median(times):.2f} s (median of {args.runs}: "
          f"{', '.join(f'{t:.2f}' for t in times)}); CPU {statistics.median(cpu):.2f} s "
          f"({', '.join(f'{t:.2f}' for t in cpu)})")


if __name__ == "__main__":
    main()
