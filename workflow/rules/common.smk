# Configuration, paths and helpers shared by every rule.
import hashlib
import json
import os
import re
import sys
from pathlib import Path

REPO = Path(workflow.basedir)
sys.path.insert(0, str(REPO))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))

from unmask.code_closure import code_files
from unmask.config import ConfigError, validate
from unmask.data.images import list_images

try:
    config.update(validate(config))
except ConfigError as error:
    raise WorkflowError(str(error)) from None

UNMASK = f"{sys.executable} -m unmask"
DATASETS = config["datasets"]


wildcard_constraints:
    dataset="|".join(map(re.escape, DATASETS)),
    variant="faces_hq|celeba|dfd",
    shard=r"\d+",
    samples=r"\d+|all",


def scaled(base_mb, per_input_mb=0.0):
    """A mem_mb resource: a base plus a multiple of the input size, doubled on each retry."""
    return lambda wildcards, input, attempt: int((base_mb + per_input_mb * input.size_mb) * attempt)


def code(*modules):
    """The unmask modules a rule runs and all they import: inputs, so that editing any of them reruns the rule."""
    return code_files(*modules)


def dataset_targets(name):
    """Everything a dataset's results consist of."""
    common = [f"results/{name}/figures/spectra.png", f"results/{name}/rejects.csv", f"results/{name}/metrics.csv"]
    common += [f"results/{name}/format_audit.csv"]
    common += robustness_targets(name) + generalisation_targets(name)
    common += [f"results/{name}/models/{classifier}.json" for classifier in DATASETS[name]["classifiers"]]
    if any("videos" in source for source in DATASETS[name]["sources"].values()):
        return common + [
            f"results/{name}_frames_table.csv",
            f"results/{name}_videos_table.csv",
            f"results/{name}/figures/frames_accuracy.png",
            f"results/{name}/figures/crops.png",
        ]
    crops = [f"results/{name}/figures/crops.png"] if DATASETS[name]["faces"]["crop"] else []
    return common + [f"results/{name}_table.csv", f"results/{name}/figures/accuracy.png"] + crops


def feature_shards(wildcards):
    dataset = DATASETS[wildcards.dataset]
    return [
        f"results/{wildcards.dataset}/features/{dataset['variant']}/shard-{k}.parquet"
        for k in range(dataset["shards"])
    ]
