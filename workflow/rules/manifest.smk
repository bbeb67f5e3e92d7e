# manifest: one row per usable image (id, path, label, source, group, size, sha256); rejects with reasons.


def local_listing(dataset, name, source):
    """A fingerprint of a local folder's images (paths, sizes, modification times).

    As a parameter of the manifest it reruns the stage when an image is added,
    removed or rewritten, without making every image a Snakemake input (which
    costs the DAG ~0.2 ms per file: seconds for Faces-HQ).
    """
    try:
        paths = list_images(source["path"])
    except FileNotFoundError:
        raise WorkflowError(
            f"datasets.{dataset}.sources.{name}: image folder {source['path']} does not exist. "
            f"Put the source's images there, or set its 'path' to the folder that holds them."
        ) from None
    digest = hashlib.sha256()
    for path in paths:
        stat = path.stat()
        digest.update(f"{path}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return f"{len(paths)} images, sha256 {digest.hexdigest()}"


def manifest_inputs(wildcards):
    """Acquired sources: their file lists. Video sources: the crop tables. (Local folders: see local_listing.)"""
    inputs = []
    for name, source in sorted(DATASETS[wildcards.dataset]["sources"].items()):
        if source["method"] != "local":
            inputs.append(f"data/acquired/{wildcards.dataset}/{name}.tsv")
    return inputs + crop_tables(wildcards.dataset)


def source_inputs(dataset, name, source):
    """What the manifest stage reads for a source besides its configuration."""
    if "videos" in source or name in image_crop_sources(dataset):
        return {"crop_tables": crop_tables(dataset)}
    return image_list_inputs(dataset, name, source)


def image_list_inputs(dataset, name, source):
    """Where an image source's images are listed: its acquired file list, or a local folder's fingerprint."""
    if source["method"] != "local":
        return {"file_list": f"data/acquired/{dataset}/{name}.tsv"}
    return {"listing": local_listing(dataset, name, source)}


def manifest_spec(wildcards):
    """What the manifest depends on: the sources, the required image size, and the seed only where a source is sampled."""
    dataset = DATASETS[wildcards.dataset]
    sources = {name: dict(source, **source_inputs(wildcards.dataset, name, source)) for name, source in dataset["sources"].items()}
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
    log:
        "logs/{dataset}/manifest.log",
    resources:
        mem_mb=scaled(1000),
        runtime=lambda w, input: 10 + int(input.size_mb / 50 / 60),  # reading every file once, at >= 50 MB/s
    shell:
        "{UNMASK} manifest --spec {params.spec:q} --out {output.manifest} --rejects {output.rejects} 2> {log}"
