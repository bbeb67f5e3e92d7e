# crops: face crops of video frames (always) and of images (faces.crop). Each shard -> square face crops
# (PNG, native resolution) in one folder, and one Parquet row per sampled frame or image (with the reason
# where there is no crop). The manifest reads these tables: the crop is the item, the original is kept.


rule crops:
    output:
        table="results/{dataset}/crops/shard-{shard}.parquet",
        crops=directory("results/{dataset}/crops/shard-{shard}"),
    input:
        videos=crop_inputs,
    params:
        spec=crops_spec,
        shards=lambda w: DATASETS[w.dataset]["shards"],
        code=code("commands/crops"),
    log:
        "logs/{dataset}/crops/shard-{shard}.log",
    resources:
        # One 1080p frame (or one photo) at a time; ~2 s per video at 20 frames, 4x margin.
        mem_mb=scaled(2000),
        runtime=lambda w, input: 10 + int(len(input.videos) * 2 * 4 / 60),
    shell:
        "python3 -m unmask crops --spec {params.spec:q} --shard {wildcards.shard:q} --shards {params.shards:q}"
        " --crops-dir {output.crops:q} --out {output.table:q} 2> {log:q}"
