rule train_fold:
    """Train on all sessions but one and predict the held-out session, for one target."""
    message:
        "Training {wildcards.target} with session {wildcards.session} held out; log: {log}"
    input:
        "results/features.parquet",
    output:
        model="results/models/{target}/fold_{session}.keras",
        model_metadata="results/models/{target}/fold_{session}.keras.json",
        predictions="results/predictions/{target}/fold_{session}.tsv",
        info="results/predictions/{target}/fold_{session}.info.json",
    params:
        settings=TRAINING_SETTINGS,
        features=config["features"],
    log:
        "logs/train/{target}/fold_{session}.log",
    threads: config["training"]["threads"]
    resources:
        mem_mb=config["training"]["mem_mb"],
        runtime=config["training"]["runtime"],
        gpu=config["training"]["gpu"],
    conda:
        TRAINING_CONDA_ENV
    script:
        "../scripts/train_fold.py"


rule final_model:
    """Train one target on every session, for as many epochs as the evaluation chose."""
    message:
        "Training the final {wildcards.target} model on every session; log: {log}"
    input:
        features="results/features.parquet",
        infos=expand("results/predictions/{{target}}/fold_{session}.info.json", session=SESSIONS),
    output:
        model="results/final/{target}/model.keras",
        model_metadata="results/final/{target}/model.keras.json",
    params:
        settings=TRAINING_SETTINGS,
        extraction=EXTRACTION_SETTINGS,
    log:
        "logs/final/{target}.log",
    threads: config["training"]["threads"]
    resources:
        mem_mb=config["training"]["mem_mb"],
        runtime=config["training"]["runtime"],
        gpu=config["training"]["gpu"],
    conda:
        TRAINING_CONDA_ENV
    script:
        "../scripts/final_model.py"


rule final_models:
    """Target: the final models of every target."""
    input:
        expand("results/final/{target}/model.keras", target=TARGETS),
    localrule: True


rule predict:
    """Predict the recordings listed in predict.recordings with the final models."""
    message:
        "Predicting the recordings of {input.recordings} into {output}"
    input:
        recordings=predict_recordings_file,
        models=expand("results/final/{target}/model.keras", target=TARGETS),
    output:
        "results/predict/predictions.tsv",
    log:
        "logs/predict.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/predict.py"
