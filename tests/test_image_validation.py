"""Which files are images: a corpus of valid and broken JPEG/PNG files judged by the decoders, and the pixel limit."""

from __future__ import annotations

import io
import re
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from unmask.data.images import PixelLimit, RejectedImage, decode_gray, probe, read_gray

LIMIT = PixelLimit(100_000_000, "datasets.mine.max_pixels")


def photo(side: int = 256) -> np.ndarray:
    """A smooth colour image with texture (BGR), so that every encoding has a long entropy-coded part."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:side, 0:side] / side
    base = np.stack([128 + 100 * np.sin(6 * x + k) * np.cos(5 * y - k) for k in range(3)], axis=-1)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, *params: int) -> bytes:
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90, *params])[1].tobytes()


def pillow(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def scan_start(data: bytes) -> int:
    """Offset of the first entropy-coded byte (after the first SOS segment)."""
    sos = data.index(b"\xff\xda")
    return sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")


def middle_of(data: bytes) -> int:
    """Offset of the middle of the entropy-coded data."""
    return (scan_start(data) + len(data)) // 2


def zeroed(data: bytes, start: int, length: int) -> bytes:
    return data[:start] + bytes(length) + data[start + length :]


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def zeros_png(width: int, height: int, rows: int) -> bytes:
    """A grayscale PNG whose header says ``width`` x ``height`` and whose IDAT holds ``rows`` rows of zeros."""
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(b"\x00" * (width + 1)) for _ in range(rows)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + header + png_chunk(b"IDAT", pixels) + png_chunk(b"IEND", b"")


def lossless_jpeg(side: int = 16) -> bytes:
    """A minimal lossless JPEG (SOF3, predictor 1): Pillow cannot write one; every difference is coded as 0."""
    frame = b"\xff\xc3" + struct.pack(">HBHHB", 11, 8, side, side, 1) + bytes([1, 0x11, 0])
    table = b"\xff\xc4" + struct.pack(">HB", 20, 0x00) + bytes([1] + [0] * 15) + bytes([0])  # one code: 0
    scan = b"\xff\xda" + struct.pack(">HB", 8, 1) + bytes([1, 0x00, 1, 0, 0])
    return b"\xff\xd8" + frame + table + scan + bytes(side * side // 8) + b"\xff\xd9"


def with_segment(data: bytes, segment: bytes, before: bytes = b"\xff\xdb") -> bytes:
    """``segment`` inserted just before the first ``before`` marker."""
    at = data.index(before)
    return data[:at] + segment + data[at:]


def app2(body: bytes) -> bytes:
    return b"\xff\xe2" + struct.pack(">H", len(body) + 2) + body


def ultra_hdr(primary: bytes, gain_map: bytes) -> bytes:
    """A primary JPEG with Ultra HDR's XMP (APP1) and a gain-map JPEG after its EOI, as Ultra HDR files are laid out."""
    xmp = b"http://ns.adobe.com/xap/1.0/\x00" + b'<x:xmpmeta><rdf:Description hdrgm:Version="1.0"/></x:xmpmeta>'
    return with_segment(primary, b"\xff\xe1" + struct.pack(">H", len(xmp) + 2) + xmp) + gain_map


def corpus() -> dict[str, tuple[bytes, bool]]:
    """name: (file bytes, is it a valid image)."""
    color = photo()
    gray = cv2.cvtColor(color, cv2.COLOR_BGR2GRAY)
    rgb = Image.fromarray(color[..., ::-1])
    base = jpeg(color)
    png = cv2.imencode(".png", color)[1].tobytes()
    start, end = scan_start(base), len(base) - 2  # the entropy-coded data of the baseline JPEG
    middle, size = (start + end) // 2, end - start
    progressive = jpeg(color, cv2.IMWRITE_JPEG_PROGRESSIVE, 1)
    restarts = jpeg(color, cv2.IMWRITE_JPEG_RST_INTERVAL, 4)
    dqt = base.index(b"\xff\xdb")
    idat = png.index(b"IDAT") - 4
    exif = Image.Exif()
    exif[0x010F] = "camera maker"
    video = np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    mp4 = struct.pack(">I", 24) + b"ftypmp42" + bytes(12) + struct.pack(">I", 8 + len(video)) + b"mdat" + video
    valid = {
        "baseline JPEG": base,
        "JPEG with data after EOI": base + b"camera trailer",
        "motion photo (JPEG + mp4)": base + mp4,
        "JPEG trailer containing FF DA": base + b"\xff\xda\x00\x08" + b"bytes after EOI " * 8,
        "MPO (two JPEGs)": pillow(rgb, "MPO", save_all=True, append_images=[rgb.rotate(90)]),
        "progressive JPEG": progressive,
        "JPEG with restart markers": restarts,
        "CMYK JPEG": pillow(rgb.convert("CMYK"), "JPEG", quality=90),
        "grayscale JPEG": jpeg(gray),
        "4:4:4 JPEG at quality 100": pillow(rgb, "JPEG", quality=100, subsampling=0),
        "JPEG with EXIF": pillow(rgb, "JPEG", exif=exif),
        "PNG": png,
        "PNG with data after IEND": png + b"trailing bytes",
        "JPEG with junk bytes before DQT": with_segment(base, b"junk!"),
        "JPEG with junk bytes before APP1": with_segment(pillow(rgb, "JPEG", exif=exif), b"\x00" * 7, b"\xff\xe1"),
        "JPEG with bad ICC chunks": with_segment(base, app2(b"ICC_PROFILE\x00" + bytes([5, 2]) + b"xxxx")),
        "CMYK JPEG with 2x2 sampling": pillow(rgb.convert("CMYK"), "JPEG", quality=90, subsampling=2),
        "Ultra HDR (JPEG, MPF, gain map after EOI)": ultra_hdr(base, jpeg(gray[::4, ::4])),
        "16-bit PNG": cv2.imencode(".png", color.astype(np.uint16) * 257)[1].tobytes(),
        "grayscale PNG": cv2.imencode(".png", gray)[1].tobytes(),
        "RGBA PNG": pillow(rgb.convert("RGBA"), "PNG"),
        "palette PNG": pillow(rgb.convert("P"), "PNG"),
    }
    invalid = {
        "JPEG truncated in the header": base[: start - 20],
        "JPEG truncated at 25% of its scan": base[: start + size // 4],
        "JPEG truncated at 90% of its scan": base[: start + 9 * size // 10],
        "JPEG without its EOI": base[:-2],
        "JPEG with 20% of its scan zeroed": zeroed(base, start + size // 3, size // 5),
        "JPEG with 10% of its scan zeroed": zeroed(base, middle, size // 10),
        "JPEG with a hole punched in its scan": base[:middle] + base[middle + 1000 :],
        "progressive JPEG with zeroed data": zeroed(progressive, middle_of(progressive), 800),
        "restart-marker JPEG with zeroed data": zeroed(restarts, middle_of(restarts), 800),
        "truncated progressive JPEG": progressive[: len(progressive) // 2],
        "JPEG with a wrong DQT length": base[: dqt + 2] + struct.pack(">H", 70) + base[dqt + 4 :],
        "PNG truncated in IDAT": png[: len(png) // 2],
        "PNG without IEND": png[:-12],
        "PNG with zeroed IDAT data": zeroed(png, len(png) // 2, 500),
        "PNG with a hole in IDAT": png[: len(png) // 2] + png[len(png) // 2 + 500 :],
        "PNG with a broken IHDR checksum": png[:20] + bytes([png[20] ^ 0xFF]) + png[21:],
        "PNG with a wrong IDAT length": png[:idat]
        + struct.pack(">I", int.from_bytes(png[idat : idat + 4], "big") - 7)
        + png[idat + 4 :],
        "PNG without IDAT": png[:idat] + png_chunk(b"IEND", b""),
        "JPEG with junk before DQT and a zeroed scan": with_segment(zeroed(base, middle, size // 10), b"junk!"),
        "JPEG with bad ICC chunks and a truncated scan": with_segment(base, app2(b"ICC_PROFILE\x00\x00\x00"))[
            : start + size // 2
        ],
        "Ultra HDR with a damaged primary scan": ultra_hdr(zeroed(base, middle, size // 10), jpeg(gray[::4, ::4])),
        "truncated CMYK JPEG with 2x2 sampling": pillow(rgb.convert("CMYK"), "JPEG", subsampling=2)[:3000],
        "empty file": b"",
        "text": b"this is not an image\n",
        "text named like a JPEG, with its magic": b"\xff\xd8\xff\xe0 but then plain text",
    }
    return {**{k: (v, True) for k, v in valid.items()}, **{k: (v, False) for k, v in invalid.items()}}


CORPUS = corpus()


def verdict(data: bytes) -> bool:
    try:
        decode_gray(data, LIMIT)
    except RejectedImage:
        return False
    return True


@pytest.mark.parametrize("name", CORPUS)
def test_the_decoder_judges_every_file_of_the_corpus(name):
    data, valid = CORPUS[name]
    assert len(CORPUS) >= 20
    assert verdict(data) == valid, f"{name}: {'rejected' if valid else 'accepted'}"


@pytest.mark.parametrize("name", [name for name, (_, valid) in CORPUS.items() if valid])
def test_accepted_files_give_opencvs_grayscale_pixels(name):
    data, _ = CORPUS[name]
    expected = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(decode_gray(data, LIMIT), expected)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("JPEG with 20% of its scan zeroed", r"corrupt JPEG \(Corrupt JPEG data: "),
        ("JPEG truncated at 90% of its scan", r"corrupt JPEG \(Premature end of JPEG file\)"),
        ("PNG with zeroed IDAT data", r"corrupt PNG \(broken PNG file \(bad header checksum in b'IDAT'\)\)"),
        ("text", r"^not a readable image \(no JPEG or PNG decoder accepts its header\)$"),
        ("empty file", r"empty file \(0 bytes\)"),
    ],
)
def test_rejections_say_why(name, reason):
    with pytest.raises(RejectedImage, match=reason):
        decode_gray(CORPUS[name][0], LIMIT)


@pytest.mark.parametrize(
    ("name", "note"),
    [
        ("JPEG with junk bytes before DQT", "^5 extraneous bytes before marker 0xdb$"),
        ("JPEG with junk bytes before APP1", "^7 extraneous bytes before marker 0xe1$"),
        ("JPEG with bad ICC chunks", r"^bad ICC profile chunks \(the profile is ignored\)$"),
    ],
)
def test_a_header_problem_is_a_note_in_the_probe_and_the_file_is_kept(tmp_path, name, note):
    path = tmp_path / "image.jpg"
    path.write_bytes(CORPUS[name][0])
    assert re.search(note, probe(path).note)
    assert read_gray(path).shape == (256, 256)


def test_a_lossless_jpeg_is_refused_from_its_markers_before_any_decoder_sees_it(tmp_path, monkeypatch):
    import simplejpeg

    def fail(*args, **kwargs):
        raise AssertionError("a decoder saw the lossless JPEG")

    monkeypatch.setattr(simplejpeg, "decode_jpeg", fail)
    monkeypatch.setattr(cv2, "imdecode", fail)
    path = tmp_path / "lossless.jpg"
    path.write_bytes(lossless_jpeg())
    for check in (probe, read_gray, lambda p: decode_gray(p.read_bytes())):
        with pytest.raises(RejectedImage, match=r"^lossless JPEG \(SOF3\) is not supported$"):
            check(path)


def test_a_png_without_idat_is_corrupt_not_an_index_error():
    with pytest.raises(RejectedImage, match=r"^corrupt PNG \(no IDAT chunk: no pixel data\)$"):
        decode_gray(CORPUS["PNG without IDAT"][0])


def test_pixel_limit_is_read_from_the_header_before_decoding(tmp_path):
    zeros = tmp_path / "zeros.png"
    zeros.write_bytes(zeros_png(20000, 20000, rows=20000))  # 388 kB that would decode to 400 MB
    reason = r"^20000x20000 = 400 Mpx exceeds the limit of 100 Mpx \(datasets\.mine\.max_pixels\)$"
    with pytest.raises(RejectedImage, match=reason):
        probe(zeros, LIMIT)
    with pytest.raises(RejectedImage, match=reason):
        read_gray(zeros, LIMIT)
    small = tmp_path / "small.png"
    small.write_bytes(zeros_png(100, 50, rows=50))
    assert probe(small, PixelLimit(5000)).width == 100
    with pytest.raises(RejectedImage, match=r"^100x50 = 0\.005 Mpx exceeds the limit of 0\.004999 Mpx \(max_pixels\)$"):
        read_gray(small, PixelLimit(4999))


def test_a_header_claiming_more_than_its_bytes_is_rejected_not_raised():
    bomb = zeros_png(40000, 40000, rows=1)  # OpenCV refuses 1.6 Gpx with cv2.error
    assert len(bomb) < 400
    with pytest.raises(RejectedImage, match=r"^40000x40000 = 1600 Mpx exceeds the limit of 100 Mpx"):
        decode_gray(bomb, LIMIT)
    with pytest.raises(RejectedImage, match=r"OpenCV cannot decode it \(.+\)"):
        decode_gray(bomb)  # no limit: OpenCV's own refusal (cv2.error) is this file's reason
    with pytest.raises(RejectedImage, match="^OpenCV cannot decode it$"):
        decode_gray(zeros_png(3000, 3000, rows=10))  # fewer rows than the header claims, CRCs intact


@pytest.mark.workflow
def test_workflow_lists_hostile_and_corrupt_files_in_rejects_and_completes(tmp_path):
    import pandas as pd
    from conftest import REPO, snakemake, write_config

    rng = np.random.default_rng(0)
    for source in ("cameras", "generator"):
        (tmp_path / source).mkdir()
        for index in range(6):
            image = rng.integers(0, 256, (64, 64), dtype=np.uint8)
            cv2.imwrite(str(tmp_path / source / f"{index}.png"), image)
    (tmp_path / "cameras" / "zeros.png").write_bytes(zeros_png(2000, 1000, rows=1000))
    (tmp_path / "cameras" / "claims.png").write_bytes(zeros_png(40000, 40000, rows=1))
    (tmp_path / "cameras" / "zeroed.jpg").write_bytes(CORPUS["JPEG with 20% of its scan zeroed"][0])
    (tmp_path / "cameras" / "motion.jpg").write_bytes(CORPUS["motion photo (JPEG + mp4)"][0])
    (tmp_path / "cameras" / "lossless.jpg").write_bytes(lossless_jpeg())
    (tmp_path / "cameras" / "noidat.png").write_bytes(CORPUS["PNG without IDAT"][0])
    (tmp_path / "cameras" / "junk.jpg").write_bytes(CORPUS["JPEG with junk bytes before DQT"][0])
    labels = {"cameras": "real", "generator": "fake"}
    sources = {name: {"label": label, "path": str(tmp_path / name)} for name, label in labels.items()}
    config = {"datasets": {"mine": {"shards": 1, "max_pixels": 1_000_000, "sources": sources}}}
    workdir = tmp_path / "run"
    workdir.mkdir()
    config_file = write_config(tmp_path / "mine.yaml", config)
    snakemake(workdir, "results/mine/rejects.csv", "--configfile", str(config_file), snakefile=REPO / "Snakefile")
    rejects = pd.read_csv(workdir / "results/mine/rejects.csv").set_index("id")
    assert rejects["reason"].to_dict() == {
        "cameras/claims.png": "40000x40000 = 1600 Mpx exceeds the limit of 1 Mpx (datasets.mine.max_pixels)",
        "cameras/lossless.jpg": "lossless JPEG (SOF3) is not supported",
        "cameras/noidat.png": "corrupt PNG (no IDAT chunk: no pixel data)",
        "cameras/zeroed.jpg": "corrupt JPEG (Corrupt JPEG data: 184 extraneous bytes before marker 0xd9)",
        "cameras/zeros.png": "2000x1000 = 2 Mpx exceeds the limit of 1 Mpx (datasets.mine.max_pixels)",
    }
    assert rejects["stage"].to_dict() == {
        "cameras/claims.png": "manifest",
        "cameras/lossless.jpg": "manifest",
        "cameras/noidat.png": "features",
        "cameras/zeroed.jpg": "features",
        "cameras/zeros.png": "manifest",
    }
    manifest = pd.read_parquet(workdir / "results/mine/manifest.parquet").set_index("id")
    assert manifest.loc["cameras/junk.jpg", "note"] == "5 extraneous bytes before marker 0xdb"


@pytest.mark.parametrize(("variant", "side"), [("dfd", 10), ("celeba", 8)])
def test_an_image_too_small_for_its_variant_is_a_reject_not_a_failed_job(tmp_path, variant, side):
    from unmask.features.extract import extract
    from unmask.features.spectrum import get_variant

    path = tmp_path / "small.png"
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 256, (side, side), dtype=np.uint8))
    vector, reason = extract(str(path), get_variant(variant))
    assert vector is None and f"{side}x{side}" in reason and variant in reason
