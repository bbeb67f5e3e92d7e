"""Harmonising: block-aligned centre crops, never a resample, one JPEG re-encoding for every image alike."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from unmask.data.harmonise import Harmonise, crop_offset, decode, reencode
from unmask.data.images import RejectedImage


def _jpeg(height: int, width: int, quality: int = 90, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3)).astype(np.uint8), (5, 5), 1.5)
    return reencode(image, quality)


def _png(height: int, width: int) -> bytes:
    image = np.random.default_rng(1).integers(0, 256, (height, width, 3)).astype(np.uint8)
    return cv2.imencode(".png", image)[1].tobytes()


@pytest.mark.parametrize(
    ("side", "crop", "offset"), [(1024, 768, 128), (768, 768, 0), (1000, 768, 112), (800, 768, 16)]
)
def test_crop_offsets_are_centred_on_the_block_grid(side, crop, offset):
    assert crop_offset(side, crop) == offset and offset % 16 == 0


def test_a_crop_keeps_the_decoded_pixels_and_says_where():
    data = _jpeg(96, 128)
    gray, colour, done = decode(data, Harmonise(crop=64), colour=True)
    full = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(gray, full[16:80, 32:96])
    np.testing.assert_array_equal(colour, cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[16:80, 32:96])
    assert done == "crop 64 at x 32, y 16"


def test_an_image_smaller_than_the_crop_is_rejected_never_resampled():
    with pytest.raises(RejectedImage, match="64x48 pixels is smaller than the harmonise crop of 64"):
        decode(_jpeg(48, 64), Harmonise(crop=64), colour=False)


def test_reencoding_gives_both_formats_one_last_encoding():
    """A PNG and a JPEG of other quality come out as JPEG q50 4:2:0: re-encoding the result changes nothing more
    than a second JPEG round trip would."""
    for data in (_png(64, 64), _jpeg(64, 64, quality=95)):
        gray, colour, done = decode(data, Harmonise(jpeg_quality=50), colour=True)
        assert done == "JPEG q50 4:2:0"
        again = cv2.imdecode(np.frombuffer(reencode(colour, 50), np.uint8), cv2.IMREAD_GRAYSCALE)
        assert np.abs(again.astype(int) - gray).mean() < 2  # JPEG at one quality is near idempotent
        expected = cv2.imdecode(
            np.frombuffer(reencode(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), 50), np.uint8),
            cv2.IMREAD_GRAYSCALE,
        )
        np.testing.assert_array_equal(gray, expected)


def test_gray_only_decode_without_harmonising_is_the_paper_s():
    data = _png(40, 40)
    gray, colour, done = decode(data, Harmonise.of(None), colour=False)
    np.testing.assert_array_equal(gray, cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE))
    assert colour is None and done == "as given"


def test_a_corrupt_file_is_rejected_by_the_checked_decode():
    data = _jpeg(64, 64)
    with pytest.raises(RejectedImage, match="corrupt JPEG"):
        decode(data[: len(data) // 2], Harmonise(crop=32), colour=True)


def test_the_audit_says_whether_harmonising_matches_the_classes(tmp_path):
    from unmask.data import audit

    files = {"photo.jpg": _jpeg(128, 128, 75), "fake.jpg": _jpeg(96, 96, 75, seed=1), "fake.png": _png(96, 96)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    items = [("photos", "real", tmp_path / "photo.jpg"), ("fakes", "fake", tmp_path / "fake.jpg")]
    assert any("image size" in w for w in audit.confound_warnings(audit.summarize_sources(items)))
    cropped = audit.summarize_sources(items, harmonise=Harmonise(crop=96))
    assert audit.confound_warnings(cropped) == []
    items.append(("fakes", "fake", tmp_path / "fake.png"))
    warnings = audit.confound_warnings(audit.summarize_sources(items, harmonise=Harmonise(crop=96)))
    assert len(warnings) == 1 and "container" in warnings[0]
    reencoded = audit.summarize_sources(items, harmonise=Harmonise(crop=96, jpeg_quality=90))
    assert audit.confound_warnings(reencoded) == []
    assert audit.summarize_sources(items, harmonise=Harmonise(crop=112))[1].formats == {}  # too small: rejected


def test_the_audit_command_adds_the_verdict_after_harmonising(tmp_path):
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from unmask import cli

    (tmp_path / "photo.jpg").write_bytes(_jpeg(128, 128, 75))
    (tmp_path / "fake.jpg").write_bytes(_jpeg(96, 96, 75, seed=1))
    items = {
        "id": ["photos/photo.jpg", "fakes/fake.jpg"],
        "source": ["photos", "fakes"],
        "label": [0, 1],
        "path": [str(tmp_path / n) for n in ("photo.jpg", "fake.jpg")],
    }
    pq.write_table(pa.table(items), tmp_path / "manifest.parquet")
    (tmp_path / "rejects.csv").write_text("id,source,stage\n")
    labels = json.dumps({"photos": "real", "fakes": "fake"})
    base = ["audit", "--manifest", str(tmp_path / "manifest.parquet"), "--rejects", str(tmp_path / "rejects.csv")]
    base += ["--labels", labels, "--out", str(tmp_path / "audit.csv"), "--warnings", str(tmp_path / "warnings.txt")]
    assert cli.main([*base, "--harmonise", json.dumps({"crop": 96, "jpeg_quality": None})]) == 0
    lines = (tmp_path / "warnings.txt").read_text().splitlines()
    assert len(lines) == 2 and "image size" in lines[0]
    assert lines[1] == (
        "After harmonising (crop 96, JPEG re-encoding none), real and fake images match in container, size, "
        "chroma subsampling and JPEG quality"
    )
    assert cli.main(base) == 0  # without harmonise: the warnings alone, as before
    assert (tmp_path / "warnings.txt").read_text().splitlines() == lines[:1]


def test_a_named_method_resamples_the_shorter_side_to_the_crop():
    data = _jpeg(48, 64)
    gray, colour, done = decode(data, Harmonise(crop=96, resample="area"), colour=True)
    full = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(gray, cv2.resize(full, (128, 96), interpolation=cv2.INTER_AREA)[:, 16:112])
    assert gray.shape == colour.shape[:2] == (96, 96)
    assert done == "resampled 64x48 to 128x96 (area); crop 96 at x 16, y 0"
    assert decode(_jpeg(96, 96), Harmonise(crop=96, resample="area"), colour=False)[2] == "crop 96 at x 0, y 0"
