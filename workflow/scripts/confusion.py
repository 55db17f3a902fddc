"""One target's averaged confusion matrix and heatmaps (rule confusion)."""

from facemotion.common.logs import log_to
from facemotion.evaluation.class_metrics import confusion_title, write_confusion
from facemotion.report.plots import plot_confusion

with log_to(snakemake.log[0]) as log:
    target, plots = snakemake.wildcards.target, snakemake.params.plots
    summary = write_confusion(target, list(snakemake.input), snakemake.output.confusion)
    plot_confusion(summary.mean_percent, snakemake.output.plots, confusion_title(target, summary),
                   cmap=plots["cmap"], dpi=plots["dpi"], figsize=(plots["width"], plots["height"]))
    log.info("confusion matrix of %s written", snakemake.wildcards.target)
