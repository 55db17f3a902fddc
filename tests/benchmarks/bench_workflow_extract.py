"""Extraction through the workflow against the same extraction in one process (run by hand).

    .venv/bin/python tests/benchmarks/bench_workflow_extract.py [--recordings 1000] [--cores 2]

Renders a demo corpus, extracts every recording in this process (sum of per-recording times),
then runs `snakemake --cores N gather_features` on the same videos (as a tsv corpus, so
rendering is not timed) from an empty results folder, and prints wall time / (sum / N): the
cost of Snakemake, job start-up, batching and gathering over ideal parallel extraction.
Target: at most 1.15 for 1,000 recordings on 2 cores.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow"))

from facemotion.demo import plan_demo_corpus, render_demo_corpus  # noqa: E402
from facemotion.extract import ExtractionSettings, extract_recording  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recordings", type=int, default=1000)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--per-job", type=int, default=None, help="extraction.recordings_per_job (default: config's)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        plan = plan_demo_corpus(args.recordings, seed=3)
        began = time.perf_counter()
        render_demo_corpus(plan, workdir / "corpus")
        print(f"rendered {len(plan)} recordings in {time.perf_counter() - began:.1f} s")

        settings = ExtractionSettings()
        total = 0.0
        for path in plan["path"]:
            began = time.perf_counter()
            extract_recording(workdir / "corpus" / path, settings)
            total += time.perf_counter() - began
        ideal = total / args.cores

        # Only the corpus is set: every extraction setting is the schema default, as in-process.
        config = {"corpus": {"format": "tsv", "path": str(workdir / "corpus" / "manifest.tsv")}}
        if args.per_job:
            config["extraction"] = {"recordings_per_job": args.per_job}
        (workdir / "config.json").write_text(json.dumps(config))
        command = [sys.executable, "-m", "snakemake", "--cores", str(args.cores), "--directory", str(workdir),
                   "gather_features", "--configfile", str(workdir / "config.json")]
        began = time.perf_counter()
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if result.returncode:
            sys.exit(result.stdout[-2000:] + result.stderr[-4000:])
        wall = time.perf_counter() - began

        print(f"{'recordings':>10} {'in-process sum':>15} {'ideal (sum/cores)':>18} {'workflow wall':>14} {'ratio':>6}")
        print(f"{len(plan):>10} {total:>14.1f}s {ideal:>17.1f}s {wall:>13.1f}s {wall / ideal:>6.2f}")


if __name__ == "__main__":
    main()
