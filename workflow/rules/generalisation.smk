# generalisation: within a dataset, train on one fake source and test on every fake source (cross-source),
# or on every fake source but one and test on that one (leave one generator out);
# across the datasets listed in `cross_dataset`, train on one and test on every one (cross-dataset).


rule cross_source:
    output:
        table=report(
            "results/{dataset}_cross_source.csv",
            caption="../report/cross_source.rst",
            category="{dataset}",
            subcategory="tables",
        ),
        figure=report(
            "results/{dataset}/figures/cross_source.png",
            caption="../report/cross_source.rst",
            category="{dataset}",
            subcategory="figures",
        ),
        vector="results/{dataset}/figures/cross_source.svg",
    input:
        features=feature_shards,
    params:
        spec=lambda w: json.dumps(generalisation_spec(w.dataset)),
        protocol=lambda w: protocol_json(w.dataset),
        code=code("commands/generalisation"),
    log:
        "logs/{dataset}/cross_source.log",
    group:
        "train"  # batched with the training jobs on a cluster
    resources:
        mem_mb=scaled(1000, 3),
    shell:
        "python3 -m unmask cross-source {input.features:q} --spec {params.spec:q} --protocol {params.protocol:q}"
        " --title {wildcards.dataset:q}"
        " --out {output.table:q} --figure {output.figure:q} 2> {log:q}"


rule leave_one_out:
    output:
        table=report(
            "results/{dataset}/leave_one_out.csv",
            caption="../report/leave_one_out.rst",
            category="{dataset}",
            subcategory="tables",
        ),
        figure=report(
            "results/{dataset}/figures/leave_one_out.png",
            caption="../report/leave_one_out.rst",
            category="{dataset}",
            subcategory="figures",
        ),
        vector="results/{dataset}/figures/leave_one_out.svg",
    input:
        features=feature_shards,
    params:
        spec=lambda w: json.dumps(leave_one_out_spec(w.dataset)),  # in the configured order, for the figure
        protocol=lambda w: protocol_json(w.dataset),
        code=code("commands/generalisation"),
    log:
        "logs/{dataset}/leave_one_out.log",
    group:
        "train"  # batched with the training jobs on a cluster
    resources:
        mem_mb=scaled(1000, 3),
    shell:
        "python3 -m unmask leave-one-out {input.features:q} --spec {params.spec:q} --protocol {params.protocol:q}"
        " --title {wildcards.dataset:q}"
        " --out {output.table:q} --figure {output.figure:q} 2> {log:q}"


rule cross_dataset:
    output:
        table=report("results/cross_dataset.csv", caption="../report/cross_dataset.rst", category="cross-dataset"),
        figure=report(
            "results/figures/cross_dataset.png", caption="../report/cross_dataset.rst", category="cross-dataset"
        ),
        vector="results/figures/cross_dataset.svg",
    input:
        features=lambda w: [shard for shards in cross_dataset_shards(w).values() for shard in shards],
    params:
        spec=cross_dataset_spec,
        code=code("commands/generalisation"),
    log:
        "logs/cross_dataset.log",
    resources:
        mem_mb=scaled(1000, 3),
    shell:
        "python3 -m unmask cross-dataset --spec {params.spec:q} --out {output.table:q}"
        " --figure {output.figure:q} 2> {log:q}"
