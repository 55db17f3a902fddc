"""Training curves of one target (rule plot_training)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from facemotion.logs import log_to
from facemotion.plots import write_training_curves

with log_to(snakemake.log[0]):
    # The inputs were expanded over the sessions in this order.
    write_training_curves(dict(zip(snakemake.params.sessions, snakemake.input)), snakemake.wildcards.target,
                          snakemake.output[0], snakemake.params.dpi)
