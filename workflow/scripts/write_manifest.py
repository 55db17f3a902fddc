"""Write results/manifest.tsv (rule manifest)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))

from facemotion.logs import log_to
from facemotion.manifest import build_manifest, write_manifest

with log_to(snakemake.log[0]) as log:
    # Validated at parse time already; reading again keeps the job self-contained on a cluster node.
    manifest, notes = build_manifest(snakemake.config)
    for note in notes:
        log.info(note)
    write_manifest(manifest, snakemake.output[0])
    log.info("%d recordings, %d speakers, %d sessions", len(manifest),
             manifest["speaker"].nunique(), manifest["session"].nunique())
