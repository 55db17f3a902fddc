# Facial emotion recognition from speaker videos: face extraction, leave-one-session-out
# training of the seed's networks, and averaged confusion matrices. See README.md.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/corpus.smk"
include: "workflow/rules/extract.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"


rule all:
    input:
        "results/manifest.tsv",
        "results/metrics.tsv",
        expand("results/plots/confusion_{target}.{ext}", target=TARGETS, ext=["png", "pdf"]),
    default_target: True
