rule evaluate:
    """Metrics per fold and target of one experiment, with their means and the baselines."""
    message:
        "Evaluating every fold: {output.metrics}; summary in {log}"
    input:
        predictions=experiment_predictions("tsv"),
        infos=experiment_predictions("info.json"),
    output:
        metrics=report("results/{experiment_dir}metrics.tsv", caption="../report/metrics.rst", category="Metrics"),
    log:
        "logs/{experiment_dir}evaluate.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        speaker_independent=SPEAKER_INDEPENDENT,
        # cv.dropped_test_clips miss: the test recordings per session and class, each scored
        official_tests=lambda wildcards: OFFICIAL_TESTS.get(experiment(wildcards).name),
        # dfew, mafw, ferv39k: the accuracy also named war, as their papers print it
        benchmark=lambda wildcards: experiment(wildcards).name in PROTOCOLS,
    script:
        "../scripts/evaluate.py"


rule benchmark_folds:
    """A benchmark's label results as its papers print them: UAR and WAR per official fold."""
    message:
        "Writing the per-fold table as benchmark papers print it: {output}"
    input:
        "results/{experiment_dir}metrics.tsv",
    output:
        report(
            "results/{experiment_dir}benchmark_folds.tsv", caption="../report/benchmark_folds.rst", category="Metrics"
        ),
    log:
        "logs/{experiment_dir}benchmark_folds.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        "../scripts/benchmark_folds.py"


rule confusion:
    """One target's averaged row-normalised confusion matrix and its heatmaps."""
    message:
        "Drawing the confusion matrix of {wildcards.target}: {output.confusion}"
    input:
        experiment_fold_files("tsv"),
    output:
        confusion="results/{experiment_dir}confusion/{target}.tsv",
        plots=report(
            expand("results/{{experiment_dir}}plots/confusion_{{target}}.{ext}", ext=["png", "pdf"]),
            caption="../report/confusion.rst",
            category="Confusion matrices",
        ),
    log:
        "logs/{experiment_dir}confusion/{target}.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        plots=PLOT_SETTINGS,
    script:
        "../scripts/confusion.py"


rule summarise:
    """Every experiment's metrics with intervals over folds and tests, per speaker, and each
    experiment against the first."""
    message:
        "Summarising every experiment with confidence intervals: {output.summary}, {output.comparison}"
    input:
        predictions=[
            f"results/{e.dir}predictions/{t}/fold_{s}.tsv"
            for e in EXPERIMENTS.values()
            for t in e.targets
            for s in e.sessions
        ],
        infos=[
            f"results/{e.dir}predictions/{t}/fold_{s}.info.json"
            for e in EXPERIMENTS.values()
            for t in e.targets
            for s in e.sessions
        ],
    output:
        summary=report("results/summary.tsv", caption="../report/summary.rst", category="Summary"),
        speakers="results/speakers.tsv",
        comparison=report("results/comparison.tsv", caption="../report/comparison.rst", category="Summary"),
        plot=report("results/plots/comparison.png", caption="../report/comparison.rst", category="Summary"),
    log:
        "logs/summarise.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        # The reference first; each fold file belongs to the experiment whose folder holds it.
        prediction_dirs={name: f"results/{e.dir}predictions" for name, e in EXPERIMENTS.items()},
        statistics=canonical(config["statistics"]),
        dpi=config["plots"]["dpi"],
        speaker_independent=SPEAKER_INDEPENDENT,
        # dfew, mafw, ferv39k: each experiment's "official N-class protocol" or "not the official ..."
        protocols=PROTOCOLS,
        # cv.dropped_test_clips miss: each experiment's test recordings per session and class
        official_tests=OFFICIAL_TESTS,
        # several corpora: per experiment and fold, the corpora it trains on and the corpus it tests
        fold_corpora=FOLD_CORPORA,
    script:
        "../scripts/summarise.py"
