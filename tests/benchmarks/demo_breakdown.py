"""Where a workflow run's time went, per rule and, for the training jobs, per phase.

    .venv/bin/python tests/benchmarks/demo_breakdown.py WORKDIR CONSOLE_LOG

WORKDIR is the folder the run wrote results/ and logs/ into; CONSOLE_LOG holds Snakemake's console
output of the run (stdout and stderr). Job times come from the console's time stamps (whole seconds:
a job's start line and its "Finished jobid" line); a training job is split by the time stamps of
its log (logs/train/...): start-up (Python, the imports, TensorFlow) until "training on", building
the model and the first epoch (tracing the training and prediction steps), the remaining epochs, and
the rest (predicting the test session, saving the model and the tables, Python's exit).
"""

import re
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path


def jobs(console: str) -> list[dict]:
    """One entry per job: rule, message, start and end (datetime)."""
    stamp = r"\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]"
    started, found = {}, []
    for match in re.finditer(stamp + r"\s*\n(?:(Job (\d+): (.*))|(Finished jobid: (\d+) \(Rule: (\w+)\)))", console):
        when = datetime.strptime(" ".join(match.group(1).split()), "%a %b %d %H:%M:%S %Y")
        if match.group(2):
            started[match.group(3)] = (when, match.group(4))
        else:
            begin, message = started.pop(match.group(6))
            found.append({"rule": match.group(7), "message": message, "start": begin, "end": when})
    return found


def log_times(path: Path) -> list[tuple[datetime, str]]:
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        match = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \w+ (.*)", line)
        if match:
            lines.append((datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S"), match.group(2)))
    return lines


def main(workdir: Path, console: str) -> None:
    found = jobs(console)
    first, last = min(j["start"] for j in found), max(j["end"] for j in found)
    print(f"jobs: {len(found)}, first job start to last job end: {(last - first).total_seconds():.0f} s")
    per_rule = defaultdict(list)
    for job in found:
        per_rule[job["rule"]].append((job["end"] - job["start"]).total_seconds())
    print(f"\n{'rule':18s} {'jobs':>4s} {'sum s':>7s} {'mean s':>7s}")
    for rule, seconds in sorted(per_rule.items(), key=lambda item: -sum(item[1])):
        print(f"{rule:18s} {len(seconds):4d} {sum(seconds):7.0f} {sum(seconds) / len(seconds):7.1f}")
    phases = defaultdict(float)
    trained = 0
    for job in found:
        match = re.search(r"log: (logs/\S*train/\S+\.log)", job["message"])
        if job["rule"] != "train_fold" or not match:
            continue
        lines = log_times(workdir / match.group(1))
        start_up = next(t for t, text in lines if text.startswith("training on"))
        epochs = [t for t, text in lines if re.match(r"epoch \d+/\d+", text)]
        phases["start-up (Python, imports, TensorFlow)"] += (start_up - job["start"]).total_seconds()
        phases["model built, first epoch (tracing)"] += (epochs[0] - start_up).total_seconds()
        phases["the other epochs"] += (epochs[-1] - epochs[0]).total_seconds()
        phases["test predictions, saving, exit"] += (job["end"] - epochs[-1]).total_seconds()
        trained += 1
    if trained:
        total = sum(phases.values())
        print(f"\ntraining jobs: {trained}, job-seconds {total:.0f}")
        for phase, seconds in phases.items():
            print(f"  {phase:40s} {seconds:6.0f} s  {100 * seconds / total:4.1f} %  ({seconds / trained:.1f} s a job)")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]).read_text(errors="replace"))
