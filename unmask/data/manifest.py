"""The manifest: one row per usable image, with a deterministic sample and a stable shard key."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from unmask import IMAGE_SUFFIXES, LABELS, VIDEO_SUFFIXES
from unmask.data.file_facts import FactsCache
from unmask.data.images import PixelLimit
from unmask.data.sampling import stable_hash
from unmask.data.sources import Candidate, image_candidates, reject_row

MANIFEST_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("path", pa.string()),
        ("label", pa.int8()),
        ("source", pa.string()),
        ("group", pa.string()),  # items of one group never fall in both splits
        ("video", pa.string()),  # for face crops: the video's id within its source
        ("frame", pa.int32()),  # for face crops: the frame index
        ("original", pa.string()),  # for face crops: the video or photo it was cut from
        ("crop_x", pa.int32()),  # for face crops: the square's top-left corner and side in the original's pixels
        ("crop_y", pa.int32()),
        ("crop_size", pa.int32()),
        ("detector", pa.string()),  # for face crops: the face detector
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("format", pa.string()),
        ("sha256", pa.string()),
        ("note", pa.string()),  # a problem that leaves the pixels defined (junk or bad metadata in a JPEG's header)
        ("shard_key", pa.int64()),
    ]
)
REJECTS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("path", pa.string()),
        ("source", pa.string()),
        ("stage", pa.string()),
        ("reason", pa.string()),
    ]
)


def listing_fingerprint(name: str, source: dict[str, Any], seed: int, cache: FactsCache) -> str:
    """A fingerprint of what a local source gives the manifest: the selected files' names and contents, and
    the skipped entries with their reasons; file times are not part of it, so a ``touch`` leaves it as it is.

    Only files whose size, modification time or inode changed since ``cache`` saw them are hashed.
    """
    candidates, rejects = image_candidates(name, source, seed)
    digests = cache.digests(item.path for item in candidates)
    lines = [f"{item.id}\t{digests[item.path]}\n" for item in candidates]
    lines += [f"{reject['id']}\t{reject['reason']}\n" for reject in rejects]
    return f"{len(candidates)} images, content sha256 {hashlib.sha256(''.join(lines).encode()).hexdigest()}"


def crop_candidates(name: str, source: dict[str, Any], split_by: str) -> tuple[list[Candidate], list[dict[str, Any]]]:
    """Face crops of a video or image source from its crop tables, and the frames or images that have none (as rejects).

    The group is the original video (``split_by: video``) or the target actor
    (``split_by: actor``), so that no video or actor falls in both splits.
    """
    candidates, rejects = [], {}
    for table in source["crop_tables"]:
        crops = pq.read_table(table)
        for record in crops.filter(pc.equal(crops["source"], name)).to_pylist():
            frame = "no-frame" if record["frame"] is None else f"{record['frame']:06d}"
            item_id = f"{name}/{record['image']}" if record.get("image") else f"{name}/{record['video']}/{frame}"
            if record["crop"] is None:  # samples that do not exist share one id and reason: keep one
                rejects[item_id, record["reason"]] = reject_row(
                    item_id, record["path"], name, "crops", record["reason"]
                )
                continue
            group = record["actors"].split("|")[0] if split_by == "actor" and record["actors"] else record["group"]
            box = {
                "original": record["path"],
                "crop_x": record["x"],
                "crop_y": record["y"],
                "crop_size": record["size"],
                "detector": record.get("detector"),
            }
            candidates.append(Candidate(item_id, Path(record["crop"]), group, record["video"], record["frame"], box))
    return candidates, list(rejects.values())


def duplicate_reasons(items: list[tuple[str, str, int, str | None]]) -> dict[str, str]:
    """Why items are rejected as copies, from (id, source, label, sha256) in manifest order.

    Same bytes within one class: the first is kept, the others name it. Same
    bytes in a real and a fake source: every copy is rejected, because neither
    label can be trusted.
    """
    groups: dict[str | None, list[tuple[str, str, int, str | None]]] = {}
    for item in items:
        groups.setdefault(item[3], []).append(item)
    reasons = {}
    for group in groups.values():
        if len({label for _, _, label, _ in group}) == 2:
            real, fake = (sorted({source for _, source, label, _ in group if label == wanted}) for wanted in (0, 1))
            ids = [item_id for item_id, *_ in group]
            shown = ", ".join(ids[:4]) + (f" and {len(ids) - 4} more" if len(ids) > 4 else "")
            reason = f"same bytes in real source {', '.join(real)} and fake source {', '.join(fake)} ({shown})"
            reasons.update(dict.fromkeys(ids, reason))
        else:
            reasons.update({item_id: f"same bytes as {group[0][0]}" for item_id, *_ in group[1:]})
    return reasons


def build_manifest(
    sources: dict[str, dict[str, Any]],
    seed: int,
    image_size: tuple[int, int] | None = None,
    split_by: str = "video",
    cache: FactsCache | None = None,
    pixel_limit: PixelLimit | None = None,
) -> tuple[pa.Table, pa.Table]:
    """Probe every selected image (or face crop) of every source; return (manifest, rejects) tables.

    A file that cannot be read, has more pixels than ``pixel_limit``, is not of the required ``(width, height)``, or
    repeats another file's bytes (see ``duplicate_reasons``) is rejected with
    its reason instead of stopping the run; so is a video frame without a face
    crop, and a folder entry the listing skipped. ``cache`` supplies the facts
    of files unchanged since an earlier build.
    """
    cache = cache or FactsCache()
    offered, rejects = [], []
    for name in sorted(sources):
        source = sources[name]
        if "crop_tables" in source:
            candidates, source_rejects = crop_candidates(name, source, split_by)
        else:
            candidates, source_rejects = image_candidates(name, source, seed)
        rejects += source_rejects
        offered += [(name, source, item) for item in candidates]
    facts = cache.facts(item.path for _, _, item in offered)
    cache.retain(facts)

    usable = []
    for name, source, item in offered:
        fact = facts[item.path]
        reason = fact.error
        if reason is None and pixel_limit and fact.width is not None and fact.height is not None:  # set if no error
            reason = pixel_limit.excess(fact.width, fact.height)
        if reason is None and image_size and (fact.width, fact.height) != tuple(image_size):
            reason = f"{fact.width}x{fact.height} pixels, the dataset requires {image_size[0]}x{image_size[1]}"
        if reason is not None:
            rejects.append(reject_row(item.id, item.path, name, "manifest", reason))
        else:
            usable.append((name, source, item, fact))
    copies = duplicate_reasons(
        [(item.id, name, LABELS[source["label"]], fact.sha256) for name, source, item, fact in usable]
    )

    rows = []
    for name, source, item, fact in usable:
        if item.id in copies:
            rejects.append(reject_row(item.id, item.path, name, "manifest", copies[item.id]))
            continue
        rows.append(
            {
                "id": item.id,
                "path": str(item.path),
                "label": LABELS[source["label"]],
                "source": name,
                "group": item.group,
                "video": item.video,
                "frame": item.frame,
                **(item.crop or {}),
                "width": fact.width,
                "height": fact.height,
                "format": fact.format,
                "sha256": fact.sha256,
                "note": fact.note,
                "shard_key": stable_hash(item.id),
            }
        )
    return pa.Table.from_pylist(rows, MANIFEST_SCHEMA), pa.Table.from_pylist(rejects, REJECTS_SCHEMA)


def check_classes(manifest: pa.Table, rejects: pa.Table, sources: dict[str, dict[str, Any]]) -> None:
    """Raise ``ValueError`` when a class has no usable image, saying why for each of its sources."""
    usable = set(manifest.column("source").to_pylist())
    for label in LABELS:
        names = sorted(name for name, source in sources.items() if source["label"] == label)
        if usable.intersection(names):
            continue
        reasons = [_why_nothing(name, sources[name], rejects) for name in names]
        raise ValueError(f"no usable {label} image, so nothing to train on: {'; '.join(reasons)}")


def _why_nothing(name: str, source: dict[str, Any], rejects: pa.Table) -> str:
    """Why a source gives the manifest no image: its rejects, counted by reason, or an empty listing."""
    reasons = Counter(rejects.filter(pc.equal(rejects["source"], name)).column("reason").to_pylist())
    if reasons:
        total, kind = reasons.total(), "item" if "crop_tables" in source else "file"
        if total == 1:
            return f"source {name}: its one {kind} is rejected ({next(iter(reasons))})"
        counted = "; ".join(f"{count} {reason}" for reason, count in reasons.most_common(3))
        more = f"; and {len(reasons) - 3} other reasons" if len(reasons) > 3 else ""
        return f"source {name}: its {total} {kind}s are rejected ({counted}{more})"
    if "videos" in source:
        return f"source {name}: no {_either(VIDEO_SUFFIXES)} file in {source['videos']}"
    if "file_list" in source:
        return f"source {name}: its file list {source['file_list']} lists no file"
    return f"source {name}: no {_either(IMAGE_SUFFIXES)} file in {source['path']}"


def _either(suffixes: tuple[str, ...]) -> str:
    return ", ".join(suffixes[:-1]) + f" or {suffixes[-1]}"
