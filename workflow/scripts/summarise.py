"""Summary with intervals and tests, per-speaker metrics and the comparison of experiments (rule summarise)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from facemotion.logs import log_to
from facemotion.summary import results_from_files, summary_inputs, write_summary

with log_to(snakemake.log[0]):
    grouped = summary_inputs(snakemake.params.prediction_dirs, snakemake.input.predictions, snakemake.input.infos)
    experiments = {name: results_from_files(files) for name, files in grouped.items()}
    statistics = snakemake.params.statistics
    write_summary(experiments, snakemake.output.summary, snakemake.output.speakers, snakemake.output.comparison,
                  snakemake.output.plot, statistics["resamples"], statistics["seed"], dpi=snakemake.params.dpi,
                  speaker_independent=snakemake.params.speaker_independent)
