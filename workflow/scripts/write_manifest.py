"""Write results/manifest.tsv (rule manifest)."""

from facemotion.common.logs import log_to
from facemotion.corpora.manifest import describe_manifest, write_manifest
from facemotion.corpora.reading import build_manifest

with log_to(snakemake.log[0]) as log:
    # Read again rather than passed in, so the job is self-contained; the rule's digest param
    # reruns it whenever the table read at parse time changes.
    manifest, notes = build_manifest(snakemake.config)
    write_manifest(manifest, snakemake.output[0])
    log.info(describe_manifest(manifest, notes).rstrip())
