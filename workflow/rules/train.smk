# train: the paper's protocol for one classifier at one data size, all repeats.


def classifier_spec(dataset, classifier):
    """A classifier's settings with the dataset's feature scaling, SVM solver switch and protocol."""
    settings = DATASETS[dataset]
    return dict(
        settings["classifiers"][classifier],
        standardise=settings["standardise"],
        liblinear_above=settings["liblinear_above"],
        protocol=settings["protocol"],
    )


rule train:
    output:
        runs="results/{dataset}/runs/{classifier}/n{samples}.parquet",
        predictions="results/{dataset}/runs/{classifier}/n{samples}.predictions.parquet",
    input:
        features=feature_shards,
        code=code("commands/train"),
    params:
        spec=lambda w: json.dumps(classifier_spec(w.dataset, w.classifier), sort_keys=True),
        repeats=lambda w: DATASETS[w.dataset]["repeats"],
        test_fraction=lambda w: DATASETS[w.dataset]["test_fraction"],
        seed=lambda w: DATASETS[w.dataset]["seed"],
    log:
        "logs/{dataset}/train/{classifier}/n{samples}.log",
    group:
        "train"
    resources:
        # All features are loaded (the Parquet files expand ~2x in memory); a linear SVC grows
        # quadratically with the samples (minutes at 8k), so its time follows the size squared.
        mem_mb=scaled(1000, 3),
        runtime=lambda w: 10 + int(DATASETS[w.dataset]["repeats"] * int(w.samples) ** 2 / 1e6),
    shell:
        "{UNMASK} train {input.features} --name {wildcards.classifier} --spec {params.spec:q}"
        " --samples {wildcards.samples} --repeats {params.repeats} --test-fraction {params.test_fraction}"
        " --seed {params.seed} --out {output.runs} --predictions {output.predictions} 2> {log}"


rule model:
    output:
        model="results/{dataset}/models/{classifier}.json",
        calibration=report(
            "results/{dataset}/models/{classifier}.calibration.csv",
            caption="../report/calibration.rst",
            category="{dataset}",
            subcategory="models",
        ),
    input:
        features=feature_shards,
        code=code("commands/model"),
    params:
        spec=lambda w: json.dumps(classifier_spec(w.dataset, w.classifier), sort_keys=True),
        variant=lambda w: DATASETS[w.dataset]["variant"],
        seed=lambda w: DATASETS[w.dataset]["seed"],
        face_crops=lambda w: "--face-crops" if trained_on_crops(w.dataset) else "",
    log:
        "logs/{dataset}/models/{classifier}.log",
    group:
        "train"  # batched with the training jobs on a cluster
    resources:
        mem_mb=scaled(1000, 3),
    shell:
        "{UNMASK} model {input.features} --spec {params.spec:q} --dataset {wildcards.dataset}"
        " --variant {params.variant} --seed {params.seed} {params.face_crops} --out {output.model}"
        " --calibration {output.calibration} 2> {log}"
