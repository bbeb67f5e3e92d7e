"""The family comparison end to end on the diffusion sample (skipped where ../shared/data/diffusion is absent)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import REPO, copy_workflow, shared_data, snakemake, write_config

from unmask.data.images import read_gray
from unmask.features import spectrum

pytestmark = pytest.mark.workflow


def test_diffusion_families_as_given_and_harmonised(tmp_path):
    data = shared_data("diffusion")
    workdir = copy_workflow(tmp_path)
    overlay = yaml.safe_load((REPO / "config/diffusion.yaml").read_text())
    dataset = overlay["datasets"]["diffusion"]
    dataset.update(repeats=2, shards=2, classifiers={"logreg": {"kind": "logreg", "C": 1.0}})
    dataset["families"]["compare"] = ["faces_hq", "ycbcr_radial", "decay"]
    for name, source in dataset["sources"].items():
        source.update(path=str(data / name), count=12)  # a seeded sample: a fast test
    config = write_config(workdir / "diffusion.yaml", overlay)
    snakemake(workdir, "results/diffusion/families.csv", "--configfile", str(config))

    table = pd.read_csv(workdir / "results/diffusion/families.csv")
    assert len(table) == 2 * 3 * 3  # images as given and harmonised x families x (whole, low, high band)
    assert set(table["images"]) == {"given", "harmonised"} and set(table["band"]) == {"all", "low", "high"}
    assert table[["accuracy", "roc_auc", "tpr_at_fpr_1"]].notna().all().all()
    assert (table["accuracy_ci_low"] <= table["accuracy"]).all() and (
        table["accuracy"] <= table["accuracy_ci_high"]
    ).all()
    assert (workdir / "results/diffusion/figures/families.png").read_bytes()[:4] == b"\x89PNG"

    manifest = pq.read_table(workdir / "results/diffusion/manifest.parquet").to_pandas().set_index("id")
    for images in ("given", "harmonised"):
        shards = sorted((workdir / f"results/diffusion/families/{images}").glob("shard-*.parquet"))
        rows = pd.concat(pq.read_table(shard).to_pandas() for shard in shards)
        assert len(rows) == 24 and rows["reason"].isna().all()
        for row in rows.itertuples():
            gray = read_gray(manifest.loc[row.id, "path"])
            if images == "harmonised":
                offset = 128 if row.label == 0 else 0  # photos 1024 px, fakes 768 px
                assert row.harmonise == f"crop 768 at x {offset}, y {offset}"
                gray = gray[offset : offset + 768, offset : offset + 768]
            else:
                assert row.harmonise == "as given"
            # the paper's faces_hq, exact; as given the photos' 722 rings are resampled to the fakes' 541
            np.testing.assert_array_equal(row.faces_hq, spectrum.features(gray, spectrum.get_variant("faces_hq", 541)))
