"""Metrics of every fold and target of one experiment (rule evaluate)."""

from facemotion.common.logs import log_to
from facemotion.evaluation.metrics_table import write_metrics
from facemotion.evaluation.predictions import fold_files

with log_to(snakemake.log[0]) as log:
    if not snakemake.params.speaker_independent:
        log.warning("NOT speaker-independent: folds may test speakers they trained on (speakers span sessions "
                    "under cv.speakers_may_span_sessions, or the corpus does not name its speakers)")
    # Each file's path names its target and held-out session.
    write_metrics(fold_files(snakemake.input.predictions), fold_files(snakemake.input.infos),
                  snakemake.output.metrics, official=snakemake.params.official_tests,
                  war=snakemake.params.benchmark)
