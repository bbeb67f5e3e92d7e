# crops: video sources only. Each shard of videos -> sampled frames -> square face crops (PNG, native
# resolution) in one folder, and one Parquet row per sampled frame (with the reason where there is no crop).


rule crops:
    output:
        table="results/{dataset}/crops/shard-{shard}.parquet",
        crops=directory("results/{dataset}/crops/shard-{shard}"),
    input:
        videos=lambda w: [v["path"] for v in videos_by_shard(w.dataset)[int(w.shard)]],
    params:
        spec=crops_spec,
        shards=lambda w: DATASETS[w.dataset]["shards"],
        code=code("commands/crops"),
    log:
        "logs/{dataset}/crops/shard-{shard}.log",
    resources:
        # One 1080p frame at a time; ~2 s per video at 20 frames, 4x margin.
        mem_mb=scaled(2000),
        runtime=lambda w, input: 10 + int(len(input.videos) * 2 * 4 / 60),
    shell:
        "python3 -m unmask crops --spec {params.spec:q} --shard {wildcards.shard:q} --shards {params.shards:q}"
        " --crops-dir {output.crops:q} --out {output.table:q} 2> {log:q}"
