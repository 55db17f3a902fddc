"""Summary with intervals and tests, per-speaker metrics and the comparison of experiments (rule summarise)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from facemotion.logs import log_to
from facemotion.summary import summary_inputs, write_summary

with log_to(snakemake.log[0]):
    experiments = summary_inputs(snakemake.params.prediction_dirs, snakemake.input.predictions,
                                 snakemake.input.infos)
    statistics = snakemake.params.statistics
    write_summary(experiments, snakemake.output.summary, snakemake.output.speakers, snakemake.output.comparison,
                  snakemake.output.plot, statistics["resamples"], statistics["seed"], dpi=snakemake.params.dpi)
