# crops: video sources only. Each shard of videos -> sampled frames -> square face crops (PNG, native
# resolution) in one folder, and one Parquet row per sampled frame (with the reason where there is no crop).
from functools import cache

from unmask.data.crops import shard_videos


def video_sources(dataset):
    return {name: s for name, s in DATASETS[dataset]["sources"].items() if "videos" in s}


@cache
def videos_by_shard(dataset):
    try:
        return shard_videos(video_sources(dataset), DATASETS[dataset]["shards"], DATASETS[dataset]["seed"])
    except FileNotFoundError as error:
        raise WorkflowError(f"datasets.{dataset}: {error}. Put the videos there, or set the source's 'videos' path.") from None


def crop_tables(dataset):
    return [f"results/{dataset}/crops/shard-{k}.parquet" for k in videos_by_shard(dataset)]


def crops_spec(wildcards):
    dataset = DATASETS[wildcards.dataset]
    sources = video_sources(wildcards.dataset)
    spec = {"sources": sources, "seed": dataset["seed"] if any("count" in s for s in sources.values()) else 0}
    spec.update({key: dataset["video"][key] for key in ("frames", "margin", "yunet_model")})
    return json.dumps(spec, sort_keys=True)


rule crops:
    output:
        table="results/{dataset}/crops/shard-{shard}.parquet",
        crops=directory("results/{dataset}/crops/shard-{shard}"),
    input:
        videos=lambda w: [v["path"] for v in videos_by_shard(w.dataset)[int(w.shard)]],
        code=code("commands/crops"),
    params:
        spec=crops_spec,
        shards=lambda w: DATASETS[w.dataset]["shards"],
    log:
        "logs/{dataset}/crops/shard-{shard}.log",
    resources:
        # One 1080p frame at a time; ~2 s per video at 20 frames, 4x margin.
        mem_mb=scaled(2000),
        runtime=lambda w, input: 10 + int(len(input.videos) * 2 * 4 / 60),
    shell:
        "{UNMASK} crops --spec {params.spec:q} --shard {wildcards.shard} --shards {params.shards}"
        " --crops-dir {output.crops} --out {output.table} 2> {log}"
