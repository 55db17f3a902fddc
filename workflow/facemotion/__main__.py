"""Command line: `facemotion predict MODEL_DIR VIDEO...`, `facemotion check-corpus` and
`facemotion summarise DIR...` (or `python -m facemotion ...`); `facemotion --version`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

import facemotion
from facemotion.config import load_schema, schema_of
from facemotion.corpora.reading import READERS


def main(argv=None) -> int:
    schema = load_schema()  # the options' defaults and choices are the config's

    def default(key):
        return schema_of(key, schema)["default"]

    # Named as it was called: the installed command, or `python -m facemotion`.
    prog = "facemotion" if Path(sys.argv[0]).name == "facemotion" else "python -m facemotion"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--version", action="version", version=f"facemotion {facemotion.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="predict emotion, activation and valence of videos")
    predict.add_argument("model_dir", help="folder of the final models, e.g. results/final")
    predict.add_argument("videos", nargs="+", help="video files or folders of frames (.jpg, .jpeg, .png)")
    predict.add_argument("--start", type=float, help="segment start in seconds")
    predict.add_argument("--end", type=float, help="segment end in seconds")
    check = commands.add_parser(
        "check-corpus", help="check that a corpus in its official layout can be read, before any heavy work",
        description="Counts per class, session and speaker, label entries without video files and videos "
                    "without labels.")
    check.add_argument("format", choices=list(READERS), help="corpus format (config corpus.format)")
    check.add_argument("root", help="the corpus root folder as unpacked (config corpus.path)")
    check.add_argument("--classes", nargs="+", default=default("classes"),
                       help="emotion classes kept (config classes), or `all`: every class the reader defines")
    check.add_argument("--folds", type=int, default=default("cv.folds"),
                       help="folds for corpora without sessions (config cv.folds)")
    check.add_argument("--source", choices=schema_of("corpus.source", schema)["enum"], default="",
                       help="dfew, mafw: the clips or the folders of frames (config corpus.source; default: clips, "
                            "ferv39k: frames)")
    check.add_argument("--actor-folds", choices=schema_of("corpus.actor_folds", schema)["enum"],
                       default=default("corpus.actor_folds"),
                       help="crema-d, ravdess: folds balanced by sex, or those of public code "
                            "(config corpus.actor_folds)")
    summarise = commands.add_parser(
        "summarise", help="the summary's statistics on any folders of per-recording predictions",
        description="Each DIR holds fold_<name>.tsv files (columns recording, session, speaker, y_true, y_pred, "
                    "optional repeat; other columns ignored), as results/predictions/<target>/ does, and is one "
                    "experiment named after the folder. Writes summary.tsv's columns per DIR and, with several, "
                    "comparison.tsv's rows of each against the first.")
    summarise.add_argument("dirs", nargs="+", metavar="DIR", help="folders of fold_*.tsv prediction files")
    summarise.add_argument("--out", required=True, help="the summary table to write (tsv)")
    summarise.add_argument("--comparison", help="the comparison table to write (tsv), each DIR against the first")
    summarise.add_argument("--classes", nargs="+", help="class names in order (default: from the data)")
    summarise.add_argument("--target", default="label", help="the target's name in the tables (default: label)")
    summarise.add_argument("--permutations", type=int, default=default("statistics.resamples"),
                           help="permutations of p_chance (config statistics.resamples)")
    summarise.add_argument("--seed", type=int, default=default("statistics.seed"),
                           help="random seed of those permutations (config statistics.seed)")
    args = parser.parse_args(argv)

    if args.command == "check-corpus":
        return check_corpus_command(args.format, args.root, args.classes, args.folds, args.source, args.actor_folds)
    if args.command == "summarise":
        return summarise_dirs(args)
    from facemotion.prediction.predict import PredictionInputError, check_segment, load_final_models, predict_recordings

    try:
        check_segment(args.start, args.end)
        folders = [v for v in args.videos if Path(v).is_dir()]
        if folders and (args.start is not None or args.end is not None):
            raise PredictionInputError(f"{folders[0]} is a folder of frames, which has no frame rate: --start and "
                                       "--end select seconds of a video")
        # A folder's name is its id whole ("clip.01"); a video's without its suffix.
        ids = [Path(v).name if Path(v).is_dir() else Path(v).stem for v in args.videos]
        check_one_id_each(args.videos, ids)
        models = load_final_models(args.model_dir)
        rows = pd.DataFrame({"recording": ids, "path": args.videos, "start": args.start, "end": args.end})
        predictions = predict_recordings(rows, models)
    except PredictionInputError as error:  # the user's mistake: one line, not a traceback
        print(f"error: {error}", file=sys.stderr)
        return 2
    predictions.to_csv(sys.stdout, sep="\t", index=False, float_format="%.6f")
    return 0


def check_one_id_each(videos, ids) -> None:
    """The output has one row per id: two videos under one id (one file given twice, or two files
    of one name in different folders) would be two rows for one recording."""
    from facemotion.prediction.predict import PredictionInputError

    first = {}
    for video, recording in zip(videos, ids):
        if recording in first:
            raise PredictionInputError(f"{first[recording]} and {video} both get the id {recording!r} (the name "
                                       "without its suffix); rename one, or predict them in separate calls")
        first[recording] = video


def summarise_dirs(args) -> int:
    import os
    import shutil
    import tempfile

    from facemotion.common.logs import JobError
    from facemotion.evaluation.summary import PredictionsError, read_prediction_dir, write_summary

    names = [Path(d).resolve().name for d in args.dirs]
    if len(set(names)) < len(names):
        print(f"error: two DIRs have the same name ({', '.join(names)}): each names an experiment", file=sys.stderr)
        return 2
    problem = output_problem(args.dirs, {"--out": args.out, "--comparison": args.comparison})
    if args.permutations < 1:  # none would give p_chance 1.0 from nothing
        problem = f"--permutations {args.permutations}: p_chance needs at least 1 permutation (e.g. 2000)"
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        experiments = {name: {args.target: read_prediction_dir(d, args.target, args.classes)}
                       for name, d in zip(names, args.dirs)}
        with tempfile.TemporaryDirectory() as scratch:
            # Written in scratch first: a failure half-way leaves no table looking complete.
            scratch = Path(scratch)
            write_summary(experiments, scratch / "summary.tsv", scratch / "speakers.tsv", scratch / "comparison.tsv",
                          args.permutations, args.seed)
            copies = [(scratch / written, Path(wanted)) for written, wanted in
                      (("summary.tsv", args.out), ("comparison.tsv", args.comparison)) if wanted]
            for written, wanted in copies:  # beside their places first, then each renamed in one step
                shutil.copyfile(written, wanted.with_name(f".{wanted.name}.partial"))
            for _, wanted in copies:
                os.replace(wanted.with_name(f".{wanted.name}.partial"), wanted)
    except (PredictionsError, ValueError, JobError) as error:  # the user's input: one line, not a traceback
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(Path(args.out).read_text(), end="")
    return 0


def output_problem(dirs, outputs) -> str | None:
    """Why the tables cannot be written where asked, or None. An output never replaces a file the
    same command reads, nor lands in a DIR as a fold_* file that the next call would read as a fold;
    and each output is its own file in a folder that exists."""
    read = {Path(d).resolve() for d in dirs}
    written = {}
    for option, path in outputs.items():
        if path is None:
            continue
        target = Path(path).resolve()
        if target.parent in read and target.name.startswith("fold_"):
            return (f"{option} {path}: is a fold file of DIR {target.parent}, which this command reads; "
                    "write the table outside the prediction folders")
        if target in written:
            return f"--out and --comparison are the same file ({path}); name two files"
        if not target.parent.is_dir():
            return f"{option} {path}: the folder {Path(path).parent} does not exist; create it or name another"
        if target.is_dir():
            return f"{option} {path}: is a folder; name the file to write (e.g. {Path(path) / 'summary.tsv'})"
        written[target] = option
    return None


def check_corpus_command(corpus_format: str, root: str, classes: list[str], folds: int, source: str = "",
                 actor_folds: str = "balanced") -> int:
    from facemotion.corpora.manifest import ManifestError
    from facemotion.corpora.reading import corpus_classes, describe_corpus

    try:
        if classes == ["all"]:
            classes = corpus_classes(corpus_format, root)
        text, problem = describe_corpus(corpus_format, root, classes, folds, source, actor_folds)
    except ManifestError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(text)
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main())
