"""Training curves of every target (rule plot_training)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from facemotion.logs import log_to
from facemotion.plots import write_training_curves

with log_to(snakemake.log[0]):
    sessions = snakemake.params.sessions
    # The inputs were expanded over targets x sessions in this order, the outputs over targets.
    for index, (target, path) in enumerate(zip(snakemake.params.targets, snakemake.output)):
        infos = snakemake.input[index * len(sessions):(index + 1) * len(sessions)]
        write_training_curves(dict(zip(sessions, infos)), target, path, snakemake.params.dpi)
