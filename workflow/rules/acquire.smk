# acquire: bring a non-local source's files into its folder and list them (path, size, sha256).


rule acquire:
    output:
        "data/acquired/{dataset}/{source}.tsv",
    params:
        spec=lambda w: json.dumps(source_spec(w), sort_keys=True),
        code=acquire_code,
    log:
        "logs/{dataset}/acquire/{source}.log",
    localrule: True  # downloads run on the submit host, which has the network
    retries: 2  # on top of the downloader's own retries: a new job resumes from the .part files
    shell:
        "python3 -m unmask acquire --spec {params.spec:q} --out {output:q} 2> {log:q}"
