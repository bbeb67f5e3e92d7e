# unmask: "Unmasking DeepFakes with simple Features" (Durall et al. 2019) as a Snakemake workflow.
#   snakemake --cores 4                              the demo table and figures
#   snakemake --cores 16 results/faces_hq_table.csv  the paper's Faces-HQ table
# The stages live in workflow/rules/, one file each; the work itself in the unmask/ package.
from snakemake.utils import min_version

min_version("9.19")


configfile: workflow.source_path("config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/acquire.smk"
include: "workflow/rules/crops.smk"
include: "workflow/rules/manifest.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/robustness.smk"
include: "workflow/rules/generalisation.smk"


rule all:
    default_target: True
    input:
        [dataset_targets(name) for name in config["default_datasets"]],
        [report_pages(name) for name in config["default_datasets"]],
        cross_dataset_targets(),
