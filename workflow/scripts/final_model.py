"""Train the final model of one target on all sessions (rule final_model)."""
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from facemotion.features import model_input, read_feature_table
from facemotion.logs import log_to

with log_to(snakemake.log[0]) as log:
    # Imported here, so that TensorFlow's start-up messages land in the log.
    from facemotion.training import save_model, train_final, training_params

    settings = snakemake.params.settings
    # Under loso each fold chose its best epoch on a validation session: train as long as the
    # median fold did. Under the seed protocol the epochs were fixed.
    # Skipped folds (no test data) chose no epoch.
    chosen = [epoch for path in snakemake.input.infos
              if (epoch := json.loads(Path(path).read_text())["best_epoch"]) is not None]
    epochs = round(statistics.median(chosen)) if settings["protocol"] == "loso" else settings["epochs"]
    table = read_feature_table(snakemake.input.features)
    features = model_input(table, snakemake.params.extraction["features"])
    params = training_params(settings, threads=snakemake.threads, gpus=snakemake.resources.gpu)
    model, info = train_final(table.meta, features, snakemake.wildcards.target, params, epochs)
    metadata = {**info["model_metadata"], "features": snakemake.params.extraction["features"],
                "extraction": {k: v for k, v in snakemake.params.extraction.items()},
                "fold_best_epochs": chosen}
    save_model(model, snakemake.output.model, metadata)
    log.info("final %s model: %d recordings, %d epochs (folds chose %s)", snakemake.wildcards.target,
             info["n_train"], epochs, chosen)
