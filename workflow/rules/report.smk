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
        table="results/{dataset}_table.csv",
        metadata="results/{dataset}_table.json",
        figure="results/{dataset}/figures/accuracy.png",
    input:
        runs=runs,
        code=code("report"),
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
        table="results/{dataset}_frames_table.csv",
        metadata="results/{dataset}_frames_table.json",
        figure="results/{dataset}/figures/frames_accuracy.png",
    log:
        "logs/{dataset}/frames_table.log",


rule videos_table:
    output:
        "results/{dataset}_videos_table.csv",
    input:
        predictions=lambda w: runs(w, "predictions.parquet"),
        code=code("report"),
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
        "results/{dataset}/metrics.csv",
    input:
        predictions=lambda w: runs(w, "predictions.parquet"),
        code=code("report", "metrics"),
    log:
        "logs/{dataset}/metrics.log",
    localrule: True
    shell:
        "{UNMASK} metrics {input.predictions} --dataset {wildcards.dataset} --out {output} 2> {log}"


rule audit:
    output:
        table="results/{dataset}/format_audit.csv",
        warnings="results/{dataset}/format_audit_warnings.txt",
    input:
        manifest="results/{dataset}/manifest.parquet",
        code=code("audit", "perturb"),
    log:
        "logs/{dataset}/audit.log",
    localrule: True
    shell:
        # Loud: differences between real and fake files also go to the console.
        "{UNMASK} audit --manifest {input.manifest} --out {output.table} --warnings {output.warnings} 2> {log}"
        " && cat {output.warnings} >&2"


rule crops_figure:
    output:
        "results/{dataset}/figures/crops.png",
    input:
        manifest="results/{dataset}/manifest.parquet",
        code=code("report"),
    log:
        "logs/{dataset}/crops_figure.log",
    localrule: True
    shell:
        "{UNMASK} crops-figure --manifest {input.manifest} --title {wildcards.dataset} --figure {output} 2> {log}"


rule spectra:
    output:
        "results/{dataset}/figures/spectra.png",
    input:
        features=feature_shards,
        code=code("report"),
    log:
        "logs/{dataset}/spectra.log",
    localrule: True
    shell:
        "{UNMASK} spectra {input.features} --title {wildcards.dataset} --figure {output} 2> {log}"


rule rejects:
    output:
        "results/{dataset}/rejects.csv",
    input:
        features=feature_shards,
        manifest="results/{dataset}/manifest.parquet",
        manifest_rejects="results/{dataset}/manifest_rejects.parquet",
        code=code("report"),
    log:
        "logs/{dataset}/rejects.log",
    localrule: True
    shell:
        "{UNMASK} rejects {input.features} --manifest {input.manifest}"
        " --manifest-rejects {input.manifest_rejects} --out {output} 2> {log}"
