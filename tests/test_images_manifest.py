"""Decoding, reasons for rejecting a file, deterministic sampling and stable shards."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from unmask.data.images import RejectedImage, decode_gray, list_images, probe, read_gray
from unmask.data.manifest import build_manifest
from unmask.data.sampling import sample_paths, shard_of, stable_hash


def encoded(suffix: str, shape=(40, 60)) -> bytes:
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    return cv2.imencode(suffix, image)[1].tobytes()


def test_decode_keeps_native_resolution():
    image = decode_gray(encoded(".png", (37, 53)))
    assert image.shape == (37, 53) and image.dtype == np.uint8


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"not an image", "not a readable image"),
        (encoded(".jpg")[:-300], "corrupt JPEG"),
        (encoded(".png")[:-20], "corrupt PNG"),
    ],
)
def test_rejected_bytes_say_why(data, reason):
    with pytest.raises(RejectedImage, match=reason):
        decode_gray(data)


def test_jpeg_with_trailing_data_is_accepted():
    assert decode_gray(encoded(".jpg") + b"camera trailer").shape == (40, 60)


def test_probe_reads_the_header(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(encoded(".png", (30, 20)))
    info = probe(path)
    assert (info.width, info.height, info.format) == (20, 30, "PNG")
    (tmp_path / "b.jpg").write_bytes(b"")
    with pytest.raises(RejectedImage, match="empty file"):
        probe(tmp_path / "b.jpg")


def test_list_images_is_recursive_and_sorted(tmp_path):
    for name in ("b/2.PNG", "a.jpg", "b/1.jpeg", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    assert [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)] == ["a.jpg", "b/1.jpeg", "b/2.PNG"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list_images(tmp_path / "missing")


def test_stable_hash_is_fixed_across_runs():
    # A fixed value: shard membership must not change between Python runs or machines.
    assert stable_hash("ffhq/00000.jpg") == 2962045341918162301
    assert stable_hash("a", salt="1") != stable_hash("a", salt="2")


def test_sampling_is_seeded_and_stable_when_files_are_added():
    root = Path("/data")
    paths = [root / f"{i:04d}.jpg" for i in range(100)]
    chosen = sample_paths(paths, root, 10, seed=0)
    assert chosen == sorted(chosen) and len(chosen) == 10
    assert chosen == sample_paths(list(reversed(paths)), root, 10, seed=0)
    assert chosen != sample_paths(paths, root, 10, seed=1)
    more = sample_paths(paths + [root / f"new{i}.jpg" for i in range(10)], root, 10, seed=0)
    assert len(set(chosen) & set(more)) >= 5, "adding 10% more files keeps most of the choice"


def test_shards_do_not_move_when_items_are_added():
    ids = [f"src/{i}.jpg" for i in range(200)]
    before = {i: shard_of(stable_hash(i), 8) for i in ids}
    after = {i: shard_of(stable_hash(i), 8) for i in ids + [f"src/new{i}.jpg" for i in range(50)]}
    assert all(after[i] == before[i] for i in ids)
    assert set(before.values()) == set(range(8))


def test_manifest_rows_labels_and_rejects(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "fake").mkdir()
    (tmp_path / "real" / "a.png").write_bytes(encoded(".png", (16, 16)))
    (tmp_path / "real" / "empty.png").write_bytes(b"")
    (tmp_path / "fake" / "b.jpg").write_bytes(encoded(".jpg", (16, 24)))
    sources = {
        "cams": {"label": "real", "path": str(tmp_path / "real")},
        "gan": {"label": "fake", "path": str(tmp_path / "fake")},
    }
    manifest, rejects = build_manifest(sources, seed=0)
    rows = manifest.to_pylist()
    assert [(r["id"], r["label"], r["width"], r["height"]) for r in rows] == [("cams/a.png", 0, 16, 16), ("gan/b.jpg", 1, 24, 16)]
    assert rejects.to_pylist()[0]["id"] == "cams/empty.png"
    assert read_gray(rows[1]["path"]).shape == (16, 24)


def test_manifest_rejects_other_sizes_when_the_dataset_requires_one(tmp_path):
    for name, shape in (("right.png", (32, 32)), ("wrong.png", (32, 30))):
        (tmp_path / name).write_bytes(encoded(".png", shape))
    (tmp_path / "fake").mkdir()
    sources = {"cams": {"label": "real", "path": str(tmp_path)}}
    manifest, rejects = build_manifest(sources, seed=0, image_size=(32, 32))
    assert manifest.column("id").to_pylist() == ["cams/right.png"]
    assert rejects.column("reason").to_pylist() == ["30x32 pixels, the dataset requires 32x32"]


def test_reencoding_gives_every_image_the_same_last_encoding(tmp_path):
    from unmask.features.extract import extract
    from unmask.features.spectrum import get_variant

    path = tmp_path / "a.png"
    path.write_bytes(encoded(".png", (64, 64)))
    variant = get_variant("faces_hq")
    clean, _ = extract(str(path), variant)
    q95, _ = extract(str(path), variant, reencode=95)
    q30, _ = extract(str(path), variant, reencode=30)
    assert clean.shape == q95.shape == q30.shape
    assert np.abs(q30 - clean).mean() > np.abs(q95 - clean).mean() > 0


def test_outputs_get_the_usual_permissions(tmp_path):
    import os

    from unmask.io import write_text

    write_text(tmp_path / "out.txt", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o666 & ~umask


def hostile_folder(folder: Path) -> Path:
    """A good image beside a 388 kB PNG of 20000x20000 zeros and a 388-byte PNG claiming 40000x40000."""
    from test_image_validation import zeros_png

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "good.png").write_bytes(encoded(".png", (16, 16)))
    (folder / "zeros.png").write_bytes(zeros_png(20000, 20000, rows=20000))
    (folder / "claims.png").write_bytes(zeros_png(40000, 40000, rows=1))
    return folder


def test_manifest_rejects_images_above_the_pixel_limit_from_their_header(tmp_path):
    from unmask.data.images import PixelLimit

    sources = {"cams": {"label": "real", "path": str(hostile_folder(tmp_path / "cams"))}}
    manifest, rejects = build_manifest(sources, seed=0, pixel_limit=PixelLimit(100_000_000, "datasets.mine.max_pixels"))
    assert manifest.column("id").to_pylist() == ["cams/good.png"]
    assert dict(zip(rejects.column("id").to_pylist(), rejects.column("reason").to_pylist())) == {
        "cams/claims.png": "40000x40000 = 1600 Mpx exceeds the limit of 100 Mpx (datasets.mine.max_pixels)",
        "cams/zeros.png": "20000x20000 = 400 Mpx exceeds the limit of 100 Mpx (datasets.mine.max_pixels)",
    }


def test_feature_stage_gives_a_reason_for_every_decoder_failure(tmp_path):
    from unmask.data.images import PixelLimit
    from unmask.features.extract import extract
    from unmask.features.spectrum import get_variant

    folder = hostile_folder(tmp_path)
    variant = get_variant("faces_hq")
    values, reason = extract(str(folder / "claims.png"), variant)  # no limit: OpenCV raises cv2.error
    assert values is None and reason.startswith("OpenCV cannot decode it (")
    values, reason = extract(str(folder / "zeros.png"), variant, pixel_limit=PixelLimit(10**8, "datasets.x.max_pixels"))
    assert values is None and reason == "20000x20000 = 400 Mpx exceeds the limit of 100 Mpx (datasets.x.max_pixels)"
    assert extract(str(folder / "good.png"), variant)[1] is None
