rule train_fold:
    """Train on all sessions but one and predict the held-out session, for one target."""
    input:
        "results/features.parquet",
    output:
        model="results/models/{target}/fold_{session}.keras",
        model_metadata="results/models/{target}/fold_{session}.keras.json",
        predictions="results/predictions/{target}/fold_{session}.tsv",
        info="results/predictions/{target}/fold_{session}.info.json",
    params:
        settings=TRAINING_SETTINGS,
    log:
        "logs/train/{target}/fold_{session}.log",
    threads: config["training"]["threads"]
    resources:
        mem_mb=config["training"]["mem_mb"],
        runtime=config["training"]["runtime"],
        gpu=config["training"]["gpu"],
    conda:
        CONDA_ENV
    script:
        "../scripts/train_fold.py"
