"""The acquisition methods end to end against a local HTTP server and local archives."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import py7zr
import pytest
from acquire_server import LocalServer, Resource, add_drive_file, closed_port

from unmask.data.acquire import acquire_source, ffhq_json, google_drive, scrape, url_template
from unmask.data.acquire import archive as archive_method
from unmask.data.acquire.archive import ArchiveError
from unmask.data.acquire.download import DownloadError, NetworkUnavailable
from unmask.data.file_list import read_file_list

FAST = {"backoff": 0.0, "retries": 2, "timeout": 5.0, "progress_interval": 60.0}


@pytest.fixture
def server():
    with LocalServer() as s:
        yield s


def image(seed: int, ext: str = ".jpg", size: tuple[int, int] = (16, 12)) -> bytes:
    """A small random colour image (width, height) encoded as ``ext``."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return cv2.imencode(ext, pixels)[1].tobytes()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# -- url_template -------------------------------------------------------------------


def test_url_template_skips_and_records_404s(server, tmp_path, capsys):
    for i in range(12):
        if i not in (3, 7):
            server.add(f"/faces/{i // 5}/{i:06d}.jpg", image(i))
    spec = {"template": server.url("/faces/{d}/{i:06d}.jpg"), "count": 12, "group": 5, "download": FAST}
    files = url_template.acquire(spec, tmp_path)
    assert [f.name for f in files] == [f"{i:06d}.jpg" for i in range(12) if i not in (3, 7)]
    assert files[4].read_bytes() == image(5)
    assert "2 of 12 indices missing" in capsys.readouterr().err
    assert (tmp_path / "missing.tsv").read_text().splitlines()[1:] == [
        f"3\t{server.url('/faces/0/000003.jpg')}",
        f"7\t{server.url('/faces/1/000007.jpg')}",
    ]
    hits = len(server.hits())
    assert url_template.acquire(spec, tmp_path) == files
    assert len(server.hits()) == hits  # neither present files nor known 404s are asked again


def test_url_template_other_failures_raise(server, tmp_path):
    server.add("/0.jpg", image(0), failures=[500] * 5)
    spec = {"template": server.url("/{i}.jpg"), "count": 1, "download": FAST}
    with pytest.raises(DownloadError, match="1 download"):
        url_template.acquire(spec, tmp_path)


def test_url_template_rejects_clashing_names(tmp_path):
    with pytest.raises(ValueError, match="same file name"):
        url_template.acquire({"template": "http://127.0.0.1:9/{d}/x.jpg", "count": 3}, tmp_path)


# -- scrape ---------------------------------------------------------------------------


def scrape_route(server: LocalServer, answers: list[bytes]) -> None:
    """Serve ``answers`` in turn at /face, then repeat the last one."""

    def face(query):
        body = answers.pop(0) if len(answers) > 1 else answers[0]
        return Resource(body, content_type="image/jpeg")

    server.route("/face", face)


def test_scrape_collects_distinct_valid_images(server, tmp_path, capsys):
    a, b, c, d = (image(i) for i in range(4))
    scrape_route(server, [a, a, image(9, size=(8, 8)), b"<html>busy</html>", b"\xff\xd8garbage", b, c, d])
    spec = {"url": server.url("/face"), "count": 3, "delay": 0.05, "image_size": [16, 12], "download": FAST}
    files = scrape.acquire(spec, tmp_path)
    assert sorted(f.read_bytes() for f in files) == sorted([a, b, c])
    assert all(f.stem == hashlib.sha256(f.read_bytes()).hexdigest()[:16] for f in files)
    hits = server.hits("/face")
    assert len(hits) == 7
    assert all(y.time - x.time >= 0.045 for x, y in zip(hits, hits[1:]))
    assert all("unmask" in h.headers["User-Agent"] for h in hits)
    err = capsys.readouterr().err
    assert "3 new" in err and "repeat 1" in err and "wrong size 1" in err and "not JPEG 1" in err

    # resume: a damaged file is removed, one more image is fetched
    files[0].write_bytes(b"\xff\xd8broken")
    again = scrape.acquire(spec, tmp_path)
    assert len(again) == 3 and len(server.hits("/face")) == 8
    assert d in {f.read_bytes() for f in again}
    assert "2 already present" in capsys.readouterr().err


def test_scrape_stops_at_attempt_cap(server, tmp_path):
    scrape_route(server, [image(1)])
    spec = {
        "url": server.url("/face"),
        "count": 3,
        "delay": 0,
        "image_size": [16, 12],
        "max_attempts": 5,
        "download": FAST,
    }
    with pytest.raises(DownloadError, match=r"only 1 of 3 distinct images after 5 requests"):
        scrape.acquire(spec, tmp_path)
    assert len(server.hits("/face")) == 5 and len(list(tmp_path.glob("*.jpg"))) == 1


def test_scrape_network_unavailable_advises_local(tmp_path):
    spec = {"url": f"http://127.0.0.1:{closed_port()}/", "count": 2, "delay": 0, "download": {**FAST, "retries": 1}}
    with pytest.raises(NetworkUnavailable, match=f"in {tmp_path} yourself and set `method: local`"):
        scrape.acquire(spec, tmp_path)


# -- google_drive / ffhq_json -----------------------------------------------------------


def test_google_drive_method_returns_images(server, tmp_path):
    png, doc = image(1, ".png"), b'{"a": 1}'
    add_drive_file(server, "img", png, "form")
    add_drive_file(server, "doc", doc, "confirm")
    spec = {
        "drive_base": server.base,
        "download": FAST,
        "files": [{"id": "img", "name": "face.png", "md5": md5(png)}, {"id": "doc", "name": "meta.json"}],
    }
    assert google_drive.acquire(spec, tmp_path) == [tmp_path / "face.png"]
    assert (tmp_path / "meta.json").read_bytes() == doc


def fake_ffhq(server: LocalServer, n: int = 6) -> tuple[bytes, dict[int, bytes]]:
    """A fake FFHQ JSON behind Drive's virus-scan form, its PNGs behind plain Drive ids."""
    pngs, records = {}, {}
    for i in range(n):
        pngs[i] = png = image(100 + i, ".png")
        add_drive_file(server, f"png{i}", png)
        records[str(i)] = {
            "category": "validation" if i % 3 == 2 else "training",
            "image": {
                "file_url": f"https://drive.google.com/uc?id=png{i}",
                "file_path": f"images1024x1024/{i // 1000 * 1000:05d}/{i:05d}.png",
                "file_size": len(png),
                "file_md5": md5(png),
                "pixel_size": [16, 12],
            },
        }
    data = json.dumps(records).encode()
    add_drive_file(server, "ffhqjson", data, "form")
    return data, pngs


def ffhq_spec(server: LocalServer, data: bytes, **extra) -> dict:
    return {
        "drive_base": server.base,
        "json_drive_id": "ffhqjson",
        "json_size": len(data),
        "json_md5": md5(data),
        "download": FAST,
        **extra,
    }


def test_ffhq_json_selects_fetches_converts(server, tmp_path):
    data, pngs = fake_ffhq(server)
    spec = ffhq_spec(server, data, start=1, count=3, category="training", jpeg_quality=90)
    files = ffhq_json.acquire(spec, tmp_path)
    assert files == [tmp_path / "jpeg_q90" / f"{i:05d}.jpg" for i in (1, 3, 4)]
    for i, f in zip((1, 3, 4), files):
        original = cv2.imdecode(np.frombuffer(pngs[i], np.uint8), cv2.IMREAD_COLOR)
        jpeg = cv2.imread(str(f))
        assert jpeg.shape == original.shape and f.read_bytes()[:2] == b"\xff\xd8"
    assert not list(tmp_path.glob("images1024x1024/*/*.png"))  # keep_png defaults to false
    assert json.loads((tmp_path / "jpeg_q90" / "conversion.json").read_text())["quality"] == 90
    assert (tmp_path / "ffhq-dataset-v2.json").read_bytes() == data
    hits = len(server.hits())
    assert ffhq_json.acquire(spec, tmp_path) == files and len(server.hits()) == hits


def test_ffhq_json_png_only_and_mirror_template(server, tmp_path):
    data, pngs = fake_ffhq(server, 3)
    for i, png in pngs.items():
        server.add(f"/mirror/images1024x1024/00000/{i:05d}.png", png)
    spec = ffhq_spec(server, data, count=2, jpeg_quality=None, image_url=server.url("/mirror/{file_path}"))
    files = ffhq_json.acquire(spec, tmp_path)
    assert [f.read_bytes() for f in files] == [pngs[0], pngs[1]]
    assert len(server.hits("/mirror/images1024x1024/00000/00000.png")) == 1


def test_ffhq_json_bad_png_md5_fails_without_file(server, tmp_path):
    data, _ = fake_ffhq(server, 2)
    records = json.loads(data)
    records["1"]["image"]["file_md5"] = "0" * 32
    bad = json.dumps(records).encode()
    add_drive_file(server, "badjson", bad)
    spec = ffhq_spec(server, bad, json_drive_id="badjson", count=2)
    with pytest.raises(DownloadError, match=r"uc\?id=png1: md5"):
        ffhq_json.acquire(spec, tmp_path)
    assert (tmp_path / "jpeg_q95" / "00000.jpg").is_file()
    assert not (tmp_path / "jpeg_q95" / "00001.jpg").exists()
    assert not list(tmp_path.rglob("00001.png*"))


def test_ffhq_json_checks_the_json(server, tmp_path):
    data, _ = fake_ffhq(server, 1)
    with pytest.raises(DownloadError, match=f"announces {len(data)} bytes, expected {len(data) + 1}"):
        ffhq_json.acquire(ffhq_spec(server, data, json_size=len(data) + 1), tmp_path)
    with pytest.raises(DownloadError, match="ffhqjson: md5 .* expected 0{32}"):
        ffhq_json.acquire(ffhq_spec(server, data, json_md5="0" * 32), tmp_path)
    assert not list(tmp_path.iterdir())


def test_dispatcher_writes_file_list(server, tmp_path):
    server.add("/0.jpg", image(0))
    spec = {"label": 1, "method": "url_template", "template": server.url("/{i}.jpg"), "count": 1, "download": FAST}
    paths = acquire_source(spec, tmp_path / "src", tmp_path / "files.tsv")
    (row,) = read_file_list(tmp_path / "files.tsv")
    assert Path(row["path"]) == paths[0] and row["sha256"] == hashlib.sha256(image(0)).hexdigest()


# -- archive ----------------------------------------------------------------------------


def make_zip(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    links = links or {}
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data)
        for name, target in links.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def make_tar(path: Path, members: dict[str, bytes], special: dict[str, bytes] | None = None) -> Path:
    special = special or {}
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, kind in special.items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, "target.jpg"
            tf.addfile(info)
    return path


def test_archive_zip_download_with_filter_and_rerun(server, tmp_path):
    members = {
        "celeba/a.jpg": image(1),
        "celeba/b.jpg": image(2),
        "celeba/sub/c.jpg": image(3),
        "celeba/readme.txt": b"x",
    }
    data = make_zip(tmp_path / "src.zip", members).read_bytes()
    server.add("/celeba.zip", data)
    spec = {
        "url": server.url("/celeba.zip"),
        "sha256": hashlib.sha256(data).hexdigest(),
        "archive_size": len(data),
        "members": "celeba/*",
        "download": FAST,
    }
    dest = tmp_path / "dest"
    files = archive_method.acquire(spec, dest)
    assert files == [dest / "celeba/a.jpg", dest / "celeba/b.jpg"]  # readme.txt extracted, not listed
    assert (dest / "celeba/readme.txt").is_file() and not (dest / "celeba/sub").exists()
    assert files[1].read_bytes() == image(2)
    assert archive_method.acquire(spec, dest) == files and len(server.hits()) == 1

    (dest / "_archive/celeba.zip").unlink()  # record gone stale: extract again, downloading
    files[0].unlink()
    assert archive_method.acquire({**spec, "keep_archive": False}, dest) == files
    assert len(server.hits()) == 2 and not (dest / "_archive/celeba.zip").exists()


def test_archive_7z_top_level_glob_and_count(tmp_path):
    path = tmp_path / "celeba.7z"
    with py7zr.SevenZipFile(path, "w") as sz:
        for i in range(3):
            sz.writestr(image(i), f"dataset_celebA/{i}.jpg")
            sz.writestr(image(i), f"dataset_celebA/.ipynb_checkpoints/{i}-checkpoint.jpg")
    spec = {"file": str(path), "members": ["dataset_celebA/*.jpg"], "count": 2}
    files = archive_method.acquire(spec, tmp_path / "dest")
    assert files == [tmp_path / "dest/dataset_celebA/0.jpg", tmp_path / "dest/dataset_celebA/1.jpg"]
    assert files[1].read_bytes() == image(1)
    assert not list((tmp_path / "dest").rglob("*checkpoint*")) and not list((tmp_path / "dest").glob(".extract-*"))


def test_archive_tar_gz_local_with_checksum(tmp_path):
    path = make_tar(tmp_path / "x.tar.gz", {"./faces/a.png": image(1, ".png")})
    with pytest.raises(ArchiveError, match="md5"):
        archive_method.acquire({"file": str(path), "md5": "0" * 32}, tmp_path / "dest")
    files = archive_method.acquire({"file": str(path), "md5": md5(path.read_bytes())}, tmp_path / "dest")
    assert [f.read_bytes() for f in files] == [image(1, ".png")]


@pytest.mark.parametrize(
    "name,why",
    [
        ("../evil.jpg", "'..' in path"),
        ("a/../../evil.jpg", "'..'"),
        ("/tmp/evil.jpg", "absolute path"),
        ("C:/evil.jpg", "absolute"),
    ],
)
def test_archive_rejects_unsafe_paths(tmp_path, name, why):
    path = make_zip(tmp_path / "bad.zip", {"ok.jpg": b"1", name: b"2"})
    dest = tmp_path / "a" / "dest"
    with pytest.raises(ArchiveError, match=f"member {name!r} rejected: {why}"):
        archive_method.extract(path, dest)
    assert not (tmp_path / "a").exists() and not (tmp_path / "evil.jpg").exists()


def test_archive_rejects_links_and_special_files(tmp_path):
    zip_link = make_zip(tmp_path / "l.zip", {"a.jpg": b"1"}, links={"b.jpg": "/etc/passwd"})
    with pytest.raises(ArchiveError, match="'b.jpg' rejected: link entry"):
        archive_method.extract(zip_link, tmp_path / "d1")
    for kind, label in [
        (tarfile.SYMTYPE, "link"),
        (tarfile.LNKTYPE, "link"),
        (tarfile.FIFOTYPE, "special"),
        (tarfile.CHRTYPE, "special"),
    ]:
        tar = make_tar(tmp_path / f"{label}{kind!r}.tar.gz", {"a.jpg": b"1"}, {"x.jpg": kind})
        with pytest.raises(ArchiveError, match=f"'x.jpg' rejected: {label} entry"):
            archive_method.extract(tar, tmp_path / "d2")
    assert not (tmp_path / "d1").exists() and not (tmp_path / "d2").exists()


def test_archive_rejects_7z_symlink(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"1")
    (tmp_path / "l.jpg").symlink_to("a.jpg")
    with py7zr.SevenZipFile(tmp_path / "l.7z", "w") as sz:
        sz.write(tmp_path / "a.jpg", "a.jpg")
        sz.write(tmp_path / "l.jpg", "l.jpg")
    with pytest.raises(ArchiveError, match="'l.jpg' rejected: link entry"):
        archive_method.extract(tmp_path / "l.7z", tmp_path / "dest")
    assert archive_method.extract(tmp_path / "l.7z", tmp_path / "dest", "a.jpg") == [tmp_path / "dest/a.jpg"]


def test_archive_rejects_oversize_before_writing(tmp_path):
    path = make_zip(tmp_path / "big.zip", {"a.jpg": b"1" * 600, "b.jpg": b"2" * 600})
    with pytest.raises(ArchiveError, match="1200 bytes uncompressed, over max_size 1000"):
        archive_method.extract(path, tmp_path / "dest", max_size=1000)
    assert not (tmp_path / "dest").exists()
    assert len(archive_method.extract(path, tmp_path / "dest", "a.jpg", max_size=1000)) == 1


def test_archive_caps_bytes_actually_written(tmp_path):
    """Besides the declared sizes checked first, the bytes written are counted against max_size."""
    path = make_tar(tmp_path / "x.tar.gz", {"a.jpg": b"1" * 600, "b.jpg": b"2" * 600})
    with tarfile.open(path) as tf, pytest.raises(ArchiveError, match="passed max_size 1000 bytes at member 'b.jpg'"):
        archive_method._write_streams(tf, path, archive_method._members_tar(tf), tmp_path, 1000)
    assert (tmp_path / "a.jpg").is_file() and not (tmp_path / "b.jpg").exists()


def test_archive_not_an_archive(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"hello")
    with pytest.raises(ArchiveError, match="not a zip, tar or 7z"):
        archive_method.extract(tmp_path / "x.zip", tmp_path / "dest")


@pytest.mark.parametrize("make", [make_zip, make_tar])
def test_archive_refuses_a_file_that_is_also_a_folder(tmp_path, make):
    path = make(tmp_path / "clash.archive", {"a.jpg": b"0", "x.jpg": b"1", "x.jpg/y.jpg": b"2"})
    with pytest.raises(ArchiveError, match=r"'x.jpg/y.jpg' rejected: 'x.jpg' is a file .* also a folder"):
        archive_method.extract(path, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_archive_member_never_writes_into_the_download_cache(server, tmp_path):
    evil = b"not the archive"
    data = make_zip(
        tmp_path / "src.zip",
        {"faces/a.jpg": image(1), "_archive/faces.zip": evil, "_archive/faces.zip.extracted.json": b"{}"},
    ).read_bytes()
    server.add("/faces.zip", data)
    spec = {"url": server.url("/faces.zip"), "download": FAST}
    dest = tmp_path / "dest"
    with pytest.raises(ArchiveError, match="'_archive/faces.zip' rejected: inside _archive/"):
        archive_method.acquire(spec, dest)
    assert (dest / "_archive/faces.zip").read_bytes() == data and not (dest / "faces").exists()
    assert archive_method.acquire({**spec, "members": "faces/*"}, dest) == [dest / "faces/a.jpg"]
    assert (dest / "_archive/faces.zip").read_bytes() == data and len(server.hits()) == 1


def test_http_404_ends_the_command_with_one_clear_line(server, tmp_path, capsys):
    from unmask.cli import main

    spec = {"method": "archive", "url": server.url("/gone.zip"), "path": str(tmp_path / "src"), "download": FAST}
    assert main(["acquire", "--spec", json.dumps(spec), "--out", str(tmp_path / "files.tsv")]) == 1
    err = capsys.readouterr().err
    assert f"{server.url('/gone.zip')}: HTTP 404 Not Found" in err and "Traceback" not in err
    assert not (tmp_path / "files.tsv").exists()


@pytest.mark.parametrize("suffix,lossless", [(".png", True), (".jpg", False)])
def test_write_image_encodes_by_suffix_atomically(tmp_path, suffix, lossless):
    from unmask.data.images import write_image

    pixels = np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    write_image(tmp_path / f"a{suffix}", pixels, quality=90, compression=9)
    decoded = cv2.imread(str(tmp_path / f"a{suffix}"))
    assert decoded.shape == pixels.shape and (np.array_equal(decoded, pixels) or not lossless)
    assert os.listdir(tmp_path) == [f"a{suffix}"]


def test_write_image_refuses_what_it_cannot_encode_and_keeps_the_old_file(tmp_path):
    from unmask.data.images import write_image

    (tmp_path / "a.xyz").write_bytes(b"old")
    with pytest.raises(ValueError, match=r"cannot encode .* as '\.xyz' for .*a\.xyz"):
        write_image(tmp_path / "a.xyz", np.zeros((4, 4), np.uint8))
    assert (tmp_path / "a.xyz").read_bytes() == b"old" and os.listdir(tmp_path) == ["a.xyz"]


def test_archive_extraction_reports_its_progress(tmp_path, capsys):
    path = make_zip(tmp_path / "faces.zip", {"a.jpg": b"1", "b.jpg": b"2", "c.jpg": b"3"})
    archive_method.extract(path, tmp_path / "dest")
    assert "extract faces.zip: 3/3 [" in capsys.readouterr().err
