# acquire: bring a non-local source's files into its folder and list them (path, size, sha256).


def source_spec(wildcards):
    return DATASETS[wildcards.dataset]["sources"][wildcards.source]


rule acquire:
    output:
        "data/acquired/{dataset}/{source}.tsv",
    input:
        code=lambda w: code("io", "acquire/__init__", f"acquire/{source_spec(w)['method']}"),
    params:
        spec=lambda w: json.dumps(source_spec(w), sort_keys=True),
    log:
        "logs/{dataset}/acquire/{source}.log",
    localrule: True
    shell:
        "{UNMASK} acquire --spec {params.spec:q} --out {output} 2> {log}"
