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
        [f"results/{e.dir}metrics.tsv" for e in EXPERIMENTS.values()],
        [f"results/{e.dir}plots/confusion_{target}.{ext}"
         for e in EXPERIMENTS.values() for target in e.targets for ext in ("png", "pdf")],
        "results/summary.tsv",
    default_target: True
