# generalisation: within a dataset, train on one fake source and test on every fake source (cross-source);
# across the datasets listed in `cross_dataset`, train on one and test on every one (cross-dataset).
from types import SimpleNamespace

from unmask.analyses.generalisation import check_compatible
from unmask.features.spectrum import VARIANTS


def generalisation_spec(dataset):
    """A dataset's protocol for the generalisation analyses: its classifiers, size, repeats, split and seed."""
    settings = DATASETS[dataset]
    return {
        "classifiers": classifier_specs(dataset),
        "size": settings["generalisation"]["size"],
        "repeats": settings["repeats"],
        "test_fraction": settings["test_fraction"],
        "seed": settings["seed"],
    }


def generalisation_targets(name):
    """The cross-source table and figure, for a dataset with at least two fake sources."""
    fakes = [source for source in DATASETS[name]["sources"].values() if source["label"] == "fake"]
    return [f"results/{name}_cross_source.csv", f"results/{name}/figures/cross_source.png"] if len(fakes) >= 2 else []


def configured_features(dataset):
    """The variant and, where known before the features exist, the length of a dataset's features."""
    variant, length = DATASETS[dataset]["variant"], DATASETS[dataset]["spectrum_length"]
    return variant, length or VARIANTS[variant].length


def cross_dataset_targets():
    """The cross-dataset table and figure when `cross_dataset` lists datasets; they are checked first."""
    names = config["cross_dataset"]
    if not names:
        return []
    if set(names) - set(DATASETS) or len(names) < 2:
        raise WorkflowError(f"cross_dataset lists {names}: it takes two or more of the configured datasets {sorted(DATASETS)}")
    try:
        check_compatible({name: configured_features(name) for name in names})
    except ValueError as error:
        raise WorkflowError(f"cross_dataset: {error}") from None
    return ["results/cross_dataset.csv", "results/figures/cross_dataset.png"]


def cross_dataset_shards(wildcards):
    return {name: feature_shards(SimpleNamespace(dataset=name)) for name in config["cross_dataset"]}


rule cross_source:
    output:
        table=report("results/{dataset}_cross_source.csv", caption="../report/cross_source.rst", category="{dataset}", subcategory="tables"),
        figure=report("results/{dataset}/figures/cross_source.png", caption="../report/cross_source.rst", category="{dataset}", subcategory="figures"),
    input:
        features=feature_shards,
        code=code("commands/generalisation"),
    params:
        spec=lambda w: json.dumps(generalisation_spec(w.dataset)),
    log:
        "logs/{dataset}/cross_source.log",
    group:
        "train"  # batched with the training jobs on a cluster
    resources:
        mem_mb=scaled(1000, 3),
    shell:
        "{UNMASK} cross-source {input.features} --spec {params.spec:q} --title {wildcards.dataset}"
        " --out {output.table} --figure {output.figure} 2> {log}"


rule cross_dataset:
    output:
        table=report("results/cross_dataset.csv", caption="../report/cross_dataset.rst", category="cross-dataset"),
        figure=report("results/figures/cross_dataset.png", caption="../report/cross_dataset.rst", category="cross-dataset"),
    input:
        features=lambda w: [shard for shards in cross_dataset_shards(w).values() for shard in shards],
        code=code("commands/generalisation"),
    params:
        spec=lambda w: json.dumps(
            {
                name: dict(generalisation_spec(name), variant=DATASETS[name]["variant"], protocol=DATASETS[name]["protocol"], features=shards)
                for name, shards in cross_dataset_shards(w).items()
            }
        ),
    log:
        "logs/cross_dataset.log",
    resources:
        mem_mb=scaled(1000, 3),
    shell:
        "{UNMASK} cross-dataset --spec {params.spec:q} --out {output.table} --figure {output.figure} 2> {log}"
