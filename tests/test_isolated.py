"""Decoders in a child process: a native crash costs one item, the others go on."""

from __future__ import annotations

import ctypes
import os

import pytest

from unmask.data.isolated import ChildCrashed, Isolated


class Doubler:
    """A worker that segfaults on "crash" (as libjpeg did on a lossless JPEG) and prints to the native stderr."""

    def __init__(self, factor: int):
        self.factor = factor

    def __call__(self, item: str) -> str:
        os.write(2, b"libjpeg: a native warning\n")
        if item == "crash":
            ctypes.string_at(0)  # a segmentation fault
        if item == "error":
            raise ValueError("a Python error comes back as itself")
        return item * self.factor


def test_a_crash_costs_its_item_and_the_next_call_gets_a_new_child(capfd):
    results = []
    with Isolated(Doubler, 2) as child:
        for item in ["a", "crash", "b", "error", "c"]:
            try:
                results.append(child(item))
            except (ChildCrashed, ValueError) as error:
                results.append(type(error).__name__)
    assert results == ["aa", "ChildCrashed", "bb", "ValueError", "cc"]
    assert "native warning" not in capfd.readouterr().err


class Unbuildable:
    def __init__(self):
        raise ValueError("faces.model x.onnx: OpenCV cannot load it")


def test_a_worker_that_cannot_be_built_raises_its_error_at_each_call():
    with Isolated(Unbuildable) as child, pytest.raises(ValueError, match="cannot load it"):
        child("a")


CRASHING_DECODER = """
import ctypes
import simplejpeg

_decode = simplejpeg.decode_jpeg


def decode_jpeg(data, *args, **kwargs):
    if b"CRASH-ME" in data:
        ctypes.string_at(0)
    return _decode(data, *args, **kwargs)


simplejpeg.decode_jpeg = decode_jpeg
"""


def jpegs(folder, names: str, crashing: str = "b"):
    """Small JPEGs in ``folder``; the ``crashing`` one holds a comment on which ``CRASHING_DECODER`` segfaults."""
    import cv2
    import numpy as np

    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in names:
        image = cv2.imencode(".jpg", rng.integers(0, 256, (64, 64), dtype=np.uint8))[1].tobytes()
        crash = b"\xff\xfe\x00\x0aCRASH-ME" if name == crashing else b""
        (folder / f"{name}.jpg").write_bytes(image[:2] + crash + image[2:])


def unmask_with_crashing_decoder(tmp_path, *arguments):
    """``python -m unmask ...`` whose processes (the decoders' child included) load ``CRASHING_DECODER``."""
    import subprocess
    import sys

    from conftest import REPO

    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(CRASHING_DECODER)
    env = {**os.environ, "PYTHONPATH": f"{hook}:{REPO}"}
    command = [sys.executable, "-m", "unmask", *map(str, arguments)]
    return subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp_path)


def test_the_features_job_turns_a_decoder_crash_a_deleted_and_a_replaced_file_into_rejects(tmp_path):
    """Before: the segfault ended the job (exit 139); a deleted file was a raw [Errno 2], a replaced one was used."""
    import pyarrow.parquet as pq

    from unmask.data.manifest import build_manifest
    from unmask.io import write_parquet

    folder = tmp_path / "cams"
    jpegs(folder, "abcde")
    manifest, _ = build_manifest({"cams": {"label": "real", "path": str(folder)}}, seed=0)
    write_parquet(manifest, tmp_path / "manifest.parquet")
    (folder / "c.jpg").unlink()
    (folder / "d.jpg").write_bytes((folder / "a.jpg").read_bytes())
    arguments = ["features", "--manifest", tmp_path / "manifest.parquet", "--shard", 0, "--shards", 1]
    run = unmask_with_crashing_decoder(tmp_path, *arguments, "--variant", "faces_hq", "--out", tmp_path / "f.parquet")
    assert run.returncode == 0, run.stderr
    reasons = pq.read_table(tmp_path / "f.parquet").to_pydict()
    assert dict(zip(reasons["id"], reasons["reason"])) == {
        "cams/a.jpg": None,
        "cams/b.jpg": "the decoder crashed on it (its process died; the other files go on)",
        "cams/c.jpg": "cannot read it (No such file or directory); the manifest listed it",
        "cams/d.jpg": "its bytes changed after the manifest was built (sha256 differs)",
        "cams/e.jpg": None,
    }


def test_predict_and_crops_lose_only_the_file_that_crashes_the_decoder(tmp_path):
    """Before: predict over a folder holding such a file scored nothing; the crops job died."""
    import json

    import pyarrow.parquet as pq
    from test_predict import save_toy_model

    folder = tmp_path / "in"
    jpegs(folder, "abc")
    run = unmask_with_crashing_decoder(tmp_path, "predict", "--model", save_toy_model(tmp_path / "m.json"), folder)
    assert [json.loads(line)["path"] for line in run.stdout.splitlines()] == [
        str(folder / "a.jpg"),
        str(folder / "c.jpg"),
    ]
    crash = "the decoder crashed on it (its process died; the other files go on)"
    assert run.returncode == 1 and run.stderr == f"unmask predict: {folder / 'b.jpg'}: {crash}\n"
    faces = {"detector": "haar", "model": None, "min_face": 64, "detect_side": 640, "margin": 0.25}
    spec = {"sources": {}, "images": {"s": {"label": "real", "path": str(folder)}}, "seed": 0, "frames": 3}
    spec |= {"faces": faces, "pixel_limit": {"pixels": 10**8, "setting": "datasets.d.max_pixels"}}
    arguments = ["crops", "--spec", json.dumps(spec), "--shard", 0, "--shards", 1]
    run = unmask_with_crashing_decoder(
        tmp_path, *arguments, "--crops-dir", tmp_path / "crops", "--out", tmp_path / "c.parquet"
    )
    assert run.returncode == 0, run.stderr
    rows = pq.read_table(tmp_path / "c.parquet").to_pylist()
    assert {row["image"]: row["reason"] for row in rows} == {
        "a.jpg": "no face found (haar, min 64 px)",
        "b.jpg": crash,
        "c.jpg": "no face found (haar, min 64 px)",
    }
