"""Metrics, averaged confusion matrices and heatmaps over all folds (rule evaluate)."""
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from facemotion.evaluation import write_evaluation
from facemotion.logs import log_to

with log_to(snakemake.log[0]) as log:
    if not snakemake.params.speaker_independent:
        log.warning("NOT speaker-independent: cv.speakers_may_span_sessions let speakers span sessions, so "
                    "folds test speakers they trained on")
    targets = snakemake.params.targets
    # The inputs were expanded over targets x sessions in this order.
    keys = list(itertools.product(targets, snakemake.params.sessions))
    plot_files = {t: [p for p in snakemake.output.plots if Path(p).stem == f"confusion_{t}"] for t in targets}
    write_evaluation(dict(zip(keys, snakemake.input.predictions)), dict(zip(keys, snakemake.input.infos)),
                     snakemake.output.metrics, dict(zip(targets, snakemake.output.confusion)), plot_files,
                     snakemake.params.plots, log=log)
