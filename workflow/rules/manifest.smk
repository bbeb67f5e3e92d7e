# manifest: one row per usable image (id, path, label, source, group, size, sha256); rejects with reasons.
from unmask.data.file_facts import FactsCache
from unmask.data.manifest import listing_fingerprint


def manifest_cache(dataset):
    """Hashes and header facts of a dataset's files from earlier builds (see unmask/data/file_facts.py)."""
    return f"results/{dataset}/manifest_cache.parquet"


def local_listing(dataset, name, source, cache):
    """A fingerprint of what a local folder gives the manifest: its selected images' names and contents, and the
    entries its listing skipped.

    As a parameter of the manifest it reruns the stage when an image is added,
    removed or rewritten, without making every image a Snakemake input (which
    costs the DAG ~0.2 ms per file: seconds for Faces-HQ). Only files whose
    size, modification time or inode changed are hashed (``cache``), and file
    times are not part of it: a ``touch`` reruns nothing.
    """
    try:
        return listing_fingerprint(name, source, DATASETS[dataset]["seed"], cache)
    except FileNotFoundError:
        raise WorkflowError(
            f"datasets.{dataset}.sources.{name}: image folder {source['path']} does not exist. "
            f"Put the source's images there, or set its 'path' to the folder that holds them."
        ) from None


def manifest_inputs(wildcards):
    """Acquired sources: their file lists. Video sources: the crop tables. (Local folders: see local_listing.)"""
    inputs = []
    for name, source in sorted(DATASETS[wildcards.dataset]["sources"].items()):
        if source["method"] != "local":
            inputs.append(f"data/acquired/{wildcards.dataset}/{name}.tsv")
    return inputs + (crop_tables(wildcards.dataset) if video_sources(wildcards.dataset) else [])


def source_inputs(dataset, name, source, cache):
    """What the manifest stage reads for a source besides its configuration."""
    if "videos" in source:
        return {"crop_tables": crop_tables(dataset)}
    if source["method"] != "local":
        return {"file_list": f"data/acquired/{dataset}/{name}.tsv"}
    return {"listing": local_listing(dataset, name, source, cache)}


def manifest_spec(wildcards):
    """What the manifest depends on: the sources, the required image size, and the seed only where a source is sampled."""
    dataset = DATASETS[wildcards.dataset]
    cache = FactsCache(manifest_cache(wildcards.dataset))
    sources = {
        name: dict(source, **source_inputs(wildcards.dataset, name, source, cache))
        for name, source in dataset["sources"].items()
    }
    cache.save()
    spec = {"sources": sources}
    if video_sources(wildcards.dataset):
        spec["split_by"] = dataset["video"]["split_by"]
    if size := dataset.get("image_size"):
        spec["image_size"] = [size, size] if isinstance(size, int) else size
    if any("count" in source for source in sources.values()):
        spec["seed"] = dataset["seed"]
    return json.dumps(spec, sort_keys=True)


rule manifest:
    output:
        manifest="results/{dataset}/manifest.parquet",
        rejects="results/{dataset}/manifest_rejects.parquet",
    input:
        sources=manifest_inputs,
        code=code("commands/manifest"),
    params:
        spec=manifest_spec,
        cache=lambda wildcards: manifest_cache(wildcards.dataset),
    log:
        "logs/{dataset}/manifest.log",
    resources:
        mem_mb=scaled(1000),
        runtime=lambda w, input: 10 + int(input.size_mb / 50 / 60),  # reading every file once, at >= 50 MB/s
    threads: 4
    shell:
        "{UNMASK} manifest --spec {params.spec:q} --cache {params.cache:q} --workers {threads}"
        " --out {output.manifest} --rejects {output.rejects} 2> {log}"
