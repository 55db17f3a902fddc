rule plot_extraction:
    """Contact sheets of the kept faces and of the dropped recordings, and the extraction
    statuses per session and speaker."""
    message:
        "Drawing the face contact sheets and the extraction overview"
    input:
        # The first experiment's extraction (the only one without `experiments`).
        features=f"results/{REFERENCE.extraction_dir}features.parquet",
        report=f"results/{REFERENCE.extraction_dir}extraction/report.tsv",
        manifest="results/manifest.tsv",
    output:
        faces=report("results/plots/faces_kept.png", caption="../report/faces_kept.rst", category="Faces"),
        dropped=report("results/plots/faces_dropped.png", caption="../report/faces_dropped.rst", category="Faces"),
        overview=report(
            "results/plots/extraction_status.png", caption="../report/extraction_status.rst", category="Extraction"
        ),
    log:
        "logs/plot_extraction.log",
    # Ahead of the trainings (priority 0), so that a run failing in the evaluation for want of faces
    # leaves the pictures that show why. Not an input of the evaluation: at the gathering checkpoint
    # Snakemake would then skip the jobs after it unchecked (docs/performance.md).
    priority: 1
    localrule: True
    conda:
        CONDA_ENV
    params:
        classes=config["classes"],
        plots=canonical({key: config["plots"][key] for key in ("dpi", "faces_per_class", "dropped_max")}),
    script:
        "../scripts/plot_extraction.py"


rule plot_training:
    """Training loss and validation UAR by epoch of every fold, one picture per target (one job:
    each job costs a Python and matplotlib start)."""
    message:
        "Drawing the training curves"
    input:
        # The first experiment's folds (the only one without `experiments`).
        expand(
            "results/{experiment_dir}predictions/{target}/fold_{session}.info.json",
            experiment_dir=REFERENCE.dir,
            target=REFERENCE.targets,
            session=REFERENCE.sessions,
        ),
    output:
        report(
            expand("results/plots/training_{target}.png", target=REFERENCE.targets),
            caption="../report/training.rst",
            category="Training",
        ),
    log:
        "logs/plot_training.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        targets=REFERENCE.targets,
        dpi=config["plots"]["dpi"],
    script:
        "../scripts/plot_training.py"


rule rating_scatter:
    """Predicted against rated values of one rating target (`dimensions: regression`), per fold."""
    message:
        "Drawing the predicted against the rated {wildcards.target}: {output}"
    input:
        experiment_fold_files("tsv"),
    output:
        report(
            "results/{experiment_dir}plots/scatter_{target}.png", caption="../report/scatter.rst", category="Ratings"
        ),
    log:
        "logs/{experiment_dir}scatter/{target}.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        dpi=config["plots"]["dpi"],
    script:
        "../scripts/rating_scatter.py"


rule front_page:
    """The report's front page: corpus, settings and headline results of this run."""
    message:
        "Writing the report's front page; build the report with: snakemake --report report.html"
    input:
        manifest="results/manifest.tsv",
        report=f"results/{REFERENCE.extraction_dir}extraction/report.tsv",
        metrics=f"results/{REFERENCE.dir}metrics.tsv",
        # the class targets' UARs and intervals (the reference experiment's rows)
        summary="results/summary.tsv",
    output:
        FRONT_PAGE,
    log:
        "logs/front_page.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        # What the page states, for the experiment whose tables it shows (the first), with
        # cv.validation as resolved for this corpus (auto -> share or next_session).
        config=canonical(page_settings(REFERENCE.settings, REFERENCE.training["validation"], REFERENCE.folds.corpora)),
    script:
        "../scripts/front_page.py"
