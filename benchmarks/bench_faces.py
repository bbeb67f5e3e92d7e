"""How often each face detector finds the face, and how often it finds one where there is none.

Face sets (every image holds one face): the FaceForensics++ clips' sampled frames, the 256 px and
1024 px face samples and the seed paper's 128 px CelebA fakes in ../shared/data, and scenes (a 256 px
face pasted at a random place and scale into a 1200x900 face-free background; found = crop box
IoU >= 0.5 with the pasted square). Face-free sets: the scenes' backgrounds, and crops of the camera
photos with no face that scikit-learn ships (china.jpg, flower.jpg).

    python benchmarks/bench_faces.py [--per-set 100] [--frames 10]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from sklearn.datasets import load_sample_images

from unmask.data.faces import FaceDetector, crop_face
from unmask.data.video import read_samples

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
YUNET = SHARED / "models" / "face_detection_yunet.onnx"


def iou(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    width = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    height = max(0, min(a[1] + a[2], b[1] + b[2]) - max(a[1], b[1]))
    return width * height / (a[2] ** 2 + b[2] ** 2 - width * height)


def background(rng: np.random.Generator, height: int = 900, width: int = 1200) -> np.ndarray:
    """A face-free colour scene: a random gradient with blurred noise (as tests/test_faces.py builds)."""
    yy, xx = np.mgrid[0:height, 0:width]
    gradient = (xx * rng.uniform(0.05, 0.2) + yy * rng.uniform(0.05, 0.2)) % 256
    noise = cv2.GaussianBlur(rng.normal(0, 20, (height, width)), (0, 0), 3)
    gray = np.clip(0.5 * gradient + 60 + noise, 0, 255).astype(np.uint8)
    return np.clip(gray[..., None] * rng.uniform(0.8, 1.2, 3), 0, 255).astype(np.uint8)


def image_set(folder: Path, limit: int) -> list[np.ndarray]:
    return [cv2.imread(str(p)) for p in sorted(folder.glob("*.[jp][pn]g"))[:limit]] if folder.is_dir() else []


def video_frames(limit_per_clip: int) -> list[np.ndarray]:
    clips = sorted((SHARED / "data" / "faceforensics_c40").rglob("*.mp4"))
    return [s.image for clip in clips for s in read_samples(clip, limit_per_clip) if s.image is not None]


def scenes(faces: list[np.ndarray], rng: np.random.Generator) -> list[tuple[np.ndarray, tuple[int, int, int]]]:
    out = []
    for face in faces:
        side = int(rng.integers(160, 400))
        scene = background(rng)
        x, y = int(rng.integers(0, 1200 - side)), int(rng.integers(0, 900 - side))
        scene[y : y + side, x : x + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
        out.append((scene, (x, y, side)))
    return out


def face_free_crops(rng: np.random.Generator, count: int, side: int = 256) -> list[np.ndarray]:
    photos = [cv2.cvtColor(p, cv2.COLOR_RGB2BGR) for p in load_sample_images().images]
    crops = []
    for k in range(count):
        photo = photos[k % len(photos)]
        y, x = int(rng.integers(0, photo.shape[0] - side)), int(rng.integers(0, photo.shape[1] - side))
        crops.append(photo[y : y + side, x : x + side])
    return crops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-set", type=int, default=100, help="images per set")
    parser.add_argument("--frames", type=int, default=10, help="frames sampled per FaceForensics++ clip")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    data = SHARED / "data"
    face_sets = {
        "FF++ c40 frames": video_frames(args.frames),
        "faces256 real": image_set(data / "faces256" / "real", args.per_set),
        "faces256 fake": image_set(data / "faces256" / "fake", args.per_set),
        "faces1024 (real+fake)": image_set(data / "faces1024" / "real", 10)
        + image_set(data / "faces1024" / "fake", 10),
        "celeba_fake128": image_set(data / "celeba_fake128", args.per_set),
    }
    scene_set = scenes(
        image_set(data / "faces256" / "real", args.per_set // 2)
        + image_set(data / "faces256" / "fake", args.per_set // 2),
        rng,
    )
    empty_sets = {
        "backgrounds": [background(rng) for _ in range(args.per_set // 2)],
        "china/flower crops": face_free_crops(rng, args.per_set),
    }
    detectors = {"haar": lambda: FaceDetector("haar", min_face=32)}
    if YUNET.is_file():
        detectors["yunet"] = lambda: FaceDetector("yunet", YUNET, min_face=32)
    else:
        print(f"YuNet skipped: model file {YUNET} is absent")
    print(f"cv2 {cv2.__version__}, detection on a copy of at most 640 px, smallest face 32 px, margin 0.25\n")
    print(f"{'set':<30}{'images':>7}" + "".join(f"{name + ' found':>14}{'ms/img':>8}" for name in detectors))
    rows = [(name, images, lambda d, im: d(im) is not None) for name, images in face_sets.items()]
    rows.append(
        (
            "scenes (IoU >= 0.5)",
            scene_set,
            lambda d, item: (c := crop_face(item[0], d)) is not None and iou((c.x, c.y, c.size), item[1]) >= 0.5,
        )
    )
    rows += [(f"{name} (no face)", images, lambda d, im: d(im) is not None) for name, images in empty_sets.items()]
    for name, images, found in rows:
        if not images:
            print(f"{name:<30}{'absent':>7}")
            continue
        line = f"{name:<30}{len(images):7d}"
        for make in detectors.values():
            detector = make()
            start = time.perf_counter()
            hits = sum(found(detector, image) for image in images)
            line += f"{100 * hits / len(images):13.1f}%{1e3 * (time.perf_counter() - start) / len(images):8.1f}"
        print(line)
    print("\n'found' on a face-free set is the false-positive rate.")


if __name__ == "__main__":
    main()
