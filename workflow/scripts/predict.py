"""Predict new recordings with the final models (rule predict)."""
from pathlib import Path

import pandas as pd
from facemotion.common.logs import log_to, skip_last_collection
from facemotion.learning.device import select_device

with log_to(snakemake.log[0]) as log:
    select_device(0)  # a few recordings: the CPU, with any GPU of the node hidden
    # Imported here, so that TensorFlow's start-up messages land in the log.
    from facemotion.prediction.predict import load_final_models, predict_recordings

    # The rows as read when the workflow started (their videos are this job's inputs); the
    # configured targets' models only.
    rows = pd.DataFrame(snakemake.params.rows)
    models = load_final_models(Path(snakemake.input.models[0]).parents[1], snakemake.params.targets)
    predictions = predict_recordings(rows, models)
    predictions.to_csv(snakemake.output[0], sep="\t", index=False, float_format="%.6f")
    log.info("predicted %d recordings: %s", len(predictions), predictions["status"].value_counts().to_dict())
skip_last_collection()
