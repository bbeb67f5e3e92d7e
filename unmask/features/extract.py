"""One manifest shard -> one Parquet file of spectral features, streamed in batches."""

from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from unmask.data.images import PixelLimit, RejectedImage, decode_gray
from unmask.data.isolated import ChildCrashed, Isolated
from unmask.data.sampling import shard_of
from unmask.features import spectrum
from unmask.features.perturb import jpeg
from unmask.io import atomic_output
from unmask.log import progress

FEATURES_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("label", pa.int8()),
        ("source", pa.string()),
        ("group", pa.string()),
        ("video", pa.string()),  # for face crops: the video's id within its source, else null
        ("features", pa.list_(pa.float64())),  # null when the image was rejected
        ("reason", pa.string()),  # why it was rejected, else null
    ]
)
BATCH_SIZE = 256


def shard_rows(manifest: str | Path, shard: int, shards: int) -> pa.Table:
    """The manifest rows of one shard, in manifest order."""
    columns = ["id", "path", "label", "source", "group", "video", "sha256", "shard_key"]
    table = pq.read_table(manifest, columns=columns)
    return table.filter(shard_of(table["shard_key"].to_numpy(), shards) == shard)


def vectors_to_arrow(vectors: list[np.ndarray | None]) -> pa.ListArray:
    """A list column from feature vectors (None becomes null) without a round trip through Python floats."""
    lengths = np.array([0 if v is None else len(v) for v in vectors], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    present = [v for v in vectors if v is not None]
    values = np.concatenate(present) if present else np.empty(0)
    missing = pa.array([v is None for v in vectors], type=pa.bool_())
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, pa.float64()), mask=missing)


MIN_SIDE = 8  # smaller images have too few rings for a spectrum


def image_features(image: np.ndarray, variant: spectrum.Variant, reencode: int | None = None) -> np.ndarray:
    """The features of a decoded grayscale image; with ``reencode``, after re-encoding it as JPEG at that
    quality (so that every image of both classes has the same last encoding)."""
    if min(image.shape) < MIN_SIDE:
        raise RejectedImage(f"image of {image.shape[1]}x{image.shape[0]} pixels is smaller than {MIN_SIDE}x{MIN_SIDE}")
    try:
        return spectrum.features(image if reencode is None else jpeg(image, reencode), variant)
    except spectrum.TooSmall as error:
        size = f"{image.shape[1]}x{image.shape[0]}"
        raise RejectedImage(f"image of {size} pixels is too small for the {variant.name} features ({error})") from None


def read_checked(path: str, sha256: str | None) -> bytes:
    """A file's bytes, refused (``RejectedImage``) if they are not the ones the manifest hashed."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise RejectedImage(f"cannot read it ({error.strerror}); the manifest listed it") from None
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise RejectedImage("its bytes changed after the manifest was built (sha256 differs)")
    return data


def extract(
    path: str,
    variant: spectrum.Variant,
    reencode: int | None = None,
    pixel_limit: PixelLimit | None = None,
    sha256: str | None = None,
) -> tuple[np.ndarray | None, str | None]:
    """Features of one image file (whose content hash must be ``sha256``, when given), or the reason it was
    rejected (a bug in the code still raises)."""
    try:
        return image_features(decode_gray(read_checked(path, sha256), pixel_limit), variant, reencode), None
    except RejectedImage as error:
        return None, str(error)


def _isolated(child: Isolated, path: str, sha256: str | None) -> tuple[np.ndarray | None, str | None]:
    try:
        result: tuple[np.ndarray | None, str | None] = child(path, sha256=sha256)
    except ChildCrashed as error:
        return None, str(error)
    return result


def extract_shard(
    manifest: str | Path,
    shard: int,
    shards: int,
    variant: spectrum.Variant,
    out: str | Path,
    reencode: int | None = None,
    pixel_limit: PixelLimit | None = None,
) -> int:
    """Write the features of one shard to ``out`` in batches; return the number of rejected images.

    Images are decoded in a child process (``Isolated``): one that crashes a decoder is a reject, not the end."""
    rows = shard_rows(manifest, shard, shards)
    rejected = 0
    bar = progress(total=rows.num_rows, unit="image", desc=f"features, shard {shard}/{shards}")
    child = Isolated(partial, extract, variant=variant, reencode=reencode, pixel_limit=pixel_limit)
    with bar, child, atomic_output(out) as tmp, pq.ParquetWriter(tmp, FEATURES_SCHEMA) as writer:
        for offset in range(0, rows.num_rows, BATCH_SIZE):
            batch = rows.slice(offset, BATCH_SIZE)
            items = zip(batch["path"].to_pylist(), batch["sha256"].to_pylist())
            results = [_isolated(child, path, sha256) for path, sha256 in items]
            rejected += sum(reason is not None for _, reason in results)
            writer.write_table(
                pa.table(
                    {
                        "id": batch["id"],
                        "label": batch["label"],
                        "source": batch["source"],
                        "group": batch["group"],
                        "video": batch["video"],
                        "features": vectors_to_arrow([values for values, _ in results]),
                        "reason": [reason for _, reason in results],
                    },
                    schema=FEATURES_SCHEMA,
                )
            )
            bar.update(batch.num_rows)
        if rows.num_rows == 0:
            writer.write_table(FEATURES_SCHEMA.empty_table())
    return rejected
