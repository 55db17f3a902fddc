"""Metrics of every fold and target of one experiment (rule evaluate)."""
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from facemotion.evaluation import write_metrics
from facemotion.logs import log_to

with log_to(snakemake.log[0]) as log:
    if not snakemake.params.speaker_independent:
        log.warning("NOT speaker-independent: cv.speakers_may_span_sessions let speakers span sessions, so "
                    "folds test speakers they trained on")
    # The inputs were expanded over targets x sessions in this order.
    keys = list(itertools.product(snakemake.params.targets, snakemake.params.sessions))
    write_metrics(dict(zip(keys, snakemake.input.predictions, strict=True)),
                  dict(zip(keys, snakemake.input.infos, strict=True)), snakemake.output.metrics, log=log)
