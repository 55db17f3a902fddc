"""Extract the face frames of one batch of recordings (rule extract_batch)."""
from pathlib import Path

from facemotion.common.logs import log_to
from facemotion.extraction.batch import run_batch
from facemotion.extraction.feature_table import write_feature_table, write_report
from facemotion.extraction.settings import ExtractionSettings

with log_to(snakemake.log[0]):
    settings = ExtractionSettings(**snakemake.params.settings)
    records, report = run_batch(snakemake.params.rows, settings, Path(snakemake.params.cache_dir),
                                processes=snakemake.threads)
    write_feature_table(records, snakemake.output.table, settings)
    write_report(report, snakemake.output.report)
