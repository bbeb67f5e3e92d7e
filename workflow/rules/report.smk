# report: the paper's accuracy table with its figure, the spectra per source, and the rejects.


rule table:
    output:
        table=report(
            "results/{dataset}_table.csv", caption="../report/table.rst", category="{dataset}", subcategory="tables"
        ),
        metadata="results/{dataset}_table.json",
        figure=report(
            "results/{dataset}/figures/accuracy.png",
            caption="../report/accuracy.rst",
            category="{dataset}",
            subcategory="figures",
        ),
        vector="results/{dataset}/figures/accuracy.svg",
    input:
        runs=runs,
    params:
        classifiers=lambda w: list(DATASETS[w.dataset]["classifiers"]),
        code=code("commands/report"),
    log:
        "logs/{dataset}/table.log",
    localrule: True
    shell:
        "python3 -m unmask table {input.runs:q} --classifiers {params.classifiers:q} --title {wildcards.dataset:q}"
        " --out {output.table:q} --figure {output.figure:q} 2> {log:q}"


# Datasets of videos: the same table at frame level, and the video-level verdicts.
use rule table as frames_table with:
    output:
        table=report(
            "results/{dataset}_frames_table.csv",
            caption="../report/table.rst",
            category="{dataset}",
            subcategory="tables",
        ),
        metadata="results/{dataset}_frames_table.json",
        figure=report(
            "results/{dataset}/figures/frames_accuracy.png",
            caption="../report/accuracy.rst",
            category="{dataset}",
            subcategory="figures",
        ),
        vector="results/{dataset}/figures/frames_accuracy.svg",
    log:
        "logs/{dataset}/frames_table.log",


rule videos_table:
    output:
        report(
            "results/{dataset}_videos_table.csv",
            caption="../report/videos_table.rst",
            category="{dataset}",
            subcategory="tables",
        ),
    input:
        predictions=lambda w: runs(w, "predictions.parquet"),
    params:
        classifiers=lambda w: list(DATASETS[w.dataset]["classifiers"]),
        threshold=lambda w: DATASETS[w.dataset]["video"]["vote_threshold"],
        code=code("commands/report"),
    log:
        "logs/{dataset}/videos_table.log",
    localrule: True
    shell:
        "python3 -m unmask videos-table {input.predictions:q} --classifiers {params.classifiers:q}"
        " --threshold {params.threshold:q} --out {output:q} 2> {log:q}"


rule metrics:
    output:
        report(
            "results/{dataset}/metrics.csv",
            caption="../report/metrics.rst",
            category="{dataset}",
            subcategory="tables",
        ),
    input:
        predictions=lambda w: runs(w, "predictions.parquet"),
    params:
        code=code("commands/report"),
    log:
        "logs/{dataset}/metrics.log",
    localrule: True
    shell:
        "python3 -m unmask metrics {input.predictions:q} --dataset {wildcards.dataset:q} --out {output:q} 2> {log:q}"


rule audit:
    output:
        table=report(
            "results/{dataset}/format_audit.csv",
            caption="../report/audit.rst",
            category="{dataset}",
            subcategory="data",
        ),
        warnings="results/{dataset}/format_audit_warnings.txt",
    input:
        manifest="results/{dataset}/manifest.parquet",
        rejects="results/{dataset}/rejects.csv",
    params:
        code=code("commands/audit"),
        labels=lambda w: json.dumps({name: s["label"] for name, s in sorted(DATASETS[w.dataset]["sources"].items())}),
        harmonise=lambda w: json.dumps(DATASETS[w.dataset]["harmonise"], sort_keys=True),
    log:
        "logs/{dataset}/audit.log",
    localrule: True
    shell:
        # Loud: differences between real and fake files also go to the console.
        "python3 -m unmask audit --manifest {input.manifest:q} --rejects {input.rejects:q} --labels {params.labels:q}"
        " --harmonise {params.harmonise:q} --out {output.table:q} --warnings {output.warnings:q} 2> {log:q} && cat {output.warnings:q} >&2"


rule crops_figure:
    output:
        figure=report(
            "results/{dataset}/figures/crops.png",
            caption="../report/crops.rst",
            category="{dataset}",
            subcategory="data",
        ),
        vector="results/{dataset}/figures/crops.svg",
    input:
        manifest="results/{dataset}/manifest.parquet",
    params:
        code=code("commands/report"),
    log:
        "logs/{dataset}/crops_figure.log",
    localrule: True
    shell:
        "python3 -m unmask crops-figure --manifest {input.manifest:q} --title {wildcards.dataset:q}"
        " --figure {output.figure:q} 2> {log:q}"


rule spectra:
    output:
        figure=report(
            "results/{dataset}/figures/spectra.png",
            caption="../report/spectra.rst",
            category="{dataset}",
            subcategory="figures",
        ),
        vector="results/{dataset}/figures/spectra.svg",
    input:
        features=feature_shards,
        manifest="results/{dataset}/manifest.parquet",
    params:
        variant=lambda w: DATASETS[w.dataset]["variant"],
        code=code("commands/report"),
    log:
        "logs/{dataset}/spectra.log",
    localrule: True
    shell:
        "python3 -m unmask spectra {input.features:q} --manifest {input.manifest:q} --variant {params.variant:q}"
        " --title {wildcards.dataset:q} --figure {output.figure:q} 2> {log:q}"


rule rejects:
    output:
        report(
            "results/{dataset}/rejects.csv", caption="../report/rejects.rst", category="{dataset}", subcategory="data"
        ),
    input:
        features=feature_shards,
        manifest="results/{dataset}/manifest.parquet",
        manifest_rejects="results/{dataset}/manifest_rejects.parquet",
    params:
        code=code("commands/report"),
    log:
        "logs/{dataset}/rejects.log",
    localrule: True
    shell:
        "python3 -m unmask rejects {input.features:q} --manifest {input.manifest:q}"
        " --manifest-rejects {input.manifest_rejects:q} --out {output:q} 2> {log:q}"


# the feature family comparison, with its band control, as given and harmonised (datasets.<name>.families)
rule families_table:
    output:
        table=report(
            "results/{dataset}/families.csv",
            caption="../report/families.rst",
            category="{dataset}",
            subcategory="tables",
        ),
        figure=report(
            "results/{dataset}/figures/families.png",
            caption="../report/families.rst",
            category="{dataset}",
            subcategory="figures",
        ),
        vector="results/{dataset}/figures/families.svg",
    input:
        given=family_shards,
        harmonised=harmonised_family_shards,
    params:
        spec=family_table_spec,
        protocol=lambda w: protocol_json(w.dataset),
        code=code("commands/families"),
    log:
        "logs/{dataset}/families_table.log",
    group:
        "train"
    resources:
        mem_mb=scaled(1000, 3),
    shell:
        "python3 -m unmask families-table --given {input.given:q} --harmonised {input.harmonised:q}"
        " --spec {params.spec:q} --protocol {params.protocol:q} --title {wildcards.dataset:q} --out {output.table:q} --figure {output.figure:q} 2> {log:q}"


# The report's pages: each results table as HTML (REPORT_TABLES in common.smk), the data checks, a card per model.


rule report_table:
    output:
        report(
            "results/{dataset}/report/{table}.html",
            caption="../report/page.rst",
            category="{dataset}",
            subcategory="tables",
        ),
    input:
        unpack(report_table_input),
    params:
        metadata=lambda w, input: ["--metadata", input.metadata] if "metadata" in input.keys() else [],
        title=lambda w: f"{w.dataset}: {w.table.replace('_', ' ')}",
        caption=report_table_caption,
        code=code("commands/pages"),
    wildcard_constraints:
        table="|".join(REPORT_TABLES),
    log:
        "logs/{dataset}/report/{table}.log",
    localrule: True
    shell:
        "python3 -m unmask report-table {input.table:q} --title {params.title:q}"
        " --caption {params.caption:q} {params.metadata:q} --out {output:q} 2> {log:q}"


rule data_page:
    output:
        report(
            "results/{dataset}/report/data.html",
            caption="../report/data_page.rst",
            category="{dataset}",
            subcategory="data",
        ),
    input:
        audit="results/{dataset}/format_audit.csv",
        warnings="results/{dataset}/format_audit_warnings.txt",
        rejects="results/{dataset}/rejects.csv",
    params:
        title=lambda w: f"{w.dataset}: data checks",
        code=code("commands/pages"),
    log:
        "logs/{dataset}/report/data.log",
    localrule: True
    shell:
        "python3 -m unmask data-page --audit {input.audit:q} --warnings {input.warnings:q} --rejects {input.rejects:q}"
        " --title {params.title:q} --out {output:q} 2> {log:q}"


rule model_card:
    output:
        report(
            "results/{dataset}/report/model_{classifier}.html",
            caption="../report/model_card.rst",
            category="{dataset}",
            subcategory="models",
        ),
    input:
        model="results/{dataset}/models/{classifier}.json",
        calibration="results/{dataset}/models/{classifier}.calibration.csv",
    params:
        title=lambda w: f"{w.dataset}: {w.classifier}",
        code=code("commands/pages"),
    log:
        "logs/{dataset}/report/model_{classifier}.log",
    localrule: True
    shell:
        "python3 -m unmask model-card {input.model:q} --calibration {input.calibration:q}"
        " --title {params.title:q} --out {output:q} 2> {log:q}"
