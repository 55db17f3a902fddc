"""Predicted against rated values of one rating target, per fold (rule rating_scatter)."""

from facemotion.common.logs import log_to
from facemotion.report.plots import write_rating_scatter

with log_to(snakemake.log[0]) as log:
    write_rating_scatter(list(snakemake.input), snakemake.wildcards.target, snakemake.output[0], snakemake.params.dpi)
    log.info("scatter of %s written", snakemake.wildcards.target)
