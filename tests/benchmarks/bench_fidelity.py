"""Keep/drop agreement with the seed's method, and what it costs (run by hand).

    .venv/bin/python tests/benchmarks/bench_fidelity.py [--recordings 300] [--keep DIR]

In one process, per video and interleaved:
  project    facemotion.extraction.extract.extract_recording with the default settings (adaptive sampling,
             then the every-frame scan for recordings it could not fill)
  fast only  the same with extraction.full_scan: false (the project before the scan existed)
  seed       tests/seed_reference.py: every frame decoded and probed, kept iff n_frames faces
on the demo corpus (rendered as the workflow renders it) and on the hard set of
tests/seed_reference.py at full size (faces in part of the clip, truncated files, headers that
overstate, understate or lack the frame count).
Targets (issue 13): agreement 100 % on both; demo: project <= 1.10 x fast only;
hard set: project <= 1.2 x seed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the reference and the hard set

from facemotion.corpora.demo import plan_demo_corpus, render_demo_corpus  # noqa: E402
from facemotion.extraction.extract import extract_recording  # noqa: E402
from facemotion.extraction.faces import face_detector  # noqa: E402
from facemotion.extraction.settings import ExtractionSettings  # noqa: E402
from seed_reference import hard_set, seed_decision  # noqa: E402


def timed(function, *args, **kwargs):
    began = time.perf_counter()
    value = function(*args, **kwargs)
    return time.perf_counter() - began, value


def report(title: str, videos, verbose: bool) -> dict:
    """videos: (name, path, start, end). Prints a line per video (verbose) and the totals."""
    print(f"\n{title}")
    settings, fast_only = ExtractionSettings(), ExtractionSettings(full_scan=False)
    t = {"project": 0.0, "fast": 0.0, "seed": 0.0, "agree": 0, "fast_agree": 0, "kept": 0, "n": 0, "scanned": 0}
    disagreements = []
    for name, path, start, end in videos:
        t_project, project = timed(extract_recording, path, settings, start, end)
        t_fast, fast = timed(extract_recording, path, fast_only, start, end)
        t_seed, seed = timed(seed_decision, path, settings, start, end)
        for key, value in (("project", t_project), ("fast", t_fast), ("seed", t_seed), ("n", 1),
                           ("kept", seed.kept), ("scanned", "every frame probed" in project.detail),
                           ("agree", project.ok == seed.kept), ("fast_agree", fast.ok == seed.kept)):
            t[key] += value
        if project.ok != seed.kept:
            disagreements.append(f"{name}: project {project.status}, seed {len(seed.face_frames)} face frames")
        if verbose:
            print(f"  {name:42s} seed {'kept' if seed.kept else 'dropped':7s} ({len(seed.face_frames):3d} face "
                  f"frames of {seed.frames:3d})  project {project.status:13s} fast only {fast.status:13s} "
                  f"{t_project:6.3f} s {t_fast:6.3f} s {t_seed:6.3f} s")
    print(f"  recordings {t['n']}, kept by the seed's method {t['kept']}, scanned by the project {t['scanned']}")
    print(f"  keep/drop agreement with the seed: project {t['agree']}/{t['n']} ({100 * t['agree'] / t['n']:.1f} %), "
          f"fast only {t['fast_agree']}/{t['n']} ({100 * t['fast_agree'] / t['n']:.1f} %)")
    print(f"  time: project {t['project']:.2f} s, fast only {t['fast']:.2f} s, seed {t['seed']:.2f} s; "
          f"project / fast only {t['project'] / t['fast']:.3f}, project / seed {t['project'] / t['seed']:.3f}")
    for line in disagreements:
        print(f"  DISAGREES: {line}")
    return t


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recordings", type=int, default=300, help="demo corpus size (the workflow's default)")
    parser.add_argument("--keep", type=Path, help="write the videos here (default: a temporary folder)")
    parser.add_argument("--verbose", action="store_true", help="one line per demo recording too")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)  # as extraction jobs run: one per core
    face_detector()
    with tempfile.TemporaryDirectory() as temporary:
        out = args.keep or Path(temporary)
        plan = plan_demo_corpus(args.recordings, seed=0)
        render_demo_corpus(plan, out / "demo")
        hard = hard_set(out / "hard")
        print(f"OpenCV {cv2.__version__}; n_frames {ExtractionSettings().n_frames}, detect_width "
              f"{ExtractionSettings().detect_width}; one process, interleaved per video")
        demo = report(f"demo corpus ({args.recordings} recordings)",
                      [(r.recording, out / "demo" / r.path, None, None) for r in plan.itertuples()], args.verbose)
        hard_totals = report("hard set (tests/seed_reference.py, full size)",
                             [(v.name, v.path, v.start, v.end) for v in hard], True)
        print("\n| set | recordings | agreement (project) | agreement (fast only) | project / fast only | "
              "project / seed |")
        print("|---|---|---|---|---|---|")
        for name, t in (("demo corpus", demo), ("hard set", hard_totals)):
            print(f"| {name} | {t['n']} | {100 * t['agree'] / t['n']:.0f} % | {100 * t['fast_agree'] / t['n']:.0f} % "
                  f"| {t['project'] / t['fast']:.2f} | {t['project'] / t['seed']:.2f} |")


if __name__ == "__main__":
    main()
