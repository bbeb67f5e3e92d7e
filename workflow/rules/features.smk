# features: one job per shard of the manifest, each streaming its images into one Parquet file.


rule features:
    output:
        "results/{dataset}/features/{variant}/shard-{shard}.parquet",
    input:
        manifest="results/{dataset}/manifest.parquet",
    params:
        shards=lambda w: DATASETS[w.dataset]["shards"],
        options=feature_options,
        max_pixels=lambda w: DATASETS[w.dataset]["max_pixels"],
        max_pixels_setting=lambda w: f"datasets.{w.dataset}.max_pixels",
        code=code("commands/features"),
    log:
        "logs/{dataset}/features/{variant}/shard-{shard}.log",
    group:
        "features"
    resources:
        # Streaming keeps memory flat; the run time follows the images in the shard (the manifest
        # holds ~150 bytes per image; a 1024 px image takes ~20 ms, 4x margin).
        mem_mb=scaled(1000),
        runtime=lambda w, input: 10 + int(input.size_mb * 1e6 / 150 / DATASETS[w.dataset]["shards"] * 0.02 * 4 / 60),
    shell:
        "python3 -m unmask features --manifest {input.manifest:q} --shard {wildcards.shard:q}"
        " --shards {params.shards:q} --variant {wildcards.variant:q} {params.options:q}"
        " --max-pixels {params.max_pixels:q} --max-pixels-setting {params.max_pixels_setting:q} --out {output:q} 2> {log:q}"


# feature families (beyond the paper): every family of the comparison from one decode per image, as given
# or harmonised (datasets.<name>.families, .harmonise).
rule family_features:
    output:
        "results/{dataset}/families/{images}/shard-{shard}.parquet",
    input:
        manifest="results/{dataset}/manifest.parquet",
    params:
        shards=lambda w: DATASETS[w.dataset]["shards"],
        spec=family_shard_spec,
        max_pixels=lambda w: DATASETS[w.dataset]["max_pixels"],
        max_pixels_setting=lambda w: f"datasets.{w.dataset}.max_pixels",
        code=code("commands/families"),
    log:
        "logs/{dataset}/families/{images}/shard-{shard}.log",
    group:
        "features"
    resources:
        mem_mb=scaled(1000),
        # the compared families of a 1024 px image take ~3x its paper features (~60 ms), 4x margin
        runtime=lambda w, input: 10 + int(input.size_mb * 1e6 / 150 / DATASETS[w.dataset]["shards"] * 0.06 * 4 / 60),
    shell:
        "python3 -m unmask families --manifest {input.manifest:q} --shard {wildcards.shard:q}"
        " --shards {params.shards:q} --spec {params.spec:q} --max-pixels {params.max_pixels:q}"
        " --max-pixels-setting {params.max_pixels_setting:q} --out {output:q} 2> {log:q}"
