rule train_fold:
    """Train on all sessions but one and predict the held-out session, for one target."""
    message:
        "Training {wildcards.target} with session {wildcards.session} held out; log: {log}"
    input:
        unpack(features_input),
        unpack(test_halves_input),
    output:
        model="results/{experiment_dir}models/{target}/fold_{session}.keras",
        model_metadata="results/{experiment_dir}models/{target}/fold_{session}.keras.json",
        predictions="results/{experiment_dir}predictions/{target}/fold_{session}.tsv",
        info="results/{experiment_dir}predictions/{target}/fold_{session}.info.json",
    log:
        "logs/{experiment_dir}train/{target}/fold_{session}.log",
    conda:
        training_conda_env
    threads: lambda wildcards: experiment(wildcards).settings["training"]["threads"]
    resources:
        mem_mb=lambda wildcards: experiment(wildcards).settings["training"]["mem_mb"],
        runtime=lambda wildcards: experiment(wildcards).settings["training"]["runtime"],
        gpu=lambda wildcards: experiment(wildcards).settings["training"]["gpu"],
    params:
        settings=fold_training,
        features=lambda wildcards: experiment(wildcards).extraction["features"],
        features_digest=features_digest,
    script:
        "../scripts/train_fold.py"


rule final_model:
    """Train one target on every session, for as many epochs as the evaluation chose."""
    message:
        "Training the final {wildcards.target} model on every session; log: {log}"
    input:
        unpack(features_input),
        infos=experiment_fold_files("info.json"),
    output:
        model="results/{experiment_dir}final/{target}/model.keras",
        model_metadata="results/{experiment_dir}final/{target}/model.keras.json",
    log:
        "logs/{experiment_dir}final/{target}.log",
    conda:
        training_conda_env
    threads: lambda wildcards: experiment(wildcards).settings["training"]["threads"]
    resources:
        mem_mb=lambda wildcards: experiment(wildcards).settings["training"]["mem_mb"],
        runtime=lambda wildcards: experiment(wildcards).settings["training"]["runtime"],
        gpu=lambda wildcards: experiment(wildcards).settings["training"]["gpu"],
    params:
        settings=target_training,
        extraction=lambda wildcards: experiment(wildcards).extraction,
        features_digest=features_digest,
    script:
        "../scripts/final_model.py"


rule final_models:
    """Target: the final models of every experiment and target."""
    input:
        [f"results/{e.dir}final/{target}/model.keras" for e in EXPERIMENTS.values() for target in e.targets],
    localrule: True


rule predict:
    """Predict the recordings listed in predict.recordings with the final models (of the first
    experiment, where there are several)."""
    message:
        "Predicting the recordings of {input.recordings} into {output}"
    input:
        recordings=predict_recordings_file,
        videos=predict_videos,
        # The configured targets' models only: another under final/ is an old one.
        models=expand(
            "results/{experiment_dir}final/{target}/model.keras",
            experiment_dir=REFERENCE.dir,
            target=REFERENCE.targets,
        ),
        sidecars=expand(
            "results/{experiment_dir}final/{target}/model.keras.json",
            experiment_dir=REFERENCE.dir,
            target=REFERENCE.targets,
        ),
    output:
        "results/predict/predictions.tsv",
    log:
        "logs/predict.log",
    conda:
        CONDA_ENV
    resources:
        # the training's memory (TensorFlow and a model), and time as an extraction job's for its videos
        mem_mb=REFERENCE.settings["training"]["mem_mb"],
        runtime=lambda wildcards: 10 + len(predict_rows(wildcards)) // 10,
    params:
        rows=predict_rows,
        targets=REFERENCE.targets,
    script:
        "../scripts/predict.py"
