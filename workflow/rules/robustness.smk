# robustness: test images perturbed (JPEG, down-scaling, blur, noise) before the features, one job per
# repeat (the slow analysis: every image of a repeat's sample is decoded, perturbed and transformed once per
# perturbation), then the table and its figure.
from unmask.analyses.robustness import parse_perturbations


def classifier_specs(dataset):
    """Every classifier of a dataset by name, with the dataset's scaling and solver settings."""
    return {name: classifier_spec(dataset, name) for name in DATASETS[dataset]["classifiers"]}


def robustness_settings(dataset):
    """A dataset's robustness settings, its perturbation names checked before anything runs."""
    settings = DATASETS[dataset]["robustness"]
    try:
        parse_perturbations(settings["perturbations"])
    except ValueError as error:
        raise WorkflowError(f"datasets.{dataset}.robustness.perturbations: {error}") from None
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
    return 10 + int(images * len(settings["perturbations"]) * 0.02 * 4 / 60 + fits * min(images, dataset["liblinear_above"]) ** 2 / 1e6)


rule robustness_repeat:
    output:
        "results/{dataset}/robustness/repeat-{repeat}.parquet",
    input:
        manifest="results/{dataset}/manifest.parquet",
        features=feature_shards,
        code=code("commands/robustness"),
    params:
        variant=lambda w: DATASETS[w.dataset]["variant"],
        length=rules.features.params.length,
        reencode=rules.features.params.reencode,
        classifiers=lambda w: json.dumps(classifier_specs(w.dataset)),
        perturbations=lambda w: " ".join(robustness_settings(w.dataset)["perturbations"]),
        size=lambda w: robustness_settings(w.dataset)["size"],
        test_fraction=lambda w: DATASETS[w.dataset]["test_fraction"],
        seed=lambda w: DATASETS[w.dataset]["seed"],
        protocol=lambda w: DATASETS[w.dataset]["protocol"],
    log:
        "logs/{dataset}/robustness/repeat-{repeat}.log",
    group:
        "train"  # batched with the training jobs on a cluster
    wildcard_constraints:
        repeat=r"\d+",
    resources:
        mem_mb=scaled(1000, 3),
        runtime=robustness_runtime,
    shell:
        "{UNMASK} robustness {input.features} --manifest {input.manifest} --variant {params.variant} {params.length} {params.reencode}"
        " --classifiers {params.classifiers:q} --perturbations {params.perturbations} --size {params.size}"
        " --repeat {wildcards.repeat} --test-fraction {params.test_fraction} --seed {params.seed} --protocol {params.protocol}"
        " --out {output} 2> {log}"


rule robustness_table:
    output:
        table=report("results/{dataset}_robustness.csv", caption="../report/robustness.rst", category="{dataset}", subcategory="tables"),
        figure=report("results/{dataset}/figures/robustness.png", caption="../report/robustness.rst", category="{dataset}", subcategory="figures"),
    input:
        runs=lambda w: [f"results/{w.dataset}/robustness/repeat-{r}.parquet" for r in range(robustness_settings(w.dataset)["repeats"])],
        code=code("commands/robustness"),
    log:
        "logs/{dataset}/robustness_table.log",
    localrule: True
    shell:
        "{UNMASK} robustness-table {input.runs} --title {wildcards.dataset} --out {output.table} --figure {output.figure} 2> {log}"
