# crops: face crops of video frames (always) and of images (faces.crop). Each shard -> square face crops
# (PNG, native resolution) in one folder, and one Parquet row per sampled frame or image (with the reason
# where there is no crop). The manifest reads these tables: the crop is the item, the original is kept.
from functools import cache

from unmask.data.crops import shard_videos


def video_sources(dataset):
    return {name: s for name, s in DATASETS[dataset]["sources"].items() if "videos" in s}


def image_crop_sources(dataset):
    """The image sources whose faces are cropped (all of them with faces.crop, else none)."""
    if not DATASETS[dataset]["faces"]["crop"]:
        return {}
    return {name: s for name, s in DATASETS[dataset]["sources"].items() if "videos" not in s}


def trained_on_crops(dataset):
    """Whether every item of a dataset is a face crop (video frames always are; images with faces.crop)."""
    sources = DATASETS[dataset]["sources"].values()
    return DATASETS[dataset]["faces"]["crop"] or all("videos" in source for source in sources)


@cache
def videos_by_shard(dataset):
    try:
        return shard_videos(video_sources(dataset), DATASETS[dataset]["shards"], DATASETS[dataset]["seed"])
    except FileNotFoundError as error:
        raise WorkflowError(f"datasets.{dataset}: {error}. Put the videos there, or set the source's 'videos' path.") from None


def crop_shards(dataset):
    """Shards with videos; every shard when images are cropped (their lists may not exist before acquisition)."""
    if image_crop_sources(dataset):
        return list(range(DATASETS[dataset]["shards"]))
    return list(videos_by_shard(dataset))


def crop_tables(dataset):
    return [f"results/{dataset}/crops/shard-{k}.parquet" for k in crop_shards(dataset)]


def crop_inputs(wildcards):
    """The shard's videos, and the file lists of acquired image sources that are cropped."""
    videos = [v["path"] for v in videos_by_shard(wildcards.dataset).get(int(wildcards.shard), [])]
    lists = [
        f"data/acquired/{wildcards.dataset}/{name}.tsv"
        for name, source in sorted(image_crop_sources(wildcards.dataset).items())
        if source["method"] != "local"
    ]
    return videos + lists


def crops_spec(wildcards):
    dataset = DATASETS[wildcards.dataset]
    sources = video_sources(wildcards.dataset)
    images = {
        name: dict(source, **image_list_inputs(wildcards.dataset, name, source))
        for name, source in image_crop_sources(wildcards.dataset).items()
    }
    sampled = any("count" in s for s in [*sources.values(), *images.values()])
    spec = {"sources": sources, "images": images, "seed": dataset["seed"] if sampled else 0}
    faces = {key: value for key, value in dataset["faces"].items() if key != "crop"}  # crop picks the sources
    spec.update(frames=dataset["video"]["frames"], faces=faces)
    return json.dumps(spec, sort_keys=True)


rule crops:
    output:
        table="results/{dataset}/crops/shard-{shard}.parquet",
        crops=directory("results/{dataset}/crops/shard-{shard}"),
    input:
        videos=crop_inputs,
        code=code("commands/crops"),
    params:
        spec=crops_spec,
        shards=lambda w: DATASETS[w.dataset]["shards"],
    log:
        "logs/{dataset}/crops/shard-{shard}.log",
    resources:
        # One 1080p frame (or one photo) at a time; ~2 s per video at 20 frames, 4x margin.
        mem_mb=scaled(2000),
        runtime=lambda w, input: 10 + int(len(input.videos) * 2 * 4 / 60),
    shell:
        "{UNMASK} crops --spec {params.spec:q} --shard {wildcards.shard} --shards {params.shards}"
        " --crops-dir {output.crops} --out {output.table} 2> {log}"
