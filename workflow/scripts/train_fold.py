"""Train one fold of one target and predict its held-out session (rule train_fold)."""
import json
from pathlib import Path

import pandas as pd
from facemotion.common.logs import log_to, skip_last_collection
from facemotion.corpora.cross_corpus import sessions_as_fold
from facemotion.extraction.feature_table import model_input, read_feature_table
from facemotion.learning.params import TrainParams, training_params
from facemotion.learning.tasks import skipped_fold

with log_to(snakemake.log[0]) as log:
    table = read_feature_table(snakemake.input.features)
    # cross_corpus: the sessions of the training corpora, the only ones this fold trains on
    settings = dict(snakemake.params.settings)
    train_sessions = settings.pop("train_sessions", None)
    settings.pop("test_halves", None)  # seed protocol: only there to rerun the fold when the halves change
    # A fold that is a corpus of several sessions (an experiment's cross_corpus over corpora read
    # as loso): its sessions read as one, named by the fold.
    test_sessions = settings.pop("test_sessions", None)
    if test_sessions:
        table.meta = sessions_as_fold(table.meta, test_sessions, snakemake.wildcards.session)
    params = training_params(settings, threads=snakemake.threads, gpus=snakemake.resources.gpu)
    target, session = snakemake.wildcards.target, snakemake.wildcards.session
    # Decided before TensorFlow starts: a fold without test data costs no TensorFlow start-up.
    skipped = skipped_fold(table.meta, target, session, TrainParams.from_mapping(params), train_sessions)
    if skipped is not None:
        # The evaluation lists the fold as skipped and averages the others. The model file stays
        # empty (Snakemake needs every output); its sidecar says why.
        predictions, info = skipped
        Path(snakemake.output.model).write_bytes(b"")
        Path(snakemake.output.model_metadata).write_text(json.dumps({"skipped": info["skipped"]}, indent=1))
        log.warning("fold %s of %s skipped: %s", session, target, info["skipped"])
    else:
        # Imported here, so that TensorFlow's start-up messages land in the log.
        from facemotion.learning.fitting import train_fold
        from facemotion.learning.model import save_model

        # The seed protocol draws its test halves over the whole manifest, the same for every experiment.
        manifest = (pd.read_csv(snakemake.input.manifest, sep="\t", dtype=str, keep_default_na=False)
                    if "manifest" in snakemake.input.keys() else None)
        model, predictions, info = train_fold(table.meta, model_input(table, snakemake.params.features), target,
                                              session, params, manifest, train_sessions)
        save_model(model, snakemake.output.model, info["model_metadata"])
        log.info("fold %s of %s: %d train, %d validation, %d test recordings; best epoch %s", session, target,
                 info["n_train"], info["n_val"], info["n_test"], info["best_epoch"])
    predictions.to_csv(snakemake.output.predictions, sep="\t", index=False, float_format="%.6f")
    Path(snakemake.output.info).write_text(json.dumps(info, indent=1, sort_keys=True))
skip_last_collection()
