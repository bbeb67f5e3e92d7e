# train: the paper's protocol for one classifier at one data size, all repeats.


rule train:
    output:
        runs="results/{dataset}/runs/{classifier}/n{samples}.parquet",
        predictions="results/{dataset}/runs/{classifier}/n{samples}.predictions.parquet",
    input:
        features=feature_shards,
    params:
        spec=lambda w: json.dumps(classifier_spec(w.dataset, w.classifier), sort_keys=True),
        protocol=lambda w: protocol_json(w.dataset),
        code=code("commands/train"),
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
        "python3 -m unmask train {input.features:q} --name {wildcards.classifier:q} --spec {params.spec:q}"
        " --samples {wildcards.samples:q} --protocol {params.protocol:q}"
        " --out {output.runs:q} --predictions {output.predictions:q} 2> {log:q}"


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
        manifest="results/{dataset}/manifest.parquet",
    params:
        spec=lambda w: json.dumps(classifier_spec(w.dataset, w.classifier), sort_keys=True),
        variant=lambda w: DATASETS[w.dataset]["variant"],
        seed=lambda w: DATASETS[w.dataset]["seed"],
        face_crops=lambda w: ["--face-crops"] if trained_on_crops(w.dataset) else [],
        code=code("commands/model"),
    log:
        "logs/{dataset}/models/{classifier}.log",
    group:
        "train"  # batched with the training jobs on a cluster
    resources:
        mem_mb=scaled(1000, 3),
    shell:
        "python3 -m unmask model {input.features:q} --spec {params.spec:q} --dataset {wildcards.dataset:q}"
        " --variant {params.variant:q} --seed {params.seed:q} {params.face_crops:q} --out {output.model:q}"
        " --manifest {input.manifest:q} --calibration {output.calibration:q} 2> {log:q}"
