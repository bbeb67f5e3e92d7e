"""Built-in demo data, made from the photos that the dependencies ship (a smoke test, not a benchmark).

Real images are square crops of matplotlib's ``grace_hopper.jpg`` and scikit-learn's ``china.jpg`` and
``flower.jpg``. Fake images are such crops down-sampled by two, then up-sampled by two with nearest neighbour +
convolution or with a transposed convolution (zero insertion + a 4x4 kernel), the mechanism that Durall et
al.'s follow-up work blames for the spectral artefacts of GANs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import matplotlib.cbook
import numpy as np
from sklearn.datasets import load_sample_image

from unmask.data.images import write_image

# A 1-D kernel whose two polyphase parts ([1, 3] and [3, 1]) each sum to 4: a plausible learned up-sampler.
_TRANSPOSED_KERNEL = np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 16.0
_SMOOTHING_KERNEL = np.outer([1, 2, 1], [1, 2, 1]) / 16.0


def photos() -> list[np.ndarray]:
    """The camera photos shipped by matplotlib and scikit-learn, as BGR arrays."""
    grace = cv2.imread(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    others = [cv2.cvtColor(load_sample_image(name), cv2.COLOR_RGB2BGR) for name in ("china.jpg", "flower.jpg")]
    return [grace, *others]


def upsample_nearest(image: np.ndarray) -> np.ndarray:
    """Nearest-neighbour x2 followed by a 3x3 convolution."""
    big = cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST).astype(np.float32)
    return cv2.filter2D(big, -1, _SMOOTHING_KERNEL, borderType=cv2.BORDER_REFLECT)


def upsample_transposed(image: np.ndarray) -> np.ndarray:
    """A stride-2 transposed convolution: zero insertion, then a 4x4 kernel (each phase sums to one)."""
    height, width = image.shape[:2]
    zeros = np.zeros((2 * height, 2 * width) + image.shape[2:], np.float32)
    zeros[::2, ::2] = image
    return cv2.filter2D(zeros, -1, _TRANSPOSED_KERNEL, borderType=cv2.BORDER_REFLECT)


def make_image(photo: np.ndarray, style: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One square demo image of ``size`` pixels cut from ``photo`` at a random place."""
    y = rng.integers(0, photo.shape[0] - size + 1)
    x = rng.integers(0, photo.shape[1] - size + 1)
    crop = photo[y : y + size, x : x + size]
    if style == "photo":
        return crop
    small = cv2.resize(crop, (size // 2, size // 2), interpolation=cv2.INTER_AREA)
    up = upsample_nearest(small) if style == "nearest" else upsample_transposed(small)
    pixels: np.ndarray = np.clip(up, 0, 255).round().astype(np.uint8)
    return pixels


def acquire(spec: dict[str, Any], dest: Path) -> list[Path]:
    """Write ``count`` demo images of the spec's style into ``dest`` (deterministic, so rewriting is harmless)."""
    style, count = spec["style"], spec["count"]
    size, suffix, seed = spec.get("size", 128), spec.get("format", "jpg"), spec.get("seed", 0)
    sources = photos()
    rng = np.random.default_rng(seed)
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        paths.append(dest / f"{style}_{index:05d}.{suffix}")
        write_image(paths[-1], make_image(sources[index % len(sources)], style, size, rng), quality=95, compression=3)
    return paths
