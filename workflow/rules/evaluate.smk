rule evaluate:
    """Metrics per fold and target, averaged row-normalised confusion matrices, and heatmaps."""
    input:
        predictions=expand("results/predictions/{target}/fold_{session}.tsv", target=TARGETS, session=SESSIONS),
        features="results/features.parquet",
    output:
        metrics=report("results/metrics.tsv", caption="../report/metrics.rst", category="Metrics"),
        baselines="results/baselines.tsv",
        confusion=expand("results/confusion/{target}.tsv", target=TARGETS),
        plots=report(
            expand("results/plots/confusion_{target}.{ext}", target=TARGETS, ext=["png", "pdf"]),
            caption="../report/confusion.rst",
            category="Confusion matrices",
        ),
    params:
        targets=TARGETS,
        sessions=SESSIONS,
        classes=config["classes"],
        binning=config["binning"],
        plots=config["plots"],
    log:
        "logs/evaluate.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        "../scripts/evaluate.py"
