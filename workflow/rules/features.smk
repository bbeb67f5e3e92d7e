# features: one job per shard of the manifest, each streaming its images into one Parquet file.


rule features:
    output:
        "results/{dataset}/features/{variant}/shard-{shard}.parquet",
    input:
        manifest="results/{dataset}/manifest.parquet",
        code=code("commands/features"),
    params:
        shards=lambda w: DATASETS[w.dataset]["shards"],
        length=lambda w: f"--length {n}" if (n := DATASETS[w.dataset]["spectrum_length"]) else "",
        reencode=lambda w: f"--reencode {q}" if (q := DATASETS[w.dataset]["reencode_quality"]) else "",
        max_pixels=lambda w: DATASETS[w.dataset]["max_pixels"],
        max_pixels_setting=lambda w: f"datasets.{w.dataset}.max_pixels",
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
        "{UNMASK} features --manifest {input.manifest} --shard {wildcards.shard} --shards {params.shards}"
        " --variant {wildcards.variant} {params.length} {params.reencode} --max-pixels {params.max_pixels}"
        " --max-pixels-setting {params.max_pixels_setting:q} --out {output} 2> {log}"
