"""Does the feature table's storage code earn its tricks? (run by hand, not collected)

    .venv/bin/python tests/benchmarks/bench_storage.py [--old REF] [--recordings 300] [--rounds 5]
                                                       [--extract 20] [--face-size 64]

Compares two versions of the package: OLD, `git archive REF` (default d8c9fb2, the last commit
with hand-built Arrow buffers, the batch report in the table's metadata and gathering one row
group at a time), and NEW, this working tree. Issue 15's rule: a trick stays only if it buys at
least 5 % of the demo corpus's extraction time.

1. Bytes: each version writes a pixel table, a landmark table, an empty table, a gather of three
   batches and a gather of empty batches; the files must be byte-identical and read back alike.
2. Storage, in fresh processes, OLD and NEW alternating, on RECORDINGS demo recordings of
   8 x FACE_SIZE x FACE_SIZE uint8 pixels split into the workflow's batches (assign_batches with
   recordings_per_job 250: 2 batches for the demo's 300):
     job     the storage part of one extraction job: importing the feature module and writing
             the batch (table and report), after the job's other imports (cv2, dlib, batch)
     gather  importing the feature module and gathering all batches (pyarrow imported first, to
             count pyarrow's peak memory; its import is common to both)
   The final features.parquet and report.tsv must be byte-identical between OLD and NEW.
3. Extraction: extract_recording over EXTRACT demo recordings (every k-th of the planned 300)
   in one process, scaled to RECORDINGS, as the denominator; and the sha256 of the batch's
   videos, which Snakemake computes once per output of a job (NEW's batches have two).
   Prints medians (wall and CPU seconds) and NEW - OLD as a share of the extraction time.
4. With --workflow-rounds N: `snakemake --cores 2 results/features.parquet` on RECORDINGS
   rendered demo recordings (a tsv corpus, from empty results), OLD's tree and NEW's
   alternating, N times each: wall time and the CPU time of Snakemake and its jobs.
5. With --memory-recordings N: N recordings of 8 x 100 x 100 (the seed's crops) in 8 batches;
   peak RSS of gathering them and of read_feature_table, over the process's imports, OLD and NEW.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow"))

from facemotion.corpora.demo import plan_demo_corpus, render_demo_corpus  # noqa: E402
from facemotion.corpora.manifest import assign_batches  # noqa: E402

# Runs in a fresh interpreter with one version's package first on sys.path; argv[1] is JSON.
CHILD = r'''
import json, resource, sys, time
args = json.loads(sys.argv[1])

def records_for(ids, face_size, n_frames=8, kinds=None):
    import numpy as np
    from facemotion.extraction.records import ExtractionResult, Record
    records, report = [], []
    for i, recording in enumerate(ids):
        rng = np.random.default_rng(i)
        ok = (kinds or {}).get(recording, "ordinary") == "ordinary"
        report.append({"recording": recording, "status": "ok" if ok else "no_face", "faces_found": 8 if ok else 0,
                       "frames_read": 60, "detail": "sampled 8 positions" if ok else "no face in 30 probed frames"})
        if ok:
            result = ExtractionResult("ok", 8, 60, "", np.arange(n_frames, dtype=np.int32) * 7,
                                      pixels=rng.integers(0, 256, (n_frames, face_size, face_size), dtype=np.uint8))
            records.append(Record(recording, "F0" + str(i % 6 + 1), str(i % 6 + 1), "Happy",
                                  float("nan") if i % 9 == 0 else 3.0 + i % 3, 2.5, result))
    return records, report

def write_batch(features, records, report, settings, table, report_path):
    if hasattr(features, "write_batch"):  # OLD: the report in the table's metadata
        features.write_batch(records, report, settings, table)
    else:
        features.write_feature_table(records, table, settings)
        features.write_report(report, report_path)

def gather(features, recordings, tables, reports, out_features, out_report):
    if hasattr(features, "write_batch"):
        features.gather_batches(recordings, tables, out_features, out_report)
    else:
        features.gather_batches(recordings, tables, reports, out_features, out_report)

def timed_result(began, cpu0, extra=None):
    print(json.dumps({"wall": time.perf_counter() - began, "cpu": time.process_time() - cpu0,
                      "pandas": "pandas" in sys.modules,
                      "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **(extra or {})}))

mode = args["mode"]
if mode == "job":
    import cv2, dlib, numpy  # the extraction part of the job imports these before it writes
    import facemotion.extraction.batch
    from facemotion.extraction.settings import ExtractionSettings
    settings = ExtractionSettings(n_frames=8, face_size=args["face_size"])
    records, report = records_for(args["ids"], args["face_size"], kinds=args["kinds"])
    began, cpu0 = time.perf_counter(), time.process_time()
    from facemotion.extraction import feature_table as features
    write_batch(features, records, report, settings, args["table"], args["report"])
    timed_result(began, cpu0)
elif mode == "gather":
    import pyarrow as pa
    pool = pa.proxy_memory_pool(pa.default_memory_pool())
    pa.set_memory_pool(pool)
    began, cpu0 = time.perf_counter(), time.process_time()
    from facemotion.extraction import feature_table as features
    gather(features, args["recordings"], args["tables"], args["reports"], args["out"] + ".parquet",
           args["out"] + ".tsv")
    timed_result(began, cpu0, {"pyarrow_peak_mb": pool.max_memory() / 2**20})
elif mode == "extract":
    import cv2
    cv2.setNumThreads(1)  # as extraction jobs run: one process per core
    from facemotion.extraction.extract import extract_recording
    from facemotion.extraction.faces import face_detector
    from facemotion.extraction.settings import ExtractionSettings
    face_detector()
    settings = ExtractionSettings(n_frames=8, face_size=64)  # config/config.yaml's extraction
    began, cpu0 = time.perf_counter(), time.process_time()
    statuses = [extract_recording(path, settings).status for path in args["videos"]]
    timed_result(began, cpu0, {"statuses": statuses})
elif mode in ("gather_memory", "read_memory"):
    from facemotion.extraction import feature_table as features
    imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if mode == "gather_memory":
        gather(features, None, args["tables"], args["reports"], args["out"] + ".parquet", args["out"] + ".tsv")
    else:
        features.read_feature_table(args["out"] + ".parquet")
    print(json.dumps({"imports_mb": imports, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
elif mode == "import":  # what one import adds after numpy and pyarrow.parquet
    import numpy, pyarrow, pyarrow.parquet
    began, cpu0 = time.perf_counter(), time.process_time()
    __import__(args["module"])
    timed_result(began, cpu0)
elif mode == "bytes":
    import pickle
    from pathlib import Path
    import numpy as np
    from facemotion.extraction import feature_table as features
    from facemotion.extraction.records import ExtractionResult, Record
    from facemotion.extraction.settings import ExtractionSettings
    out = Path(args["out"])
    pixels = ExtractionSettings(n_frames=8, face_size=args["face_size"])
    ids = ["S%d_%s0%d_%04d" % (i % 6 + 1, "FM"[i % 2], i % 6 + 1, i) for i in range(40)][::-1] + ["\u00e9", "Z", "a0"]
    records, report = records_for(ids, args["face_size"])
    rng = np.random.default_rng(1)
    landmarks = [Record(r, "M01", "3", "Angry", 4.2 if k % 2 else float("nan"), 1.5,
                        ExtractionResult("ok", 8, 50, "", np.arange(8, dtype=np.int32) * 3,
                                         landmarks=rng.random((8, 68, 2), dtype=np.float32),
                                         geometry=rng.standard_normal((8, 6)).astype(np.float32)))
                 for k, r in enumerate(ids[:30])]
    features.write_feature_table(records, out / "pixels.parquet", pixels)
    features.write_feature_table(landmarks, out / "landmarks.parquet",
                                 ExtractionSettings(n_frames=8, features="landmarks"))
    features.write_feature_table([], out / "empty.parquet", pixels)
    parts = [(records[0::3], report[0::3]), (records[1::3], report[1::3]), ([], report[2::3])]
    for b, (rs, rows) in enumerate(parts):
        write_batch(features, rs, rows, pixels, out / f"b{b}.parquet", out / f"b{b}.tsv")
    gather(features, ids[::-1], [out / f"b{b}.parquet" for b in range(3)], [out / f"b{b}.tsv" for b in range(3)],
           out / "gathered.parquet", out / "gathered.tsv")
    gather(features, None, [out / "b2.parquet"], [out / "b2.tsv"], out / "gathered_empty.parquet",
           out / "gathered_empty.tsv")
    for name in ("pixels", "landmarks", "empty", "gathered", "gathered_empty"):
        with open(out / f"{name}.pkl", "wb") as handle:
            pickle.dump(features.read_feature_table(out / f"{name}.parquet"), handle)
'''


def child(package: Path, **args) -> dict:
    """Run CHILD in a fresh interpreter with `package` (a folder holding facemotion) first."""
    env = {**os.environ, "PYTHONPATH": str(package), "PYTHONHASHSEED": "0"}
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args, default=str)], env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{args['mode']} with {package} failed:\n{done.stderr}")
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def check_bytes(versions: dict[str, Path], work: Path, face_size: int) -> None:
    import pickle

    import numpy as np
    import pandas as pd

    for name, package in versions.items():
        (work / name).mkdir(parents=True)
        child(package, mode="bytes", out=str(work / name), face_size=face_size)
    print("1. bytes: OLD and NEW write")
    for name in ("pixels", "landmarks", "empty", "gathered", "gathered_empty"):
        old, new = (work / version / f"{name}.parquet" for version in versions)
        same = old.read_bytes() == new.read_bytes()
        with open(old.with_suffix(".pkl"), "rb") as a, open(new.with_suffix(".pkl"), "rb") as b:
            read_old, read_new = pickle.load(a), pickle.load(b)
        pd.testing.assert_frame_equal(read_old.meta.drop(columns="frame_index"),
                                      read_new.meta.drop(columns="frame_index"))
        assert all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(read_old.meta.frame_index,
                                                                                 read_new.meta.frame_index))
        for column in ("pixels", "landmarks", "geometry"):
            x, y = getattr(read_old, column), getattr(read_new, column)
            assert (x is None and y is None) or (x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y))
        print(f"   {name + '.parquet':24s} {old.stat().st_size:>9,d} bytes  {'identical' if same else 'DIFFERENT'}; "
              f"read back alike (frame, dtypes, arrays)")
        assert same, name
    report_same = (work / "old/gathered.tsv").read_bytes() == (work / "new/gathered.tsv").read_bytes()
    print(f"   gathered report.tsv      {'identical' if report_same else 'DIFFERENT'}")
    assert report_same


def workflow_runs(trees: dict[str, Path], args, work: Path) -> None:
    """Part 4: the workflow from each tree on the same rendered corpus, alternating."""
    for tree in trees.values():  # as a checkout that has run before: no first-run byte-compiling
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "workflow")], check=True)
    corpus = work / "corpus"
    render_demo_corpus(plan_demo_corpus(args.recordings, seed=0), corpus)
    config = work / "config.json"
    config.write_text(json.dumps({"corpus": {"format": "tsv", "path": str(corpus / "manifest.tsv")},
                                  "extraction": {"face_size": args.face_size, "recordings_per_job": 250}}))
    runs = {name: [] for name in trees}
    outputs = {}
    for round_ in range(args.workflow_rounds):
        for name in (("old", "new") if round_ % 2 == 0 else ("new", "old")):
            workdir = work / f"workflow-{name}"
            shutil.rmtree(workdir, ignore_errors=True)
            workdir.mkdir()
            cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
            began = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--directory", str(workdir),
                                   "results/features.parquet", "--configfile", str(config)],
                                  cwd=trees[name], capture_output=True, text=True)
            wall = time.perf_counter() - began
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode:
                raise RuntimeError(done.stderr[-3000:])
            runs[name].append({"wall": wall, "cpu": after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime})
            outputs[name] = [(workdir / "results" / path).read_bytes()
                             for path in ("features.parquet", "extraction/report.tsv")]
        assert outputs["old"] == outputs["new"], f"round {round_}: the workflows' outputs differ"
        print(f"   round {round_ + 1}: " + ", ".join(f"{name} {runs[name][-1]['wall']:.1f} s wall, "
                                                   f"{runs[name][-1]['cpu']:.1f} s CPU" for name in trees), flush=True)
    print(f"\n4. workflow: snakemake --cores 2 results/features.parquet, {args.recordings} demo recordings, "
          f"medians of {args.workflow_rounds} rounds; features.parquet and report.tsv identical")
    for key in ("wall", "cpu"):
        old, new = median(runs["old"], key), median(runs["new"], key)
        print(f"   {key:4s}  OLD {old:.1f} s  NEW {new:.1f} s  NEW / OLD {new / old:.3f}  "
              f"(single rounds: {', '.join(f'{n[key] / o[key]:.3f}' for o, n in zip(runs['old'], runs['new']))})")


def memory(versions: dict[str, Path], recordings: int, work: Path) -> None:
    """Part 5: peak RSS of gathering and reading a table of seed-sized crops."""
    ids = [f"r{i:05d}" for i in range(recordings)]
    print(f"\n5. memory: {recordings} recordings of 8x100x100 uint8 in 8 batches, peak RSS over the imports")
    for name, package in versions.items():
        folder = work / f"memory-{name}"
        folder.mkdir()
        for b in range(8):
            child(package, mode="job", ids=ids[b::8], kinds={}, face_size=100, table=folder / f"{b}.parquet",
                  report=folder / f"{b}.tsv")
        gathered = child(package, mode="gather_memory", tables=[folder / f"{b}.parquet" for b in range(8)],
                         reports=[folder / f"{b}.tsv" for b in range(8)], out=folder / "features")
        read = child(package, mode="read_memory", out=folder / "features")
        size = (folder / "features.parquet").stat().st_size / 2**20
        gathering, reading = gathered["peak_mb"] - gathered["imports_mb"], read["peak_mb"] - read["imports_mb"]
        print(f"   {name.upper()}: table {size:.0f} MB; gathering {gathering:.0f} MB ({gathering / size:.2f}x), "
              f"reading {reading:.0f} MB ({reading / size:.2f}x)")


def median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", default="d8c9fb2", help="git ref of the version with the tricks")
    parser.add_argument("--recordings", type=int, default=300, help="the demo corpus's size")
    parser.add_argument("--face-size", type=int, default=64, help="config/config.yaml's extraction.face_size")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--extract", type=int, default=20, help="demo recordings to extract and time")
    parser.add_argument("--workflow-rounds", type=int, default=0, help="also run the workflow, OLD and NEW")
    parser.add_argument("--memory-recordings", type=int, default=0, help="also measure peak memory (part 5)")
    parser.add_argument("--skip-storage", action="store_true", help="only the bytes check (and the workflow)")
    args = parser.parse_args(argv)
    if args.skip_storage:
        args.rounds = 0
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.old], capture_output=True, check=True).stdout
        (work / "old").mkdir()
        subprocess.run(["tar", "-x", "-C", str(work / "old")], input=archive, check=True)
        versions = {"old": work / "old/workflow", "new": ROOT / "workflow"}
        check_bytes(versions, work / "bytes", args.face_size)
        if args.workflow_rounds:
            workflow_runs({"old": work / "old", "new": ROOT}, args, work)
        if args.memory_recordings:
            memory(versions, args.memory_recordings, work)
        if args.skip_storage:
            return

        plan = plan_demo_corpus(max(args.recordings, 300), seed=0).iloc[:args.recordings]
        if len(plan) < args.recordings:  # more than the demo: unique ids beyond the plan's
            raise SystemExit("--recordings must be at most the planned corpus")
        kinds = dict(zip(plan["recording"], plan["demo_kind"]))
        batches = assign_batches(list(plan["recording"]), 250)
        runs = {version: {"job": [], "gather": []} for version in versions}
        imports = {module: [] for module in ("pandas", "pyarrow.dataset")}
        for round_ in range(args.rounds):
            for module, times in imports.items():
                times.append(child(versions["new"], mode="import", module=module))
            for version in (("old", "new") if round_ % 2 == 0 else ("new", "old")):
                folder = work / f"{version}{round_}"
                folder.mkdir()
                for batch, ids in batches.items():
                    runs[version]["job"].append(child(
                        versions[version], mode="job", ids=ids, kinds=kinds, face_size=args.face_size,
                        table=folder / f"{batch}.parquet", report=folder / f"{batch}.tsv"))
                runs[version]["gather"].append(child(
                    versions[version], mode="gather", recordings=list(plan["recording"]),
                    tables=[folder / f"{b}.parquet" for b in batches], reports=[folder / f"{b}.tsv" for b in batches],
                    out=folder / "features"))
            for suffix in (".parquet", ".tsv"):
                old, new = (work / f"{v}{round_}" / f"features{suffix}" for v in ("old", "new"))
                assert old.read_bytes() == new.read_bytes(), f"round {round_}: features{suffix} differ"
        table_mb = (work / "new0" / "features.parquet").stat().st_size / 2**20

        step = max(1, 300 // args.extract)
        sample = plan_demo_corpus(300, seed=0).iloc[::step].iloc[:args.extract]
        render_demo_corpus(sample, work / "demo")
        videos = [str(work / "demo" / path) for path in sample["path"]]
        extraction = child(versions["new"], mode="extract", videos=videos)
        began = time.perf_counter()
        import hashlib

        for video in videos:  # as Snakemake checksums each input of 1 MB or less, per output
            if os.path.getsize(video) <= 1_000_000:
                hashlib.sha256(Path(video).read_bytes()).hexdigest()
        checksum_s = (time.perf_counter() - began) / len(videos) * args.recordings / len(batches)

    n_batches = len(batches)
    print(f"\n2. storage: {args.recordings} recordings of 8x{args.face_size}x{args.face_size} uint8 in {n_batches} "
          f"batches ({table_mb:.1f} MB table), medians of {args.rounds} rounds, fresh processes")
    print(f"   {'':18s}{'OLD wall':>10}{'NEW wall':>10}{'OLD CPU':>10}{'NEW CPU':>10}{'pandas OLD/NEW':>16}"
          f"{'pyarrow peak OLD/NEW':>22}")
    for part in ("job", "gather"):
        old, new = runs["old"][part], runs["new"][part]
        peak = (f"{median(old, 'pyarrow_peak_mb'):.0f}/{median(new, 'pyarrow_peak_mb'):.0f} MB"
                if part == "gather" else "")
        print(f"   {part + (' (one batch)' if part == 'job' else ''):18s}{median(old, 'wall'):10.3f}"
              f"{median(new, 'wall'):10.3f}{median(old, 'cpu'):10.3f}{median(new, 'cpu'):10.3f}"
              f"{str(old[0]['pandas']) + '/' + str(new[0]['pandas']):>16}{peak:>22}")
    print("   final features.parquet and report.tsv identical between OLD and NEW in every round")
    print("   of which imports OLD avoids (after numpy and pyarrow.parquet): " + ", ".join(
        f"{module} {median(times, 'wall'):.3f} s wall, {median(times, 'cpu'):.3f} s CPU"
        for module, times in imports.items()))

    extract = {key: extraction[key] / len(videos) * args.recordings for key in ("cpu", "wall")}
    print(f"\n3. extraction: {len(videos)} demo recordings in {extraction['wall']:.2f} s wall, "
          f"{extraction['cpu']:.2f} s CPU (statuses {sorted(set(extraction['statuses']))}); scaled to "
          f"{args.recordings}: {extract['wall']:.1f} s wall, {extract['cpu']:.1f} s CPU")
    print(f"   Snakemake's checksum of one batch's videos (once more per extra output): {checksum_s:.3f} s")
    for key in ("cpu", "wall"):
        delta_jobs = n_batches * (median(runs["new"]["job"], key) - median(runs["old"]["job"], key))
        delta_gather = median(runs["new"]["gather"], key) - median(runs["old"]["gather"], key)
        old_total = extract[key] + n_batches * median(runs["old"]["job"], key) + median(runs["old"]["gather"], key)
        delta = delta_jobs + delta_gather + n_batches * checksum_s
        print(f"   NEW - OLD ({key}): jobs {delta_jobs:+.3f} s, gather {delta_gather:+.3f} s, Snakemake's "
              f"checksums {n_batches * checksum_s:+.3f} s = {delta:+.3f} s, {100 * delta / old_total:+.1f} % of "
              f"the extraction time ({old_total:.1f} s: extraction + OLD's storage, {key})")


if __name__ == "__main__":
    main()
