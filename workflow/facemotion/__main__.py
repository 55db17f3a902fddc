"""Command line: `python -m facemotion predict MODEL_DIR VIDEO...` and `python -m facemotion check-corpus`."""

from __future__ import annotations

import argparse
import sys

import pandas as pd


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m facemotion", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="predict emotion, activation and valence of videos")
    predict.add_argument("model_dir", help="folder of the final models, e.g. results/final")
    predict.add_argument("videos", nargs="+", help="video files")
    predict.add_argument("--start", type=float, help="segment start in seconds")
    predict.add_argument("--end", type=float, help="segment end in seconds")
    check = commands.add_parser("check-corpus", help="summarise a corpus root before any heavy work")
    check.add_argument("rest", nargs=argparse.REMAINDER, help="FORMAT ROOT [--classes ...] [--folds N]")
    args = parser.parse_args(argv)

    if args.command == "check-corpus":
        from facemotion.corpora import main as check_corpus

        return check_corpus(args.rest)
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


if __name__ == "__main__":
    sys.exit(main())
