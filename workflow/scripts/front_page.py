"""The report's front page (rule front_page)."""

from facemotion.common.logs import log_to
from facemotion.report.front_page import write_front_page

with log_to(snakemake.log[0]):
    write_front_page(snakemake.params.config, snakemake.input.manifest, snakemake.input.report,
                     snakemake.input.metrics, snakemake.input.summary, snakemake.output[0])
