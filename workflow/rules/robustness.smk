# robustness: test images perturbed (JPEG, down-scaling, blur, noise) before the features, one job per
# repeat (the slow analysis: every image of a repeat's sample is decoded, perturbed and transformed once per
# perturbation), then the table and its figure.


rule robustness_repeat:
    output:
        "results/{dataset}/robustness/repeat-{repeat}.parquet",
    input:
        manifest="results/{dataset}/manifest.parquet",
        features=feature_shards,
    params:
        variant=lambda w: DATASETS[w.dataset]["variant"],
        options=feature_options,
        classifiers=lambda w: json.dumps(classifier_specs(w.dataset)),
        perturbations=lambda w: robustness_settings(w.dataset)["perturbations"],
        size=lambda w: robustness_settings(w.dataset)["size"],
        megapixels=lambda w: robustness_settings(w.dataset)["megapixels"],
        protocol=lambda w: protocol_json(w.dataset, robustness_settings(w.dataset)["repeats"]),
        code=code("commands/robustness"),
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
        "python3 -m unmask robustness {input.features:q} --manifest {input.manifest:q} --variant {params.variant:q}"
        " {params.options:q} --classifiers {params.classifiers:q} --perturbations {params.perturbations:q}"
        " --size {params.size:q} --megapixels {params.megapixels:q} --repeat {wildcards.repeat:q}"
        " --protocol {params.protocol:q} --out {output:q} 2> {log:q}"


rule robustness_table:
    output:
        table=report(
            "results/{dataset}_robustness.csv",
            caption="../report/robustness.rst",
            category="{dataset}",
            subcategory="tables",
        ),
        figure=report(
            "results/{dataset}/figures/robustness.png",
            caption="../report/robustness.rst",
            category="{dataset}",
            subcategory="figures",
        ),
        vector="results/{dataset}/figures/robustness.svg",
    input:
        runs=lambda w: [
            f"results/{w.dataset}/robustness/repeat-{r}.parquet"
            for r in range(robustness_settings(w.dataset)["repeats"])
        ],
    params:
        code=code("commands/report"),
    log:
        "logs/{dataset}/robustness_table.log",
    localrule: True
    shell:
        "python3 -m unmask robustness-table {input.runs:q} --title {wildcards.dataset:q} --out {output.table:q}"
        " --figure {output.figure:q} 2> {log:q}"
