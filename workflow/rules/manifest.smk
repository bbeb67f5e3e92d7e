# manifest: one row per usable image (id, path, label, source, group, size, sha256); rejects with reasons.


rule manifest:
    output:
        manifest="results/{dataset}/manifest.parquet",
        rejects="results/{dataset}/manifest_rejects.parquet",
    input:
        sources=manifest_inputs,
    params:
        spec=manifest_spec,
        code=code("commands/manifest"),
        cache=lambda w: manifest_cache(w.dataset),
    log:
        "logs/{dataset}/manifest.log",
    resources:
        mem_mb=scaled(1000),
        runtime=lambda w, input: 10 + int(input.size_mb / 50 / 60),  # reading every file once, at >= 50 MB/s
    threads: 4
    shell:
        "python3 -m unmask manifest --spec {params.spec:q} --cache {params.cache:q} --workers {threads:q}"
        " --out {output.manifest:q} --rejects {output.rejects:q} 2> {log:q}"
