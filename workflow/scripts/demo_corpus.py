"""Render the synthetic demo corpus (rule demo_corpus)."""
from pathlib import Path

from facemotion.common.logs import log_to
from facemotion.corpora.demo import plan_demo_corpus, render_demo_corpus

with log_to(snakemake.log[0]) as log:
    plan = plan_demo_corpus(snakemake.params.recordings, snakemake.params.seed)
    render_demo_corpus(plan, Path(snakemake.params.corpus_dir), n_frames=snakemake.params.n_frames,
                       workers=snakemake.threads)
    log.info("rendered %d synthetic recordings into %s", len(plan), snakemake.params.corpus_dir)
