rule evaluate:
    """Metrics per fold and target, averaged row-normalised confusion matrices, and heatmaps."""
    message:
        "Evaluating every fold: {output.metrics}, confusion matrices; summary in {log}"
    input:
        predictions=expand("results/predictions/{target}/fold_{session}.tsv", target=TARGETS, session=SESSIONS),
        infos=expand("results/predictions/{target}/fold_{session}.info.json", target=TARGETS, session=SESSIONS),
    output:
        metrics=report("results/metrics.tsv", caption="../report/metrics.rst", category="Metrics"),
        confusion=expand("results/confusion/{target}.tsv", target=TARGETS),
        plots=report(
            expand("results/plots/confusion_{target}.{ext}", target=TARGETS, ext=["png", "pdf"]),
            caption="../report/confusion.rst",
            category="Confusion matrices",
        ),
    params:
        targets=TARGETS,
        sessions=SESSIONS,
        plots=PLOT_SETTINGS,
        speaker_independent=SPEAKER_INDEPENDENT,
    log:
        "logs/evaluate.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        "../scripts/evaluate.py"
