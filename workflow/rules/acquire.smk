# acquire: bring a non-local source's files into its folder and list them (path, size, sha256).


def source_spec(wildcards):
    return DATASETS[wildcards.dataset]["sources"][wildcards.source]


def acquire_code(wildcards):
    """The acquire command and the method's module, which it loads by name."""
    return code("commands/acquire", f"data/acquire/{source_spec(wildcards)['method']}")


rule acquire:
    output:
        "data/acquired/{dataset}/{source}.tsv",
    input:
        code=acquire_code,
    params:
        spec=lambda w: json.dumps(source_spec(w), sort_keys=True),
    log:
        "logs/{dataset}/acquire/{source}.log",
    localrule: True  # downloads run on the submit host, which has the network
    retries: 2  # on top of the downloader's own retries: a new job resumes from the .part files
    shell:
        "{UNMASK} acquire --spec {params.spec:q} --out {output} 2> {log}"
