"""Acquisition inside the workflow: sources downloaded from a local server, and the offline fallback."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pandas as pd
import pytest
from acquire_server import LocalServer, Resource, closed_port
from conftest import REPO, planned_rules, snakemake, write_config

from unmask.data.acquire import acquire_source
from unmask.data.acquire.demo import make_image, photos
from unmask.data.acquire.download import NetworkUnavailable
from unmask.data.file_list import read_file_list

FAST = {"backoff": 0.01, "retries": 1, "timeout": 5, "progress_interval": 0}
SIDE = 64


def jpeg(style: str, seed: int) -> bytes:
    image = make_image(photos()[seed % 3], style, SIDE, np.random.default_rng(seed))
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()


@pytest.fixture
def server():
    with LocalServer() as server:
        for i in range(12):
            if i != 5:  # index 5 is missing upstream: a 404 to record and skip
                server.add(f"/faces/{i // 4}/{i:06d}.jpg", jpeg("photo", i), content_type="image/jpeg")
        counter = itertools.count()
        server.route("/random-face", lambda query: Resource(jpeg("transposed", 100 + next(counter)), "image/jpeg"))
        yield server


def served_config(server, tmp_path):
    return {
        "default_datasets": ["served"],
        "datasets": {
            "served": {
                "image_size": SIDE,
                "sizes": [16],
                "repeats": 2,
                "shards": 1,
                "sources": {
                    "gallery": {
                        "label": "real",
                        "method": "url_template",
                        "template": server.url("/faces/{d}/{i:06d}.jpg"),
                        "count": 12,
                        "group": 4,
                        "download": FAST,
                    },
                    "generator": {
                        "label": "fake",
                        "method": "scrape",
                        "url": server.url("/random-face"),
                        "count": 11,
                        "delay": 0,
                        "image_size": SIDE,
                        "download": FAST,
                    },
                },
            }
        },
    }


@pytest.mark.workflow
def test_workflow_downloads_its_sources(server, tmp_path):
    config = write_config(tmp_path / "served.yaml", served_config(server, tmp_path))
    workdir = tmp_path / "run"
    workdir.mkdir()
    table = "results/served_table.csv"  # acquisition -> manifest -> features -> the paper's table
    snakemake(workdir, table, "--configfile", str(config), snakefile=REPO / "Snakefile")

    gallery = read_file_list(workdir / "data/acquired/served/gallery.tsv")
    assert len(gallery) == 11 and all(len(row["sha256"]) == 64 for row in gallery)
    assert (workdir / "data/raw/served/gallery/missing.tsv").read_text().count("000005.jpg") == 1
    assert len(read_file_list(workdir / "data/acquired/served/generator.tsv")) == 11
    manifest = pd.read_parquet(workdir / "results/served/manifest.parquet")
    assert sorted(manifest.groupby("source").size()) == [11, 11]
    assert pd.read_csv(workdir / table)["samples"].tolist() == [16]

    hits = len(server.hits())
    assert planned_rules(workdir, "--configfile", str(config), "-s", str(REPO / "Snakefile"), table) == {}
    assert len(server.hits()) == hits, "a finished run asks the server for nothing"


def test_offline_source_falls_back_to_its_folder(tmp_path, capsys):
    folder = tmp_path / "faces"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(jpeg("photo", 1))
    spec = {"method": "scrape", "url": f"http://127.0.0.1:{closed_port()}/", "count": 3, "delay": 0, "download": FAST}
    paths = acquire_source(spec, folder, tmp_path / "faces.tsv")
    assert paths == [folder / "a.jpg"]
    assert [row["path"] for row in read_file_list(tmp_path / "faces.tsv")] == [str(folder / "a.jpg")]
    assert "Using the 1 images already in" in capsys.readouterr().err

    with pytest.raises(NetworkUnavailable, match="set `method: local`"):
        acquire_source(spec, tmp_path / "empty", tmp_path / "empty.tsv")
    assert not (tmp_path / "empty.tsv").exists()
