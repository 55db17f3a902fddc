"""Face contact sheets and the extraction overview (rule plot_extraction)."""

from facemotion.common.logs import log_to
from facemotion.report.plots import write_extraction_plots

with log_to(snakemake.log[0]):
    write_extraction_plots(snakemake.input.features, snakemake.input.report, snakemake.input.manifest,
                           snakemake.output.faces, snakemake.output.dropped, snakemake.output.overview,
                           snakemake.params.classes, snakemake.params.plots)
