# Facial emotion recognition from speaker videos: face extraction, leave-one-session-out
# training of the seed's networks, and averaged confusion matrices. See README.md.
import os

from snakemake.utils import min_version

min_version("9.0")


# The project's settings, wherever the run starts (`-d OTHERDIR` included): a relative path would
# be looked up in the working folder, and where it is absent Snakemake skips it without a word,
# leaving every key that a --configfile does not set to the schema's default.
configfile: os.path.join(workflow.basedir, "config", "config.yaml")


# The report opens on this run's front page (corpus, settings, results; rule front_page), once
# the workflow has written it.
FRONT_PAGE = "results/report/front_page.rst"


report: os.path.abspath(FRONT_PAGE) if os.path.exists(FRONT_PAGE) else "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/corpus.smk"
include: "workflow/rules/extract.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/plots.smk"


# Every result a run promises, not just the last ones: Snakemake only checks that a job's output
# exists where a job that needs it reruns, so a deleted fold model, feature table or extraction
# report under an up-to-date metrics.tsv would otherwise never be made again ("Nothing to be done").
rule all:
    default_target: True
    message:
        "Done: results in results/, the report with: snakemake --report report.html"
    input:
        "results/manifest.tsv",
        [f"results/{d}{output}" for d in EXTRACTIONS for output in ("features.parquet", "extraction/report.tsv")],
        [
            f"results/{e.dir}{kind}/{target}/fold_{session}.{ext}"
            for e in EXPERIMENTS.values()
            for target in e.targets
            for session in e.sessions
            for kind, ext in (
                ("models", "keras"),
                ("models", "keras.json"),
                ("predictions", "tsv"),
                ("predictions", "info.json"),
            )
        ],
        [f"results/{e.dir}metrics.tsv" for e in EXPERIMENTS.values()],
        # dfew, mafw, ferv39k: the label results in the papers' layout.
        [f"results/{e.dir}benchmark_folds.tsv" for e in EXPERIMENTS.values() if e.name in BENCHMARK_TABLES],
        [f"results/{e.dir}confusion/{target}.tsv" for e in EXPERIMENTS.values() for target in e.targets],
        [
            f"results/{e.dir}plots/confusion_{target}.{ext}"
            for e in EXPERIMENTS.values()
            for target in e.targets
            for ext in ("png", "pdf")
        ],
        "results/summary.tsv",
        # Rating targets (dimensions: regression) only.
        [f"results/{e.dir}plots/scatter_{target}.png" for e in EXPERIMENTS.values() for target in rating_targets(e)],
        # Drawn for the first experiment (the only one without `experiments`).
        [f"results/plots/training_{target}.png" for target in REFERENCE.targets],
        "results/plots/faces_kept.png",
        "results/plots/extraction_status.png",
        FRONT_PAGE,
