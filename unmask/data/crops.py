"""A shard of videos and images -> square face crops (PNG, native resolution), one Parquet row per frame or image.

Video sources always give face crops of their sampled frames; image sources do when the
dataset's ``faces.crop`` is set. Both use one detector (``unmask.data.faces``) and land in
one crop table, which the manifest reads: the crop is the item, the original is kept.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from unmask import VIDEO_SUFFIXES
from unmask.data.faces import FaceDetector, crop_face, read_image
from unmask.data.images import DECODER_ERRORS, PixelLimit, RejectedImage, probe, write_image
from unmask.data.sampling import sample_paths, shard_of, stable_hash
from unmask.data.sources import image_candidates
from unmask.data.video import actor_ids, process_video, video_group
from unmask.io import list_files
from unmask.log import progress

CROPS_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("video", pa.string()),  # the video's id within its source (relative path), or null
        ("image", pa.string()),  # for image sources: the image's id within its source (relative path), or null
        ("path", pa.string()),  # the video or image file
        ("group", pa.string()),  # the original video it was made from (images: the image's item id)
        ("actors", pa.string()),  # identities that may appear, "|"-separated, target first
        ("frame", pa.int32()),
        ("timestamp_ms", pa.float64()),
        ("crop", pa.string()),  # the PNG crop, or null
        ("x", pa.int32()),
        ("y", pa.int32()),
        ("size", pa.int32()),
        ("reason", pa.string()),  # why there is no crop
        ("detector", pa.string()),  # the face detector that placed the box
    ]
)


def list_videos(folder: str | Path) -> list[Path]:
    """Video files under ``folder``, searched recursively, sorted."""
    return list_files(folder, VIDEO_SUFFIXES)


def shard_videos(sources: dict[str, dict], shards: int, seed: int) -> dict[int, list[dict]]:
    """The videos of every video source (``{source, video, path}``), by shard of a stable hash of their id.

    A source's ``count`` keeps at most that many videos (a seeded, stable choice).
    """
    by_shard: dict[int, list[dict]] = {}
    for name in sorted(sources):
        root = Path(sources[name]["videos"])
        for path in sample_paths(list_videos(root), root, sources[name].get("count"), seed):
            video = path.relative_to(root).as_posix()
            shard = shard_of(stable_hash(f"{name}/{video}"), shards)
            by_shard.setdefault(shard, []).append({"source": name, "video": video, "path": str(path)})
    return dict(sorted(by_shard.items()))


def make_detector(faces: dict) -> FaceDetector:
    """The face detector of a dataset's ``faces`` settings (the schema's keys)."""
    return FaceDetector(faces["detector"], faces.get("model"), faces["min_face"], faces["detect_side"])


def shard_images(sources: dict[str, dict], shards: int, seed: int) -> dict[int, list[dict]]:
    """The selected images of every image source (``{source, image, path}``), by shard of a stable hash of their id.

    The selection is the manifest's own (``count``, file lists), so crops and manifest agree. An entry the
    listing skipped comes with its ``reason``: it becomes a crop-table row without a crop, and so a reject.
    """
    by_shard: dict[int, list[dict]] = {}
    for name in sorted(sources):
        candidates, skipped = image_candidates(name, sources[name], seed)
        entries = [(item.id, str(item.path), None) for item in candidates]
        entries += [(row["id"], row["path"], row["reason"]) for row in skipped]
        for item_id, path, reason in entries:
            image = {"source": name, "image": item_id.removeprefix(f"{name}/"), "path": path, "reason": reason}
            by_shard.setdefault(shard_of(stable_hash(item_id), shards), []).append(image)
    return {shard: sorted(images, key=lambda image: image["image"]) for shard, images in sorted(by_shard.items())}


def crop_image(
    image: dict, out_dir: str | Path, detector: FaceDetector, margin: float, limit: PixelLimit | None = None
) -> dict:
    """Crop the most prominent face of one image (``{source, image, path}``) into ``out_dir/<source>/<image>.png``.

    Returns its crop-table row; without a crop the row says why (the listing's ``reason``, an image over the
    pixel ``limit`` read from its header, one that cannot be decoded, or no face).
    """
    row = {
        "source": image["source"],
        "image": image["image"],
        "path": image["path"],
        "group": f"{image['source']}/{image['image']}",
        "detector": detector.name,
    }
    if image.get("reason"):
        return row | {"reason": image["reason"]}
    try:
        probe(image["path"], limit)
        pixels = read_image(image["path"])
    except RejectedImage as error:
        return row | {"reason": str(error)}
    except DECODER_ERRORS as error:
        return row | {"reason": f"cannot read the image: {error}"}
    if pixels is None:
        return row | {"reason": "not a readable image (OpenCV cannot decode it)"}
    box = crop_face(pixels, detector, margin)
    if box is None:
        return row | {"reason": f"no face found ({detector.describe()})"}
    crop = Path(out_dir) / image["source"] / f"{image['image']}.png"
    write_image(crop, pixels[box.y : box.y + box.size, box.x : box.x + box.size])
    return row | {"crop": str(crop), "x": box.x, "y": box.y, "size": box.size}


def crop_images(images: list[dict], out_dir: str | Path, faces: dict, limit: PixelLimit | None = None) -> pa.Table:
    """Face crops of a shard of images (``{source, image, path}``), one row each."""
    detector, margin = make_detector(faces), faces["margin"]
    images = progress(images, len(images), "image", "face crops")
    rows = [crop_image(image, out_dir, detector, margin, limit) for image in images]
    return pa.Table.from_pylist(rows, CROPS_SCHEMA)


def crop_videos(
    videos: list[dict], out_dir: str | Path, frames: int, faces: dict, limit: PixelLimit | None = None
) -> pa.Table:
    """Crop faces from ``frames`` sampled frames of each video (``{source, video, path}``) into
    ``out_dir/<source>/<video>/``: one folder per video id, so videos of one name in other folders
    (``a/clip.mp4``, ``b/clip.mp4``, ``clip.avi``) keep their own crops. A video whose frames have more
    pixels than ``limit`` is refused from its header."""
    detector, margin = make_detector(faces), faces["margin"]
    rows, faces_found, bar = [], 0, progress(videos, len(videos), "video", "face crops")
    for video in bar:
        folder = Path(out_dir) / video["source"] / video["video"]
        records = process_video(video["path"], folder, n=frames, margin=margin, detector=detector, limit=limit)
        for record in records:
            rows.append(
                {
                    "source": video["source"],
                    "video": video["video"],
                    "path": video["path"],
                    "group": video_group(video["path"]),
                    "actors": "|".join(actor_ids(video["path"])),
                    "frame": record.frame_index,
                    "timestamp_ms": record.timestamp_ms,
                    "crop": record.crop_path,
                    "x": record.x,
                    "y": record.y,
                    "size": record.size,
                    "reason": record.reason,
                    "detector": detector.name,
                }
            )
        faces_found += sum(r.crop_path is not None for r in records)
        bar.set_postfix_str(f"{faces_found} faces in {len(rows)} sampled frames")
    return pa.Table.from_pylist(rows, CROPS_SCHEMA)
