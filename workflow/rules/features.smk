# features: one job per shard of the manifest, each streaming its images into one Parquet file.


rule features:
    output:
        "results/{dataset}/features/{variant}/shard-{shard}.parquet",
    input:
        manifest="results/{dataset}/manifest.parquet",
        code=code("features", "spectrum", "images", "io"),
    params:
        shards=lambda w: DATASETS[w.dataset]["shards"],
        length=lambda w: f"--length {n}" if (n := DATASETS[w.dataset]["spectrum_length"]) else "",
    log:
        "logs/{dataset}/features/{variant}/shard-{shard}.log",
    shell:
        "{UNMASK} features --manifest {input.manifest} --shard {wildcards.shard} --shards {params.shards}"
        " --variant {wildcards.variant} {params.length} --out {output} 2> {log}"
