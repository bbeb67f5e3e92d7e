# Configuration, paths, and every helper and input function of the workflow, grouped by the stage that
# uses them; the other .smk files hold only rules (Snakemake's recommended layout).
import json
import os
import re
import sys
from functools import cache
from pathlib import Path
from types import SimpleNamespace

REPO = Path(workflow.basedir)
sys.path.insert(0, str(REPO))
# Jobs run `python3 -m unmask` of this interpreter, with this workflow's package first on the path.
os.environ.update(
    PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
)

from snakemake.io import contains_wildcard

from unmask.code_closure import code_digest
from unmask.config import ConfigError, load_yaml, validate
from unmask.data.crops import shard_videos
from unmask.data.file_facts import FactsCache
from unmask.data.manifest import listing_fingerprint
from unmask.features.perturb import parse_perturbations
from unmask.features.spectrum import VARIANTS, check_compatible
from unmask.learn.protocol import Protocol


def stop(message):
    """End the run before any job with one message and no traceback (bad configuration, missing data)."""
    print(message, file=sys.stderr)
    raise SystemExit(1)


def configfile_name(path):
    """The file a user wrote: Snakemake reads the workflow's own config.yaml from a cached copy."""
    parts = Path(path).parts
    if "snakemake-runtime-cache" not in parts:
        return str(path)
    original = parts[parts.index("file", parts.index("snakemake-runtime-cache")) + 1 :]
    return str(Path(os.sep, *original))


try:
    for configfile_path in workflow.configfiles:  # Snakemake's loader keeps the last of a duplicate key
        load_yaml(configfile_path)
    config.update(validate(config))
except ConfigError as error:
    stop(str(error).replace(str(configfile_path), configfile_name(configfile_path)))

DATASETS = config["datasets"]


def check_source_folders():
    """Stop when a local source's folder holds the workflow's results/ (its figures and crops would be listed)."""
    results = Path("results").resolve()
    for name, dataset in DATASETS.items():
        for source_name, source in dataset["sources"].items():
            folder = source.get("videos", source.get("path"))
            if source["method"] == "local" and results.is_relative_to(Path(folder).resolve()):
                stop(
                    f"datasets.{name}.sources.{source_name}: the folder {folder} holds the workflow's results/, "
                    "whose figures and crops would become its images; point it at the images' own folder"
                )


check_source_folders()


def names_of(kind):
    """A wildcard constraint: one of the configured (and so validated) names of a kind."""
    if kind == "dataset":
        names = set(DATASETS)
    else:
        names = {name for dataset in DATASETS.values() for name in dataset[kind]}
    return "|".join(map(re.escape, sorted(names)))


wildcard_constraints:
    dataset=names_of("dataset"),
    source=names_of("sources"),
    classifier=names_of("classifiers"),
    variant="|".join(map(re.escape, VARIANTS)),
    shard=r"\d+",
    images="given|harmonised",
    samples=r"\d+|all",


def scaled(base_mb, per_input_mb=0.0):
    """A mem_mb resource: a base plus a multiple of the input size, doubled on each retry.

    The size is read from the files directly: Snakemake's ``input.size_mb`` is a coroutine that the report
    build cannot run, and left "coroutine ... was never awaited" warnings there."""
    return lambda wildcards, input, attempt: int((base_mb + per_input_mb * input_mb(input)) * attempt)


def input_mb(files):
    """The size of a job's existing input files in MiB (a file not made yet counts 0)."""
    return sum(os.path.getsize(f) for f in files if os.path.exists(f)) / 2**20


def code(*modules):
    """A param: the digest of the unmask modules a rule runs and all they import, so that a change to their
    code (not a touch, a move, a comment) reruns the rule."""
    return code_digest(*modules)


def dataset_targets(name):
    """Everything a dataset's results consist of."""
    common = [f"results/{name}/figures/spectra.png", f"results/{name}/rejects.csv", f"results/{name}/metrics.csv"]
    common += [f"results/{name}/format_audit.csv"]
    common += robustness_targets(name) + generalisation_targets(name)
    common += [f"results/{name}/models/{classifier}.json" for classifier in DATASETS[name]["classifiers"]]
    if video_sources(name):
        return common + [
            f"results/{name}_frames_table.csv",
            f"results/{name}_videos_table.csv",
            f"results/{name}/figures/frames_accuracy.png",
            f"results/{name}/figures/crops.png",
        ]
    common += family_targets(name)
    crops = [f"results/{name}/figures/crops.png"] if DATASETS[name]["faces"]["crop"] else []
    return common + [f"results/{name}_table.csv", f"results/{name}/figures/accuracy.png"] + crops


def feature_shards(wildcards):
    dataset = DATASETS[wildcards.dataset]
    return [
        f"results/{wildcards.dataset}/features/{dataset['variant']}/shard-{k}.parquet" for k in range(dataset["shards"])
    ]


def feature_options(wildcards):
    """The feature command's optional arguments: spectrum length and JPEG re-encoding, where set."""
    dataset = DATASETS[wildcards.dataset]
    options = []
    if dataset["spectrum_length"]:
        options += ["--length", dataset["spectrum_length"]]
    if dataset["reencode_quality"]:
        options += ["--reencode", dataset["reencode_quality"]]
    return options


def family_targets(name):
    """The family comparison's table and figure, for a dataset that compares families."""
    if not DATASETS[name]["families"]["compare"]:
        return []
    return [f"results/{name}/families.csv", f"results/{name}/figures/families.png"]


def family_shards(wildcards, images="given"):
    return [
        f"results/{wildcards.dataset}/families/{images}/shard-{k}.parquet"
        for k in range(DATASETS[wildcards.dataset]["shards"])
    ]


def harmonised_family_shards(wildcards):
    """The harmonised images' family shards, where the dataset harmonises."""
    return family_shards(wildcards, "harmonised") if DATASETS[wildcards.dataset]["harmonise"] else []


def family_shard_spec(wildcards):
    """The families (with the band split) of a shard, and the harmonising of its images."""
    dataset = DATASETS[wildcards.dataset]
    harmonise = dataset["harmonise"] if wildcards.images == "harmonised" else None
    if wildcards.images == "harmonised" and not harmonise:
        stop(f"datasets.{wildcards.dataset}: harmonised families need `harmonise` (crop, jpeg_quality)")
    families = dataset["families"]
    spec = {"families": families["compare"], "band_split": families["band_split"], "harmonise": harmonise}
    return json.dumps(dict(spec, spectrum_length=dataset["spectrum_length"]), sort_keys=True)


def family_table_spec(wildcards):
    """The comparison's families, band split, classifiers and size (its protocol is `protocol_json`'s)."""
    families = DATASETS[wildcards.dataset]["families"]
    spec = dict(generalisation_spec(wildcards.dataset), families=families["compare"], band_split=families["band_split"])
    spec["size"] = families["size"]
    return json.dumps(spec, sort_keys=True)


# acquire


def source_spec(wildcards):
    return DATASETS[wildcards.dataset]["sources"][wildcards.source]


def acquire_code(wildcards):
    """The acquire command and the method's module, which it loads by name."""
    return code("commands/acquire", f"data/acquire/{source_spec(wildcards)['method']}")


# crops: face crops of video frames (always) and of images (faces.crop)


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
        stop(
            missing_data_message(dataset)
            or f"datasets.{dataset}: {error}. Put the videos there, or set the source's 'videos' path."
        )


def crop_shards(dataset):
    """Shards with videos; every shard when images are cropped (their lists may not exist before acquisition)."""
    if image_crop_sources(dataset):
        return list(range(DATASETS[dataset]["shards"]))
    return list(videos_by_shard(dataset))


def crop_tables(dataset):
    return [f"results/{dataset}/crops/shard-{k}.parquet" for k in crop_shards(dataset)]


def crop_inputs(wildcards):
    """The shard's videos, and the file lists of acquired image sources that are cropped. A video whose path
    Snakemake would read as a wildcard pattern (`clip {1}.mp4`) cannot be an input: see `brace_named_videos`."""
    shard = videos_by_shard(wildcards.dataset).get(int(wildcards.shard), [])
    videos = [v["path"] for v in shard if not contains_wildcard(v["path"])]
    lists = [
        f"data/acquired/{wildcards.dataset}/{name}.tsv"
        for name, source in sorted(image_crop_sources(wildcards.dataset).items())
        if source["method"] != "local"
    ]
    return videos + lists


def crops_spec(wildcards):
    dataset = DATASETS[wildcards.dataset]
    sources = video_sources(wildcards.dataset)
    cache = FactsCache(manifest_cache(wildcards.dataset))
    images = {
        name: dict(source, **image_list_inputs(wildcards.dataset, name, source, cache))
        for name, source in image_crop_sources(wildcards.dataset).items()
    }
    sampled = any("count" in s for s in [*sources.values(), *images.values()])
    spec = {"sources": sources, "images": images, "seed": dataset["seed"] if sampled else 0}
    faces = {key: value for key, value in dataset["faces"].items() if key != "crop"}  # crop picks the sources
    spec.update(frames=dataset["video"]["frames"], faces=faces, pixel_limit=pixel_limit(wildcards.dataset))
    if braced := brace_named_videos(wildcards.dataset, cache):
        spec["brace_named_videos"] = braced
    cache.save()
    return json.dumps(spec, sort_keys=True)


def brace_named_videos(dataset, cache):
    """sha256 of each video whose path is no Snakemake input (`crop_inputs`): as a parameter of the crops,
    new bytes rerun them as an input's would."""
    paths = [Path(v["path"]) for shard in videos_by_shard(dataset).values() for v in shard]
    braced = sorted(path for path in paths if contains_wildcard(str(path)))
    return {str(path): digest for path, digest in cache.digests(braced).items()}


# manifest


def pixel_limit(dataset):
    """The most pixels an image of ``dataset`` may have, with the setting to name when one has more."""
    return {"pixels": DATASETS[dataset]["max_pixels"], "setting": f"datasets.{dataset}.max_pixels"}


def manifest_cache(dataset):
    """Hashes and header facts of a dataset's files from earlier builds (see unmask/data/file_facts.py)."""
    return f"results/{dataset}/manifest_cache.parquet"


def local_listing(dataset, name, source, cache):
    """A fingerprint of what a local folder gives the manifest: its selected images' names and contents, and
    the entries its listing skipped.

    As a parameter of the manifest it reruns the stage when an image is added,
    removed or rewritten, without making every image a Snakemake input (which
    costs the DAG ~0.2 ms per file: seconds for Faces-HQ). Only files whose
    size, modification time or inode changed are hashed (``cache``), and file
    times are not part of it: a ``touch`` reruns nothing.
    """
    try:
        return listing_fingerprint(name, source, DATASETS[dataset]["seed"], cache)
    except FileNotFoundError:
        stop(missing_data_message(dataset))  # every missing folder of the dataset at once


def manifest_inputs(wildcards):
    """Acquired sources: their file lists. Video sources: the crop tables. (Local folders: see local_listing.)"""
    inputs = []
    for name, source in sorted(DATASETS[wildcards.dataset]["sources"].items()):
        if source["method"] != "local":
            inputs.append(f"data/acquired/{wildcards.dataset}/{name}.tsv")
    return inputs + crop_tables(wildcards.dataset)


def source_inputs(dataset, name, source, cache):
    """What the manifest stage reads for a source besides its configuration."""
    if "videos" in source or name in image_crop_sources(dataset):
        return {"crop_tables": crop_tables(dataset)}
    return image_list_inputs(dataset, name, source, cache)


def image_list_inputs(dataset, name, source, cache):
    """Where an image source's images are listed: its acquired file list, or a local folder's fingerprint."""
    if source["method"] != "local":
        return {"file_list": f"data/acquired/{dataset}/{name}.tsv"}
    return {"listing": local_listing(dataset, name, source, cache)}


def manifest_spec(wildcards):
    """What the manifest depends on: sources, image size, pixel limit, and the seed where a source is sampled."""
    dataset = DATASETS[wildcards.dataset]
    cache = FactsCache(manifest_cache(wildcards.dataset))
    sources = {
        name: dict(source, **source_inputs(wildcards.dataset, name, source, cache))
        for name, source in dataset["sources"].items()
    }
    cache.save()
    spec = {"sources": sources}
    spec["pixel_limit"] = pixel_limit(wildcards.dataset)
    if video_sources(wildcards.dataset):
        spec["split_by"] = dataset["video"]["split_by"]
    if size := dataset.get("image_size"):
        spec["image_size"] = [size, size] if isinstance(size, int) else size
    if any("count" in source for source in sources.values()):
        spec["seed"] = dataset["seed"]
    return json.dumps(spec, sort_keys=True)


# train, model and report


def classifier_spec(dataset, classifier, classifiers=None):
    """A classifier's settings (of the dataset's classifiers unless given) with the dataset's feature scaling
    and SVM solver switch."""
    settings = DATASETS[dataset]
    return dict(
        (classifiers or settings["classifiers"])[classifier],
        standardise=settings["standardise"],
        liblinear_above=settings["liblinear_above"],
    )


def classifier_specs(dataset):
    """Every classifier of a dataset by name, with the dataset's scaling and solver settings."""
    return {name: classifier_spec(dataset, name) for name in DATASETS[dataset]["classifiers"]}


def protocol_json(dataset, repeats=None):
    """A dataset's protocol, from its validated settings (with other ``repeats`` where given): the one
    way every job that draws repeats receives it, as ``--protocol {params.protocol:q}``."""
    settings = DATASETS[dataset]
    return Protocol.of(dict(settings, repeats=repeats or settings["repeats"])).to_json()


def runs(wildcards, kind="parquet"):
    dataset = DATASETS[wildcards.dataset]
    return [
        f"results/{wildcards.dataset}/runs/{name}/n{size}.{kind}"
        for name in dataset["classifiers"]
        for size in dataset["sizes"]
    ]


# robustness


def robustness_settings(dataset):
    """A dataset's robustness settings, its perturbation names checked before anything runs."""
    settings = DATASETS[dataset]["robustness"]
    try:
        parse_perturbations(settings["perturbations"])
    except ValueError as error:
        stop(f"datasets.{dataset}.robustness.perturbations: {error}")
    return settings


def robustness_targets(name):
    """A dataset's robustness table and figure (its perturbations checked first)."""
    robustness_settings(name)
    return [f"results/{name}_robustness.csv", f"results/{name}/figures/robustness.png"]


def robustness_runtime(wildcards, input):
    """Minutes: ~20 ms per image and perturbation at 1024 px (decode, perturb, FFT), 4x margin, plus the
    fits, timed as in `train` up to the size where liblinear takes over (the manifest holds ~150 bytes per image)."""
    dataset, settings = DATASETS[wildcards.dataset], robustness_settings(wildcards.dataset)
    images = os.path.getsize(input.manifest) / 150 if settings["size"] == "all" else settings["size"]
    fits = len(dataset["classifiers"]) * (2 * len(settings["perturbations"]) + 1)
    perturbing = images * len(settings["perturbations"]) * 0.02 * 4 / 60
    return 10 + int(perturbing + fits * min(images, dataset["liblinear_above"]) ** 2 / 1e6)


# generalisation


def generalisation_spec(dataset):
    """A dataset's generalisation analyses besides its protocol: its classifiers and size."""
    return {"classifiers": classifier_specs(dataset), "size": DATASETS[dataset]["generalisation"]["size"]}


def leave_one_out_spec(dataset):
    """The generalisation spec with the dataset's classifiers and its leave_one_out_classifiers after them."""
    own, extra = DATASETS[dataset]["classifiers"], DATASETS[dataset]["generalisation"]["leave_one_out_classifiers"]
    classifiers = {**own, **{name: spec for name, spec in extra.items() if name not in own}}
    specs = {name: classifier_spec(dataset, name, classifiers) for name in classifiers}
    return dict(generalisation_spec(dataset), classifiers=specs)


def generalisation_targets(name):
    """The cross-source and leave-one-generator-out tables and figures, for a dataset with two or more fake sources."""
    fakes = [source for source in DATASETS[name]["sources"].values() if source["label"] == "fake"]
    if len(fakes) < 2:
        return []
    return [
        f"results/{name}_cross_source.csv",
        f"results/{name}/figures/cross_source.png",
        f"results/{name}/leave_one_out.csv",
        f"results/{name}/figures/leave_one_out.png",
    ]


def configured_features(dataset):
    """The variant and, where known before the features exist, the length of a dataset's features."""
    variant, length = DATASETS[dataset]["variant"], DATASETS[dataset]["spectrum_length"]
    return variant, length or VARIANTS[variant].length


def cross_dataset_targets():
    """The cross-dataset table and figure when `cross_dataset` lists datasets (checked against each other first)."""
    names = config["cross_dataset"]
    if not names:
        return []
    try:
        check_compatible({name: configured_features(name) for name in names})
    except ValueError as error:
        stop(f"cross_dataset: {error}")
    return ["results/cross_dataset.csv", "results/figures/cross_dataset.png"]


def cross_dataset_shards(wildcards):
    return {name: feature_shards(SimpleNamespace(dataset=name)) for name in config["cross_dataset"]}


def cross_dataset_spec(wildcards):
    return json.dumps(
        {
            name: dict(
                generalisation_spec(name),
                variant=DATASETS[name]["variant"],
                protocol=json.loads(protocol_json(name)),
                features=shards,
            )
            for name, shards in cross_dataset_shards(wildcards).items()
        }
    )


# missing data


# Overlays that download a dataset's sources instead: (file, expected size and time).
DOWNLOADS = {
    "faces_hq": (
        "config/faces_hq_download.yaml",
        "roughly 20 GB and at least 6 hours (thispersondoesnotexist.com is asked once per 2 s for\n"
        "    10,000 images); CelebA-HQ's CelebAMask-HQ.zip (~3 GB) must still be fetched by hand, as that file says",
    )
}


def folder_problem(source):
    """Why a local source's folder cannot be listed: it is a file, or it does not exist."""
    kind, folder = ("video", source["videos"]) if "videos" in source else ("image", source["path"])
    if os.path.exists(folder):
        return f"{folder} is a file, not a folder"
    return f"{kind} folder {folder} does not exist"


def missing_data_message(name):
    """None, or the one message for a dataset whose local image or video folders are missing."""
    missing = {
        source_name: source
        for source_name, source in DATASETS[name]["sources"].items()
        if source["method"] == "local" and not os.path.isdir(source.get("videos", source.get("path")))
    }
    if not missing:
        return None
    lines = [f"Dataset {name}: {len(missing)} source folder(s) missing:"]
    lines += [f"  datasets.{name}.sources.{source_name}: {folder_problem(s)}" for source_name, s in missing.items()]
    lines.append("Two ways forward:")
    lines.append("  - put each source's images (or videos) in its folder, or set the source's `path` to the folder")
    lines.append("    that holds them;")
    if name in DOWNLOADS:
        overlay, expected = DOWNLOADS[name]
        lines.append(f"  - or add `--configfile {overlay}` to the command to download them:\n    {expected}.")
    else:
        lines.append("  - or give the sources an acquisition `method` (see the README) to download them.")
    return "\n".join(lines)


# report pages

# The report's pages: each results table as HTML, the data checks, and a card per stored model. A table
# of a new analysis joins with one line here: its name, its CSV, its caption and (paper tables) its .json.
REPORT_TABLES = {
    "table": ("results/{dataset}_table.csv", "table.rst", "results/{dataset}_table.json"),
    "frames_table": ("results/{dataset}_frames_table.csv", "table.rst", "results/{dataset}_frames_table.json"),
    "videos_table": ("results/{dataset}_videos_table.csv", "videos_table.rst", None),
    "metrics": ("results/{dataset}/metrics.csv", "metrics.rst", None),
    "robustness": ("results/{dataset}_robustness.csv", "robustness.rst", None),
    "cross_source": ("results/{dataset}_cross_source.csv", "cross_source.rst", None),
    "leave_one_out": ("results/{dataset}/leave_one_out.csv", "leave_one_out.rst", None),
    "families": ("results/{dataset}/families.csv", "families.rst", None),
}


CAPTIONS = os.path.join(workflow.basedir, "workflow", "report")


def report_pages(name):
    """The report pages of a dataset: one per results table it makes, its data checks, one card per model."""
    targets = set(dataset_targets(name))
    tables = [t for t, (csv, _, _) in REPORT_TABLES.items() if csv.format(dataset=name) in targets]
    models = [f"results/{name}/report/model_{c}.html" for c in DATASETS[name]["classifiers"]]
    return [f"results/{name}/report/{t}.html" for t in tables] + [f"results/{name}/report/data.html"] + models


def report_table_input(wildcards):
    csv, _, metadata = REPORT_TABLES[wildcards.table]
    files = {"table": csv.format(dataset=wildcards.dataset)}
    return files | ({"metadata": metadata.format(dataset=wildcards.dataset)} if metadata else {})


def report_table_caption(wildcards):
    """The table's report caption, as text: a parameter, so that its content (not its file's time) counts."""
    return Path(CAPTIONS, REPORT_TABLES[wildcards.table][1]).read_text()
