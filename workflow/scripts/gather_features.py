"""Gather extraction batches into results/features.parquet and the report (rule gather_features)."""

from facemotion.common.logs import log_to
from facemotion.extraction.feature_table import gather_batches

with log_to(snakemake.log[0]):
    gather_batches(snakemake.params.recordings, snakemake.input.tables, snakemake.input.reports,
                   snakemake.output.features, snakemake.output.report, snakemake.output.digest,
                   snakemake.params.untested, snakemake.params.session_digests)
