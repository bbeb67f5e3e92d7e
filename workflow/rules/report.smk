# report: the paper's accuracy table with its figure, the spectra per source, and the rejects.


def runs(wildcards, kind="parquet"):
    dataset = DATASETS[wildcards.dataset]
    return [
        f"results/{wildcards.dataset}/runs/{name}/n{size}.{kind}"
        for name in dataset["classifiers"]
        for size in dataset["sizes"]
    ]


rule table:
    output:
        table=report("results/{dataset}_table.csv", caption="../report/table.rst", category="{dataset}", subcategory="tables"),
        metadata="results/{dataset}_table.json",
        figure=report("results/{dataset}/figures/accuracy.png", caption="../report/accuracy.rst", category="{dataset}", subcategory="figures"),
    input:
        runs=runs,
        code=code("commands/report"),
    params:
        classifiers=lambda w: list(DATASETS[w.dataset]["classifiers"]),
    log:
        "logs/{dataset}/table.log",
    localrule: True
    shell:
        "{UNMASK} table {input.runs} --classifiers {params.classifiers} --title {wildcards.dataset}"
        " --out {output.table} --figure {output.figure} 2> {log}"


# Datasets of videos: the same table at frame level, and the video-level verdicts.
use rule table as frames_table with:
    output:
        table=report("results/{dataset}_frames_table.csv", caption="../report/table.rst", category="{dataset}", subcategory="tables"),
        metadata="results/{dataset}_frames_table.json",
        figure=report("results/{dataset}/figures/frames_accuracy.png", caption="../report/accuracy.rst", category="{dataset}", subcategory="figures"),
    log:
        "logs/{dataset}/frames_table.log",


rule videos_table:
    output:
        report("results/{dataset}_videos_table.csv", caption="../report/videos_table.rst", category="{dataset}", subcategory="tables"),
    input:
        predictions=lambda w: runs(w, "predictions.parquet"),
        code=code("commands/report"),
    params:
        classifiers=lambda w: list(DATASETS[w.dataset]["classifiers"]),
        threshold=lambda w: DATASETS[w.dataset]["video"]["vote_threshold"],
    log:
        "logs/{dataset}/videos_table.log",
    localrule: True
    shell:
        "{UNMASK} videos-table {input.predictions} --classifiers {params.classifiers}"
        " --threshold {params.threshold} --out {output} 2> {log}"


rule metrics:
    output:
        report("results/{dataset}/metrics.csv", caption="../report/metrics.rst", category="{dataset}", subcategory="tables"),
    input:
        predictions=lambda w: runs(w, "predictions.parquet"),
        code=code("commands/report"),
    log:
        "logs/{dataset}/metrics.log",
    localrule: True
    shell:
        "{UNMASK} metrics {input.predictions} --dataset {wildcards.dataset} --out {output} 2> {log}"


rule audit:
    output:
        table=report("results/{dataset}/format_audit.csv", caption="../report/audit.rst", category="{dataset}", subcategory="data"),
        warnings="results/{dataset}/format_audit_warnings.txt",
    input:
        manifest="results/{dataset}/manifest.parquet",
        rejects="results/{dataset}/rejects.csv",
        code=code("commands/audit"),
    params:
        labels=lambda w: json.dumps({name: s["label"] for name, s in sorted(DATASETS[w.dataset]["sources"].items())}),
    log:
        "logs/{dataset}/audit.log",
    localrule: True
    shell:
        # Loud: differences between real and fake files also go to the console.
        "{UNMASK} audit --manifest {input.manifest} --rejects {input.rejects} --labels {params.labels:q}"
        " --out {output.table} --warnings {output.warnings} 2> {log}"
        " && cat {output.warnings} >&2"


rule crops_figure:
    output:
        report("results/{dataset}/figures/crops.png", caption="../report/crops.rst", category="{dataset}", subcategory="data"),
    input:
        manifest="results/{dataset}/manifest.parquet",
        code=code("commands/report"),
    log:
        "logs/{dataset}/crops_figure.log",
    localrule: True
    shell:
        "{UNMASK} crops-figure --manifest {input.manifest} --title {wildcards.dataset} --figure {output} 2> {log}"


rule spectra:
    output:
        report("results/{dataset}/figures/spectra.png", caption="../report/spectra.rst", category="{dataset}", subcategory="figures"),
    input:
        features=feature_shards,
        code=code("commands/report"),
    log:
        "logs/{dataset}/spectra.log",
    localrule: True
    shell:
        "{UNMASK} spectra {input.features} --title {wildcards.dataset} --figure {output} 2> {log}"


rule rejects:
    output:
        report("results/{dataset}/rejects.csv", caption="../report/rejects.rst", category="{dataset}", subcategory="data"),
    input:
        features=feature_shards,
        manifest="results/{dataset}/manifest.parquet",
        manifest_rejects="results/{dataset}/manifest_rejects.parquet",
        code=code("commands/report"),
    log:
        "logs/{dataset}/rejects.log",
    localrule: True
    shell:
        "{UNMASK} rejects {input.features} --manifest {input.manifest}"
        " --manifest-rejects {input.manifest_rejects} --out {output} 2> {log}"
