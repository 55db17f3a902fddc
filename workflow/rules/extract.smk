rule extract_batch:
    """Extract face frames for one batch of recordings (many recordings per job, in `threads` processes).

    Per-recording results are cached under results/extraction/recordings/<settings>/, keyed by the
    settings and the video file, so a rerun batch extracts only what is new or changed.
    """
    message:
        "Extracting the faces of batch {wildcards.batch} (worker processes: {threads}); log: {log}"
    input:
        # Not the manifest: a new manifest must not rerun every batch. The batch's own rows come
        # as a param, so a change in them reruns just this batch.
        videos=batch_videos,
        landmark_model=landmark_model_file,
    output:
        table="results/{extraction_dir}extraction/batches/{batch}.parquet",
        report="results/{extraction_dir}extraction/batches/{batch}.tsv",
    log:
        "logs/{extraction_dir}extract/{batch}.log",
    # Largest batches first (longest-processing-time order), so the cores finish close together.
    priority: lambda wildcards: len(batches(wildcards)[wildcards.batch])
    group:
        "extract"
    conda:
        CONDA_ENV
    threads: extraction_processes
    resources:
        mem_mb=1500,
        runtime=lambda wildcards: 10 + len(batches(wildcards)[wildcards.batch]) // 10,
    params:
        rows=batch_rows,
        settings=lambda wildcards: EXTRACTIONS[wildcards.extraction_dir]["settings"],
        cache_dir="results/extraction/recordings",
    script:
        "../scripts/extract_batch.py"


# A checkpoint: once the table is written, Snakemake decides again whether training must run,
# from the table's digest (see features_input in common.smk), so a table rewritten byte for byte
# (the corpus moved, a batch regrouped) retrains nothing.
checkpoint gather_features:
    """Gather the batches into one feature table and one report row per manifest row."""
    message:
        "Gathering the extraction batches into {output.features} and {output.report}"
    input:
        tables=lambda wildcards: expand(
            "results/{extraction_dir}extraction/batches/{batch}.parquet",
            extraction_dir=wildcards.extraction_dir,
            batch=batches(wildcards),
        ),
        reports=lambda wildcards: expand(
            "results/{extraction_dir}extraction/batches/{batch}.tsv",
            extraction_dir=wildcards.extraction_dir,
            batch=batches(wildcards),
        ),
    output:
        features="results/{extraction_dir}features.parquet",
        digest="results/{extraction_dir}features.parquet.sha256",
        report="results/{extraction_dir}extraction/report.tsv",
    log:
        "logs/{extraction_dir}gather_features.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=gather_mem_mb,
    params:
        # The manifest's recordings, in order (not results/manifest.tsv: that job stays off the
        # path from extraction to training).
        recordings=list(MANIFEST["recording"]),
        # Those no fold tests (training only, or sessions cv.test_sessions leaves out): a dropped
        # recording of the others shrinks a test set, which the job says on the console.
        untested=list(MANIFEST.loc[~MANIFEST["session"].isin(TESTED_SESSIONS), "recording"]),
        # a fold training on chosen sessions (cross_corpus): a digest per session too, for features_digest
        session_digests=SESSION_DIGESTS,
    script:
        "../scripts/gather_features.py"
