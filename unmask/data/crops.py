"""A shard of videos and images -> square face crops (PNG, native resolution), one Parquet row per frame or image.

Video sources always give face crops of their sampled frames; image sources do when the
dataset's ``faces.crop`` is set. Both use one detector (``unmask.data.faces``) and land in
one crop table, which the manifest reads: the crop is the item, the original is kept.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pyarrow as pa

from unmask import VIDEO_SUFFIXES
from unmask.data.faces import FaceDetector, crop_face
from unmask.data.images import DECODER_ERRORS, PixelLimit, RejectedImage, probe, read_native, write_image
from unmask.data.isolated import ChildCrashed, Isolated
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


def shard_videos(sources: dict[str, dict[str, Any]], shards: int, seed: int) -> dict[int, list[dict[str, Any]]]:
    """The videos of every video source (``{source, video, path}``), by shard of a stable hash of their id.

    A source's ``count`` keeps at most that many videos (a seeded, stable choice).
    """
    by_shard: dict[int, list[dict[str, Any]]] = {}
    for name in sorted(sources):
        root = Path(sources[name]["videos"])
        for path in sample_paths(list_videos(root), root, sources[name].get("count"), seed):
            video = path.relative_to(root).as_posix()
            shard = shard_of(stable_hash(f"{name}/{video}"), shards)
            by_shard.setdefault(shard, []).append({"source": name, "video": video, "path": str(path)})
    return dict(sorted(by_shard.items()))


def make_detector(faces: dict[str, Any]) -> FaceDetector:
    """The face detector of a dataset's ``faces`` settings (the schema's keys)."""
    return FaceDetector(faces["detector"], faces.get("model"), faces["min_face"], faces["detect_side"])


def crop_name(image_id: str) -> str:
    """A crop's file name: a hash of the image's id (any length of name fits; the manifest keeps the original)."""
    return f"{hashlib.sha256(image_id.encode()).hexdigest()[:32]}.png"


def shard_images(sources: dict[str, dict[str, Any]], shards: int, seed: int) -> dict[int, list[dict[str, Any]]]:
    """The selected images of every image source (``{source, image, path}``), by shard of a stable hash of their id.

    The selection is the manifest's own (``count``, file lists), so crops and manifest agree. An entry the
    listing skipped comes with its ``reason``: it becomes a crop-table row without a crop, and so a reject.
    """
    by_shard: dict[int, list[dict[str, Any]]] = {}
    for name in sorted(sources):
        candidates, skipped = image_candidates(name, sources[name], seed)
        entries = [(item.id, str(item.path), None) for item in candidates]
        entries += [(row["id"], row["path"], row["reason"]) for row in skipped]
        for item_id, path, reason in entries:
            image = {"source": name, "image": item_id.removeprefix(f"{name}/"), "path": path, "reason": reason}
            by_shard.setdefault(shard_of(stable_hash(item_id), shards), []).append(image)
    return {shard: sorted(images, key=lambda image: image["image"]) for shard, images in sorted(by_shard.items())}


def crop_image(
    image: dict[str, Any], out_dir: str | Path, detector: FaceDetector, margin: float, limit: PixelLimit | None = None
) -> dict[str, Any]:
    """Crop the most prominent face of one image (``{source, image, path}``) into ``out_dir/<source>/<hash>.png``
    (``crop_name``).

    Returns its crop-table row; without a crop the row says why (the listing's ``reason``, an image over the
    pixel ``limit`` read from its header, one that the checked decode refuses, or no face).
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
        pixels = read_native(image["path"], limit)
    except RejectedImage as error:
        return row | {"reason": str(error)}
    except DECODER_ERRORS as error:
        return row | {"reason": f"cannot read the image: {error}"}
    box = crop_face(pixels, detector, margin)
    if box is None:
        return row | {"reason": f"no face found ({detector.describe()})"}
    crop = Path(out_dir) / image["source"] / crop_name(f"{image['source']}/{image['image']}")
    write_image(crop, pixels[box.y : box.y + box.size, box.x : box.x + box.size])
    return row | {"crop": str(crop), "x": box.x, "y": box.y, "size": box.size}


class Cropper:
    """The crops job's worker, built in its child process (``Isolated``): the detector once, then one image
    (its crop-table row) or one video (its rows) per call."""

    def __init__(self, out_dir: str | Path, faces: dict[str, Any], limit: PixelLimit | None, frames: int | None = None):
        self.out_dir, self.limit, self.frames = Path(out_dir), limit, frames
        self.detector, self.margin = make_detector(faces), faces["margin"]

    def __call__(self, item: dict[str, Any]) -> dict[str, Any] | list[dict[str, Any]]:
        if "video" not in item:
            return crop_image(item, self.out_dir, self.detector, self.margin, self.limit)
        folder = self.out_dir / item["source"] / item["video"]
        assert self.frames is not None, "crop_videos gives its Cropper the frames of a video"
        records = process_video(
            item["path"], folder, n=self.frames, margin=self.margin, detector=self.detector, limit=self.limit
        )
        return [
            {
                "source": item["source"],
                "video": item["video"],
                "path": item["path"],
                "group": video_group(item["path"]),
                "actors": "|".join(actor_ids(item["path"])),
                "frame": record.frame_index,
                "timestamp_ms": record.timestamp_ms,
                "crop": record.crop_path,
                "x": record.x,
                "y": record.y,
                "size": record.size,
                "reason": record.reason,
                "detector": self.detector.name,
            }
            for record in records
        ]


def _crash_row(item: dict[str, Any], faces: dict[str, Any], error: ChildCrashed) -> dict[str, Any]:
    """The crop-table row of an image or video that crashed the child."""
    if "video" in item:
        identity = {
            "video": item["video"],
            "group": video_group(item["path"]),
            "actors": "|".join(actor_ids(item["path"])),
        }
    else:
        identity = {"image": item["image"], "group": f"{item['source']}/{item['image']}"}
    return {
        "source": item["source"],
        "path": item["path"],
        **identity,
        "reason": str(error),
        "detector": faces["detector"],
    }


def crop_images(
    images: list[dict[str, Any]], out_dir: str | Path, faces: dict[str, Any], limit: PixelLimit | None = None
) -> pa.Table:
    """Face crops of a shard of images (``{source, image, path}``), one row each; each image is decoded in a
    child process (an image that crashes a decoder is a row with that reason)."""
    rows = []
    with Isolated(Cropper, out_dir, faces, limit) as child:
        for image in progress(images, len(images), "image", "face crops"):
            try:
                rows.append(child(image))
            except ChildCrashed as error:
                rows.append(_crash_row(image, faces, error))
    return pa.Table.from_pylist(rows, CROPS_SCHEMA)


def crop_videos(
    videos: list[dict[str, Any]],
    out_dir: str | Path,
    frames: int,
    faces: dict[str, Any],
    limit: PixelLimit | None = None,
) -> pa.Table:
    """Crop faces from ``frames`` sampled frames of each video (``{source, video, path}``) into
    ``out_dir/<source>/<video>/``: one folder per video id, so videos of one name in other folders
    (``a/clip.mp4``, ``b/clip.mp4``, ``clip.avi``) keep their own crops. A video whose frames have more
    pixels than ``limit`` is refused from its header; one that crashes the decoder is one row with that reason."""
    rows, faces_found, bar = [], 0, progress(videos, len(videos), "video", "face crops")
    with Isolated(Cropper, out_dir, faces, limit, frames) as child:
        for video in bar:
            try:
                video_rows = child(video)
            except ChildCrashed as error:
                video_rows = [_crash_row(video, faces, error)]
            rows += video_rows
            faces_found += sum(row.get("crop") is not None for row in video_rows)
            bar.set_postfix_str(f"{faces_found} faces in {len(rows)} sampled frames")
    return pa.Table.from_pylist(rows, CROPS_SCHEMA)
