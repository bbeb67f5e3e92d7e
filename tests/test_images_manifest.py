"""Decoding, reasons for rejecting a file, deterministic sampling and stable shards."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from unmask.data import file_facts
from unmask.data.file_facts import FactsCache
from unmask.data.images import RejectedImage, decode_gray, list_images, probe, read_gray
from unmask.data.manifest import build_manifest, listing_fingerprint
from unmask.data.sampling import sample_paths, shard_of, stable_hash
from unmask.io import scan_files


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


def test_listing_follows_linked_folders_once_and_says_what_it_skips(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    for name in ("root/a.jpg", "root/real/r.jpg", "root/x.jpg/inner.jpg", "outside/o.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (root / "linked").symlink_to(outside)  # a sub-folder reached through a link: followed
    (root / "again").symlink_to(root / "real")  # a second route to a listed folder
    (root / "real" / "up").symlink_to(root)  # a loop through a parent
    (root / "self").symlink_to(root / "self")  # a loop on itself
    (root / "broken.jpg").symlink_to(tmp_path / "missing.jpg")
    (root / "alias.jpg").symlink_to(root / "a.jpg")  # a link to a file is a file
    listing = scan_files(root, (".jpg", ".png"))
    assert [p.relative_to(root).as_posix() for p in listing.files] == [
        "a.jpg", "alias.jpg", "linked/o.png", "real/r.jpg", "x.jpg/inner.jpg"
    ]  # fmt: skip
    reasons = {p.relative_to(root).as_posix(): reason for p, reason in listing.skipped}
    assert reasons == {
        "again": f"link to a folder listed already as {root / 'real'} (each folder is listed once)",
        "broken.jpg": f"broken symbolic link (target {tmp_path / 'missing.jpg'} is missing)",
        "real/up": f"symbolic link loop (links back to {root}, which is listed already)",
        "self": "symbolic link loop (the link resolves to itself)",
        "x.jpg": "a folder, not a file (its contents are searched)",
    }


def test_manifest_lists_skipped_entries_as_rejects(tmp_path):
    (tmp_path / "x.jpg").mkdir()
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "a.png").write_bytes(encoded(".png", (16, 16)))
    manifest, rejects = build_manifest({"cams": {"label": "real", "path": str(tmp_path)}}, seed=0)
    assert manifest.column("id").to_pylist() == ["cams/a.png"]
    assert [(r["id"], r["stage"], r["reason"]) for r in rejects.to_pylist()] == [
        ("cams/loop", "listing", "symbolic link loop (the link resolves to itself)"),
        ("cams/x.jpg", "listing", "a folder, not a file (its contents are searched)"),
    ]


def test_item_ids_are_paths_under_the_source_folder(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.png").write_bytes(encoded(".png", (16, 16)))
    monkeypatch.chdir(tmp_path)
    for root in (".", str(tmp_path), f"{tmp_path}/"):
        manifest, _ = build_manifest({"cams": {"label": "real", "path": root}}, seed=0)
        assert manifest.column("id").to_pylist() == ["cams/sub/a.png"], root


def two_sources(tmp_path, real: dict[str, bytes], fake: dict[str, bytes]) -> dict[str, dict]:
    for folder, files in (("real", real), ("fake", fake)):
        (tmp_path / folder).mkdir(exist_ok=True)
        for name, data in files.items():
            (tmp_path / folder / name).write_bytes(data)
    return {
        "cams": {"label": "real", "path": str(tmp_path / "real")},
        "gan": {"label": "fake", "path": str(tmp_path / "fake")},
    }


def test_same_bytes_in_a_real_and_a_fake_source_rejects_every_copy(tmp_path):
    shared, other = encoded(".png", (16, 16)), encoded(".png", (16, 20))
    sources = two_sources(tmp_path, {"a.png": shared, "b.png": shared, "c.png": other}, {"z.png": shared})
    manifest, rejects = build_manifest(sources, seed=0)
    assert manifest.column("id").to_pylist() == ["cams/c.png"]
    reason = "same bytes in real source cams and fake source gan (cams/a.png, cams/b.png, gan/z.png)"
    expected = dict.fromkeys(["cams/a.png", "cams/b.png", "gan/z.png"], reason)
    assert {r["id"]: r["reason"] for r in rejects.to_pylist()} == expected


def test_same_bytes_within_a_class_keep_the_first_and_record_the_others(tmp_path):
    shared = encoded(".png", (16, 16))
    sources = two_sources(tmp_path, {"a.png": shared, "b.png": shared}, {"z.png": encoded(".png", (16, 20))})
    sources["cams2"] = {"label": "real", "path": str(tmp_path / "real2")}
    (tmp_path / "real2").mkdir()
    (tmp_path / "real2" / "c.png").write_bytes(shared)
    manifest, rejects = build_manifest(sources, seed=0)
    assert manifest.column("id").to_pylist() == ["cams/a.png", "gan/z.png"]
    assert {r["id"]: r["reason"] for r in rejects.to_pylist()} == {
        "cams/b.png": "same bytes as cams/a.png", "cams2/c.png": "same bytes as cams/a.png"
    }  # fmt: skip


@pytest.fixture
def counted_reads(monkeypatch):
    """The files hashed and the files probed, by name."""
    reads = {"hashed": [], "probed": []}

    def digest(path):
        reads["hashed"].append(Path(path).name)
        return real_digest(path)

    def header(path):
        reads["probed"].append(Path(path).name)
        return real_probe(path)

    real_digest, real_probe = file_facts.file_digest, file_facts.probe
    monkeypatch.setattr(file_facts, "file_digest", digest)
    monkeypatch.setattr(file_facts, "probe", header)
    return reads


def test_a_rebuild_reads_only_files_whose_size_time_or_inode_changed(tmp_path, counted_reads):
    sources = two_sources(tmp_path, {f"{i}.png": encoded(".png", (16, 16 + i)) for i in range(4)}, {"z.png": b"broken"})
    cache = FactsCache(tmp_path / "cache.parquet")
    first = build_manifest(sources, seed=0, cache=cache)
    cache.save()
    everything = ["0.png", "1.png", "2.png", "3.png", "z.png"]
    assert sorted(counted_reads["hashed"]) == sorted(counted_reads["probed"]) == everything

    counted_reads["hashed"].clear(), counted_reads["probed"].clear()
    assert build_manifest(sources, seed=0, cache=FactsCache(tmp_path / "cache.parquet")) == first
    assert counted_reads == {"hashed": [], "probed": []}, "nothing changed: the cache supplies every hash and header"

    os.utime(tmp_path / "real" / "1.png", ns=(1, 1))  # touch: same bytes, new time
    (tmp_path / "real" / "2.png").write_bytes(encoded(".png", (16, 30)))  # new bytes
    cache = FactsCache(tmp_path / "cache.parquet")
    manifest, rejects = build_manifest(sources, seed=0, cache=cache)
    assert sorted(counted_reads["hashed"]) == ["1.png", "2.png"] and counted_reads["probed"] == ["2.png"]
    assert manifest.column("width").to_pylist() == [16, 17, 30, 19]
    assert rejects.column("id").to_pylist() == ["gan/z.png"]
    (tmp_path / "real" / "3.png").unlink()
    build_manifest(sources, seed=0, cache=cache)
    cache.save()
    kept = FactsCache(tmp_path / "cache.parquet").rows
    assert sorted(Path(path).name for path in kept) == ["0.png", "1.png", "2.png", "z.png"], (
        "a deleted file is forgotten"
    )


def test_cached_header_facts_of_other_probing_code_are_read_again(tmp_path, counted_reads, monkeypatch):
    sources = two_sources(tmp_path, {"a.png": encoded(".png", (16, 16))}, {})
    cache = FactsCache(tmp_path / "cache.parquet")
    build_manifest(sources, seed=0, cache=cache)
    cache.save()
    monkeypatch.setattr(file_facts, "probe_version", lambda: "other code")
    build_manifest(sources, seed=0, cache=FactsCache(tmp_path / "cache.parquet"))
    assert counted_reads == {"hashed": ["a.png"], "probed": ["a.png", "a.png"]}, (
        "the hash is kept, the header read again"
    )


def test_a_damaged_cache_costs_a_rebuild_and_is_replaced(tmp_path, capsys):
    sources = two_sources(tmp_path, {"a.png": encoded(".png", (16, 16))}, {})
    (tmp_path / "cache.parquet").write_bytes(b"not parquet")
    cache = FactsCache(tmp_path / "cache.parquet")
    assert "is unreadable" in capsys.readouterr().err
    manifest, _ = build_manifest(sources, seed=0, cache=cache)
    cache.save()
    assert manifest.column("id").to_pylist() == ["cams/a.png"] and len(FactsCache(tmp_path / "cache.parquet").rows) == 1


def test_listing_fingerprint_follows_contents_not_times(tmp_path, counted_reads):
    sources = two_sources(tmp_path, {f"{i}.png": encoded(".png", (16, 16 + i)) for i in range(3)}, {})
    cache = FactsCache(tmp_path / "cache.parquet")
    before = listing_fingerprint("cams", sources["cams"], 0, cache)
    os.utime(tmp_path / "real" / "1.png", ns=(1, 1))
    assert listing_fingerprint("cams", sources["cams"], 0, cache) == before
    (tmp_path / "real" / "1.png").write_bytes(encoded(".png", (16, 40)))
    changed = listing_fingerprint("cams", sources["cams"], 0, cache)
    assert changed != before and counted_reads["hashed"] == ["0.png", "1.png", "2.png", "1.png", "1.png"]
    cache.save()
    assert listing_fingerprint("cams", sources["cams"], 0, FactsCache(tmp_path / "cache.parquet")) == changed
    assert len(counted_reads["hashed"]) == 5, "the saved cache supplies every hash"
    (tmp_path / "real" / "x.jpg").mkdir()  # a skipped entry changes it too
    assert listing_fingerprint("cams", sources["cams"], 0, cache) != changed


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
    assert [(r["id"], r["label"], r["width"], r["height"]) for r in rows] == [
        ("cams/a.png", 0, 16, 16),
        ("gan/b.jpg", 1, 24, 16),
    ]
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


def test_a_class_without_a_usable_image_stops_the_manifest_saying_why(tmp_path, caplog):
    """Before, the manifest was written and training failed with scikit-learn's 'got 1 class'."""
    import json

    from unmask import cli

    sources = two_sources(tmp_path, {"a.png": encoded(".png", (16, 16))}, {"empty.png": b"", "text.jpg": b"no"})
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "notes.txt").write_text("no images here")
    sources["gan2"] = {"label": "fake", "path": str(tmp_path / "nothing")}
    sources["clips"] = {"label": "fake", "videos": str(tmp_path / "nothing"), "crop_tables": []}
    out = ["--out", str(tmp_path / "m.parquet"), "--rejects", str(tmp_path / "r.parquet")]
    assert cli.main(["manifest", "--spec", json.dumps({"sources": sources}), *out]) == 2
    [error] = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert error == (
        "unmask manifest: no usable fake image, so nothing to train on: "
        f"source clips: no .mp4, .avi, .mov or .mkv file in {tmp_path / 'nothing'}; "
        "source gan: its 2 files are rejected (1 empty file (0 bytes); "
        "1 not a readable image (no JPEG or PNG decoder accepts its header)); "
        f"source gan2: no .jpg, .jpeg or .png file in {tmp_path / 'nothing'}"
    )
    assert not (tmp_path / "m.parquet").exists()


def test_a_file_name_that_is_not_utf8_is_a_listing_reject(tmp_path):
    """Before, its name reached Parquet and the whole workflow stopped with a UnicodeEncodeError traceback."""
    from unmask.io import write_parquet

    (tmp_path / "a.png").write_bytes(encoded(".png", (16, 16)))
    with open(os.path.join(os.fsencode(tmp_path), b"latin\xe9.png"), "wb") as f:
        f.write(encoded(".png", (16, 20)))
    os.symlink(b"gone", os.path.join(os.fsencode(tmp_path), b"broken\xff.jpg"))
    source, gone = {"label": "real", "path": str(tmp_path)}, "target gone is missing"
    assert listing_fingerprint("cams", source, 0, FactsCache()).startswith("1 images, content sha256 ")
    manifest, rejects = build_manifest({"cams": source}, seed=0)
    assert manifest.column("id").to_pylist() == ["cams/a.png"]
    assert [(r["id"], r["path"], r["stage"], r["reason"]) for r in rejects.to_pylist()] == [
        ("cams/broken\\xff.jpg", f"{tmp_path}/broken\\xff.jpg", "listing", f"broken symbolic link ({gone})"),
        ("cams/latin\\xe9.png", f"{tmp_path}/latin\\xe9.png", "listing", "file name is not UTF-8 text (rename it)"),
    ]
    write_parquet(rejects, tmp_path / "rejects.parquet")


def test_an_acquired_file_whose_name_is_not_utf8_is_a_listing_reject(tmp_path):
    """An archive member named in Latin-1 stopped the acquisition: the file list could not be written."""
    from unmask.data.file_list import write_file_list

    good, odd = tmp_path / "a.png", Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), b"latin\xe9.png")))
    for path in (good, odd):
        path.write_bytes(encoded(".png", (16, 16 + len(path.name))))
    write_file_list([good, odd], tmp_path / "list.tsv")
    source = {"label": "fake", "path": str(tmp_path), "file_list": str(tmp_path / "list.tsv")}
    manifest, rejects = build_manifest({"gan": source}, seed=0)
    assert manifest.column("id").to_pylist() == ["gan/a.png"]
    assert [(r["id"], r["stage"], r["reason"]) for r in rejects.to_pylist()] == [
        ("gan/latin\\xe9.png", "listing", "file name is not UTF-8 text (rename it)")
    ]


def test_a_jpeg_header_problem_is_a_note_in_the_manifest_and_lossless_is_a_reject(tmp_path):
    from test_image_validation import CORPUS, lossless_jpeg

    (tmp_path / "junk.jpg").write_bytes(CORPUS["JPEG with junk bytes before DQT"][0])
    (tmp_path / "plain.jpg").write_bytes(CORPUS["baseline JPEG"][0])
    (tmp_path / "lossless.jpg").write_bytes(lossless_jpeg())
    manifest, rejects = build_manifest({"cams": {"label": "real", "path": str(tmp_path)}}, seed=0)
    notes = dict(zip(manifest["id"].to_pylist(), manifest["note"].to_pylist()))
    assert notes == {"cams/junk.jpg": "5 extraneous bytes before marker 0xdb", "cams/plain.jpg": None}
    assert rejects.to_pylist() == [
        {
            "id": "cams/lossless.jpg",
            "path": str(tmp_path / "lossless.jpg"),
            "source": "cams",
            "stage": "manifest",
            "reason": "lossless JPEG (SOF3) is not supported",
        }
    ]
