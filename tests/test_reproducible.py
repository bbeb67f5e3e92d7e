"""Two fresh runs of the workflow on the same data give byte-identical features, tables, metrics and models.

The data are large enough for FFT plans: one shard of 80 images of 1024 x 1024 px, so that any engine
that plans per shape (and may time its candidates) has planned long before the shard ends.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import copy_workflow, snakemake, write_config

SIDE, PER_SOURCE = 1024, 40
CLASSIFIERS = ("svm", "logreg", "kmeans")
OUTPUTS = (
    "results/rep/features/faces_hq/shard-0.parquet",
    "results/rep_table.csv",
    "results/rep/metrics.csv",
    *(f"results/rep/models/{name}.json" for name in CLASSIFIERS),
)


def _pink_noise(side: int, rng: np.random.Generator) -> np.ndarray:
    """Gray noise with a 1/f amplitude spectrum (like photos, and small as JPEG)."""
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(side), np.fft.rfftfreq(side), indexing="ij"))
    f[0, 0] = 1.0
    noise = np.fft.irfft2(np.fft.rfft2(rng.normal(size=(side, side))) / f, s=(side, side))
    return (noise - noise.mean()) / noise.std()


def _write_sources(root: Path) -> dict:
    """A real and a fake folder of distinct JPEGs: shifted copies of one pink noise, fakes nearest-upsampled."""
    rng = np.random.default_rng(0)
    base = _pink_noise(SIDE, rng)
    sources = {}
    for label in ("real", "fake"):
        folder = root / label
        folder.mkdir(parents=True)
        for i in range(PER_SOURCE):
            image = np.roll(base, (37 * i, 91 * i), axis=(0, 1)) + 0.2 * rng.normal(size=base.shape)
            if label == "fake":
                image = image[::2, ::2].repeat(2, axis=0).repeat(2, axis=1)
            cv2.imwrite(str(folder / f"{i:03d}.jpg"), np.clip(128 + 40 * image, 0, 255).astype(np.uint8))
        sources[label] = {"label": label, "path": str(folder)}
    return sources


@pytest.mark.workflow
def test_two_fresh_runs_give_identical_outputs(tmp_path: Path) -> None:
    sources = _write_sources(tmp_path / "data")
    config = {"datasets": {"rep": {"sources": sources, "sizes": [40], "repeats": 2, "shards": 1}}}
    outputs = []
    for run in ("first", "second"):
        (tmp_path / run).mkdir()
        workdir = copy_workflow(tmp_path / run)
        snakemake(workdir, *OUTPUTS, "--configfile", str(write_config(workdir / "rep.yaml", config)))
        outputs.append({name: (workdir / name).read_bytes() for name in OUTPUTS})
    differing = [name for name in OUTPUTS if outputs[0][name] != outputs[1][name]]
    assert not differing, f"two runs on the same data differ in {differing}"
