"""One manifest shard -> one Parquet file with a column per feature family, each image decoded once.

Columns: the manifest's id, label, source, group and video; ``harmonise``
(what was done to the image before its features); ``reason`` (why the image
or a family was rejected, else null); then one list column per family, named
by the family (its prefix, e.g. ``ycbcr_radial`` or ``angular[0-0.25]``),
null where that family has no features for the image.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from unmask.data.harmonise import Harmonise, decode
from unmask.data.images import PixelLimit, RejectedImage
from unmask.data.isolated import ChildCrashed, Isolated
from unmask.features import families
from unmask.features.extract import BATCH_SIZE, MIN_SIDE, read_checked, shard_rows, vectors_to_arrow
from unmask.io import atomic_output
from unmask.log import progress

KEYS = ["id", "label", "source", "group", "video"]


def schema(specs: list[families.Spec]) -> pa.Schema:
    """The shard's columns for these families."""
    fields = [
        pa.field("id", pa.string()),
        pa.field("label", pa.int8()),
        pa.field("source", pa.string()),
        pa.field("group", pa.string()),
        pa.field("video", pa.string()),
        pa.field("harmonise", pa.string()),
        pa.field("reason", pa.string()),
    ]
    return pa.schema(fields + [pa.field(spec.name, pa.list_(pa.float64())) for spec in specs])


def image_families(
    path: str,
    specs: list[families.Spec],
    harmonise: Harmonise | None,
    limit: PixelLimit | None,
    length: int | None = None,
    sha256: str | None = None,
) -> tuple[dict[str, np.ndarray | None], str | None, str | None]:
    """Each family's vector (None where rejected) of one image file (whose content hash must be ``sha256``,
    when given), what harmonising did, and the reasons."""
    try:
        gray, colour, done = decode(read_checked(path, sha256), harmonise, families.needs_colour(specs), limit)
        if min(gray.shape) < MIN_SIDE:
            raise RejectedImage(
                f"image of {gray.shape[1]}x{gray.shape[0]} pixels is smaller than {MIN_SIDE}x{MIN_SIDE}"
            )
    except RejectedImage as error:
        return _rejected(specs, str(error))
    results = families.compute(families.Decoded(gray, colour), specs, length)
    reasons = [value for value in results.values() if isinstance(value, str)]
    vectors: dict[str, np.ndarray | None] = {
        name: None if isinstance(value, str) else value for name, value in results.items()
    }
    return vectors, done, "; ".join(reasons) or None


def _rejected(specs: list[families.Spec], reason: str) -> tuple[dict[str, np.ndarray | None], None, str]:
    return dict.fromkeys((spec.name for spec in specs), None), None, reason


def _isolated(
    child: Isolated, specs: list[families.Spec], path: str, sha256: str | None
) -> tuple[dict[str, np.ndarray | None], str | None, str | None]:
    try:
        result: tuple[dict[str, np.ndarray | None], str | None, str | None] = child(path, sha256=sha256)
    except ChildCrashed as error:
        return _rejected(specs, str(error))
    return result


def extract_shard(
    manifest: str | Path,
    shard: int,
    shards: int,
    specs: list[families.Spec],
    out: str | Path,
    harmonise: Harmonise | None = None,
    pixel_limit: PixelLimit | None = None,
    length: int | None = None,
) -> int:
    """Write the families of one shard to ``out`` in batches; return the number of images with a reason.

    Images are decoded in a child process (``Isolated``), as for the paper's features."""
    rows = shard_rows(manifest, shard, shards)
    table_schema = schema(specs)
    flagged = 0
    bar = progress(total=rows.num_rows, unit="image", desc=f"families, shard {shard}/{shards}")
    child = Isolated(partial, image_families, specs=specs, harmonise=harmonise, limit=pixel_limit, length=length)
    with bar, child, atomic_output(out) as tmp, pq.ParquetWriter(tmp, table_schema) as writer:
        for offset in range(0, rows.num_rows, BATCH_SIZE):
            batch = rows.slice(offset, BATCH_SIZE)
            items = zip(batch["path"].to_pylist(), batch["sha256"].to_pylist())
            results = [_isolated(child, specs, path, sha256) for path, sha256 in items]
            flagged += sum(reason is not None for _, _, reason in results)
            columns = {key: batch[key] for key in KEYS}
            columns["harmonise"] = [done for _, done, _ in results]
            columns["reason"] = [reason for _, _, reason in results]
            for spec in specs:
                columns[spec.name] = vectors_to_arrow([vectors[spec.name] for vectors, _, _ in results])
            writer.write_table(pa.table(columns, schema=table_schema))
            bar.update(batch.num_rows)
        if rows.num_rows == 0:
            writer.write_table(table_schema.empty_table())
    return flagged
