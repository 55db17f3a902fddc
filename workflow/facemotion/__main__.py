"""Command line: `python -m facemotion predict MODEL_DIR VIDEO...` and `python -m facemotion check-corpus`."""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from facemotion.corpora import READERS
from facemotion.targets import EMOTIONS


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m facemotion", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="predict emotion, activation and valence of videos")
    predict.add_argument("model_dir", help="folder of the final models, e.g. results/final")
    predict.add_argument("videos", nargs="+", help="video files")
    predict.add_argument("--start", type=float, help="segment start in seconds")
    predict.add_argument("--end", type=float, help="segment end in seconds")
    check = commands.add_parser(
        "check-corpus", help="check that a corpus in its official layout can be read, before any heavy work",
        description="Counts per class, session and speaker, label entries without video files and videos "
                    "without labels.")
    check.add_argument("format", choices=list(READERS), help="corpus format (config corpus.format)")
    check.add_argument("root", help="the corpus root folder as unpacked (config corpus.path)")
    check.add_argument("--classes", nargs="+", default=list(EMOTIONS), help="emotion classes kept (config classes)")
    check.add_argument("--folds", type=int, default=5, help="folds for corpora without sessions (config cv.folds)")
    args = parser.parse_args(argv)

    if args.command == "check-corpus":
        return check_corpus(args.format, args.root, args.classes, args.folds)
    from pathlib import Path

    from facemotion.predict import PredictionInputError, check_segment, load_final_models, predict_recordings

    try:
        check_segment(args.start, args.end)
        models = load_final_models(args.model_dir)
    except PredictionInputError as error:  # the user's mistake: one line, not a traceback
        print(f"error: {error}", file=sys.stderr)
        return 2
    rows = pd.DataFrame({"recording": [Path(v).stem for v in args.videos], "path": args.videos,
                         "start": args.start, "end": args.end})
    predictions = predict_recordings(rows, models)
    predictions.to_csv(sys.stdout, sep="\t", index=False, float_format="%.6f")
    return 0


def check_corpus(corpus_format: str, root: str, classes: list[str], folds: int) -> int:
    from facemotion.corpora import describe_corpus
    from facemotion.manifest import ManifestError

    try:
        text, problem = describe_corpus(corpus_format, root, classes, folds)
    except ManifestError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(text)
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main())
