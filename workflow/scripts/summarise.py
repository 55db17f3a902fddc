"""Summary with intervals and tests, per-speaker metrics and the comparison of experiments (rule summarise)."""

from facemotion.common.logs import log_to
from facemotion.evaluation.summary import forest_table, results_from_files, summary_inputs, write_summary
from facemotion.report.plots import plot_forest

with log_to(snakemake.log[0]):
    grouped = summary_inputs(snakemake.params.prediction_dirs, snakemake.input.predictions, snakemake.input.infos)
    experiments = {name: results_from_files(files) for name, files in grouped.items()}
    statistics = snakemake.params.statistics
    summary = write_summary(experiments, snakemake.output.summary, snakemake.output.speakers,
                            snakemake.output.comparison, statistics["resamples"], statistics["seed"],
                            speaker_independent=snakemake.params.speaker_independent,
                            protocols=snakemake.params.protocols, official=snakemake.params.official_tests,
                            fold_corpora=snakemake.params.fold_corpora)
    plot_forest(forest_table(summary), snakemake.output.plot, dpi=snakemake.params.dpi)
