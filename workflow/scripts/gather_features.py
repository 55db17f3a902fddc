"""Gather extraction batches into results/features.parquet and the report (rule gather_features)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from facemotion.features import gather_batches
from facemotion.logs import log_to

with log_to(snakemake.log[0]):
    gather_batches(snakemake.params.recordings, snakemake.input.tables, snakemake.input.reports,
                   snakemake.output.features, snakemake.output.report, snakemake.output.digest)
