# Facial emotion recognition from speaker videos: face extraction, leave-one-session-out
# training of the seed's networks, and averaged confusion matrices. See README.md.
import os

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"

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
    message:
        "Done: results in results/, the report with: snakemake --report report.html"
    input:
        "results/manifest.tsv",
        "results/features.parquet",
        "results/extraction/report.tsv",
        expand("results/models/{target}/fold_{session}.keras{json}", target=TARGETS, session=SESSIONS,
               json=["", ".json"]),
        expand("results/predictions/{target}/fold_{session}.{ext}", target=TARGETS, session=SESSIONS,
               ext=["tsv", "info.json"]),
        "results/metrics.tsv",
        expand("results/confusion/{target}.tsv", target=TARGETS),
        expand("results/plots/confusion_{target}.{ext}", target=TARGETS, ext=["png", "pdf"]),
        expand("results/plots/training_{target}.png", target=TARGETS),
        "results/plots/faces_kept.png",
        "results/plots/extraction_status.png",
        FRONT_PAGE,
    default_target: True
