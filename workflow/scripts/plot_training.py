"""Training curves of every target (rule plot_training)."""

from facemotion.common.logs import log_to
from facemotion.evaluation.predictions import fold_files
from facemotion.report.plots import write_training_curves

with log_to(snakemake.log[0]):
    infos = fold_files(snakemake.input)  # each path names its target and held-out session
    # The outputs were expanded over the targets, in this order.
    for target, path in zip(snakemake.params.targets, snakemake.output, strict=True):
        sessions = {session: info for (of, session), info in infos.items() if of == target}
        write_training_curves(sessions, target, path, snakemake.params.dpi)
