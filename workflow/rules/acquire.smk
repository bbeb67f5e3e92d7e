# acquire: bring a non-local source's files into its folder and list them (path, size, sha256).


def source_spec(wildcards):
    return DATASETS[wildcards.dataset]["sources"][wildcards.source]


def acquire_code(wildcards):
    """The acquisition method's module, and the downloader for every method that downloads."""
    method = source_spec(wildcards)["method"]
    downloader = [] if method == "demo" else ["acquire/download", "acquire/google_drive"]
    return code("io", "file_list", "images", "acquire/__init__", *downloader, f"acquire/{method}")


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
