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


rule all:
    message:
        "Done: results in results/, the report with: snakemake --report report.html"
    input:
        "results/manifest.tsv",
        "results/metrics.tsv",
        expand("results/plots/confusion_{target}.{ext}", target=TARGETS, ext=["png", "pdf"]),
        expand("results/plots/training_{target}.png", target=TARGETS),
        "results/plots/faces_kept.png",
        "results/plots/extraction_status.png",
        FRONT_PAGE,
    default_target: True
