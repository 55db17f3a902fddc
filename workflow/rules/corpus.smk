if CORPUS_FORMAT == "demo":

    rule demo_corpus:
        """Render the synthetic demo corpus (procedurally drawn faces; nothing is downloaded)."""
        message:
            "Rendering the synthetic demo corpus ({params.recordings} videos) into {params.corpus_dir}"
        output:
            videos=sorted(MANIFEST["path"]),
            manifest=f"{config['corpus']['path']}/manifest.tsv",
        log:
            "logs/demo_corpus.log",
        localrule: True
        conda:
            CONDA_ENV
        threads: workflow.cores
        params:
            recordings=config["demo"]["recordings"],
            seed=config["demo"]["seed"],
            n_frames=config["extraction"]["n_frames"],
            corpus_dir=lambda wildcards, output: os.path.dirname(output.manifest),
        script:
            "../scripts/demo_corpus.py"


rule manifest:
    """Write the normalised manifest (read and checked at parse time, common.smk): the record of
    which recordings, speakers, sessions and labels this run used."""
    message:
        "Writing the manifest of the corpus to {output}"
    # No input file: the corpus' content (not its files' times) decides. A changed row rewrites
    # the manifest through the digest; a corpus file touched or copied without change reruns nothing.
    # The demo is the exception: this job re-reads the corpus (and hashes its videos), so it must
    # wait until the demo's renderer has finished writing them.
    input:
        rules.demo_corpus.output.manifest if CORPUS_FORMAT == "demo" else [],
    output:
        "results/manifest.tsv",
    log:
        "logs/manifest.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        digest=hashlib.sha256(MANIFEST.to_csv(sep="\t", index=False).encode()).hexdigest(),
    script:
        "../scripts/write_manifest.py"
