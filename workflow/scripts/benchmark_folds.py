"""A benchmark's per-fold table in its papers' layout, from metrics.tsv (rule benchmark_folds)."""

from facemotion.common.logs import log_to
from facemotion.evaluation.metrics_table import write_benchmark_folds

with log_to(snakemake.log[0]) as log:
    table = write_benchmark_folds(snakemake.input[0], snakemake.output[0])
    log.info("UAR %.2f %%, WAR %.2f %% (mean over %d folds)", table.loc["UAR (%)", "mean"],
             table.loc["WAR (%)", "mean"], table.shape[1] - 1)
