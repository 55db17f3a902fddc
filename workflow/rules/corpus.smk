if config["corpus"]["format"] == "demo":

    rule demo_corpus:
        """Render the synthetic demo corpus (procedurally drawn faces; nothing is downloaded)."""
        output:
            videos=sorted(MANIFEST["path"]),
            manifest=f"{config['corpus']['path']}/manifest.tsv",
        params:
            recordings=config["demo"]["recordings"],
            seed=config["demo"]["seed"],
            n_frames=config["extraction"]["n_frames"],
            corpus_dir=lambda wildcards, output: os.path.dirname(output.manifest),
        log:
            "logs/demo_corpus.log",
        threads: workflow.cores
        localrule: True
        conda:
            CONDA_ENV
        script:
            "../scripts/demo_corpus.py"


rule manifest:
    """Write the normalised manifest read at parse time (common.smk) for every later rule."""
    input:
        corpus_source,
    output:
        "results/manifest.tsv",
    params:
        # The content itself: any change to the corpus' rows rewrites the manifest.
        digest=hashlib.sha256(MANIFEST.to_csv(sep="\t", index=False).encode()).hexdigest(),
    log:
        "logs/manifest.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        "../scripts/write_manifest.py"
