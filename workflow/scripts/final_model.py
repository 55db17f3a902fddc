"""Train the final model of one target on all sessions (rule final_model)."""

from facemotion.common.files import read_json
from facemotion.common.logs import log_to, skip_last_collection
from facemotion.extraction.feature_table import model_input, read_feature_table

with log_to(snakemake.log[0]) as log:
    # Imported here, so that TensorFlow's start-up messages land in the log.
    from facemotion.learning.fitting import train_final
    from facemotion.learning.model import save_model
    from facemotion.learning.params import training_params

    extraction = snakemake.params.extraction
    fold_infos = [read_json(path) for path in snakemake.input.infos]
    table = read_feature_table(snakemake.input.features)
    params = training_params(snakemake.params.settings, threads=snakemake.threads, gpus=snakemake.resources.gpu)
    model, info = train_final(table.meta, model_input(table, extraction["features"]), snakemake.wildcards.target,
                              params, fold_infos, extraction)
    save_model(model, snakemake.output.model, info["model_metadata"])
    log.info("final %s model: %d recordings, %d epochs (folds chose %s)", snakemake.wildcards.target,
             info["n_train"], info["epochs_run"], info["model_metadata"]["fold_best_epochs"])
skip_last_collection()
