"""One target's averaged confusion matrix and heatmaps (rule confusion)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from facemotion.evaluation import write_confusion
from facemotion.logs import log_to

with log_to(snakemake.log[0]) as log:
    write_confusion(snakemake.wildcards.target, list(snakemake.input), snakemake.output.confusion,
                    snakemake.output.plots, snakemake.params.plots)
    log.info("confusion matrix of %s written", snakemake.wildcards.target)
