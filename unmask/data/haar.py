"""Haar face search: OpenCV's full cascade search, or the same boxes found faster from a coarse search.

The full search is ``detectMultiScale(gray, 1.1, 5, minSize=smallest)``: windows of 24 px x 1.1^k
on a pyramid of the image, every 2nd position (every position once windows reach 48 px), grouped
(``minNeighbors`` 5). Most of its time goes to places without a face. The two-stage search
(``HaarSearch.__call__``) first looks for candidate faces on a 240 px copy (then, if it finds none,
on a 360 px one: ``COARSE_SIDES``), then evaluates the full search's windows only in a square of
``REGION`` x each candidate's side: the pyramid levels are rebuilt as OpenCV 4 builds them
(``INTER_LINEAR_EXACT``, float scales), so each window sees the pixels it sees in the full search
and the grouped boxes are the full search's there (``tests/test_faces.py`` compares them). Without
a candidate, or without a face near one, it runs the full search, so it never finds fewer faces.
``benchmarks/bench_video.py`` measures both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import ArrayLike

HAAR_CASCADE = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]  # cv2.data is missing from OpenCV's stubs
WINDOW = 24  # the cascade's window, in pixels of the pyramid level it searches
SCALE_FACTOR, MIN_NEIGHBOURS, GROUP_EPS = 1.1, 5, 0.2  # the full search (GROUP_EPS: OpenCV's grouping)
COARSE_SIDES = (240, 360)  # the coarse copies' longer sides, tried in turn (faces from 64, 43 px of a 640 px copy)
COARSE_SCALE_FACTOR = 1.2
REGION = 2.0  # side of the square searched around a candidate, in candidate sides
SMALLEST_IN_REGION = 0.5  # windows smaller than this x the candidate's side are not searched there
LEFT_PAD = 8  # level pixels scanned left of a region: OpenCV skips the position after one its first stage
# rejects, so a row scan started a little to the left falls into the full search's rhythm before the region


def largest_first(boxes: ArrayLike) -> list[np.ndarray]:
    """``(x, y, w, h)`` boxes by decreasing area (ties keep their order)."""
    boxes = np.asarray(boxes).reshape(-1, 4)
    return [boxes[i] for i in np.argsort(-(boxes[:, 2] * boxes[:, 3]), kind="stable")]


class HaarSearch:
    """The faces of an 8-bit grayscale image at least ``smallest`` pixels wide, largest first.

    ``two_stage=False`` always runs the full search. ``searches`` and ``full_searches`` count
    the calls and the ones that ran the full search.
    """

    def __init__(self, two_stage: bool = True):
        self._cascade = cv2.CascadeClassifier(str(HAAR_CASCADE))
        if self._cascade.empty():
            raise RuntimeError(f"cannot load Haar cascade {HAAR_CASCADE}")
        self.two_stage = two_stage
        self.searches = self.full_searches = 0

    def full(self, gray: np.ndarray, smallest: int) -> list[np.ndarray]:
        """OpenCV's full search, largest face first."""
        faces = self._cascade.detectMultiScale(gray, SCALE_FACTOR, MIN_NEIGHBOURS, minSize=(smallest, smallest))
        return largest_first(faces)

    def __call__(self, gray: np.ndarray, smallest: int) -> list[np.ndarray]:
        """The full search's largest face (a list of one), or ``[]``; via the coarse search where it helps."""
        self.searches += 1
        if self.two_stage and max(gray.shape) >= 2 * COARSE_SIDES[0]:
            for side in COARSE_SIDES:
                regions = self.candidate_regions(gray, smallest, side)
                faces = self.search_regions(gray, smallest, regions) if regions else []
                if faces:
                    return faces[:1]
        self.full_searches += 1
        return self.full(gray, smallest)[:1]

    def candidate_regions(self, gray: np.ndarray, smallest: int, side: int) -> list[tuple[int, int, int, int, float]]:
        """Squares ``(x0, y0, x1, y1, smallest window)`` around the faces a search on a ``side`` px copy finds."""
        height, width = gray.shape
        scale = side / max(height, width)
        size = (round(width * scale), round(height * scale))
        if min(size) <= WINDOW:  # too thin for the coarse search
            return []
        coarse = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        least = max(WINDOW, int(smallest * scale / 2))
        candidates = self._cascade.detectMultiScale(coarse, COARSE_SCALE_FACTOR, 1, minSize=(least, least))
        regions = []
        for x, y, face, _ in np.asarray(candidates).reshape(-1, 4) / scale:
            centre_x, centre_y, half = x + face / 2, y + face / 2, REGION * face / 2
            x0, y0 = max(0, int(centre_x - half)), max(0, int(centre_y - half))
            x1, y1 = min(width, int(np.ceil(centre_x + half))), min(height, int(np.ceil(centre_y + half)))
            regions.append((x0, y0, x1, y1, SMALLEST_IN_REGION * face))
        return regions

    def search_regions(
        self, gray: np.ndarray, smallest: int, regions: list[tuple[int, int, int, int, float]]
    ) -> list[np.ndarray]:
        """The full search's grouped faces among its windows inside ``regions``, largest first."""
        height, width = gray.shape
        found = set()
        for scale, size, window in pyramid(width, height, smallest):
            level = None
            for x0, y0, x1, y1, least in regions:
                if window < least or window > min(x1 - x0, y1 - y0):
                    continue
                step = 1 if scale >= 2 else 2  # OpenCV scans every position from scale 2 on
                left, top = max(0, int(x0 / scale) - LEFT_PAD), max(0, int(y0 / scale))
                left, top = left - left % step, top - top % step  # on the full search's grid
                right, bottom = min(size[0], int(np.ceil(x1 / scale)) + 1), min(size[1], int(np.ceil(y1 / scale)) + 1)
                if right - left <= WINDOW or bottom - top <= WINDOW:
                    continue
                if level is None:
                    level = cv2.resize(gray, size, interpolation=cv2.INTER_LINEAR_EXACT)
                for x, y in self._windows(level[top:bottom, left:right], step):
                    column, row = np.rint(
                        np.array([x + left, y + top], dtype=np.float32) * np.float32(scale)
                    )  # as OpenCV
                    found.add((window, int(row), int(column)))
        if not found:
            return []
        rects = [[x, y, window, window] for window, y, x in sorted(found)]  # level by level, row by row
        return largest_first(cv2.groupRectangles(rects, MIN_NEIGHBOURS, GROUP_EPS)[0])

    def _windows(self, level: np.ndarray, step: int) -> list[tuple[int, int]]:
        """Positions of the cascade's accepted windows in one pyramid level, scanned with ``step`` as OpenCV does.

        ``detectMultiScale`` limited to one scale scans it: scale 1 with step 2; for step 1 a
        2x nearest-neighbour copy at scale 2, which it halves back to the same pixels exactly.
        """
        if step == 2:
            found = self._cascade.detectMultiScale(level, SCALE_FACTOR, 0, minSize=(WINDOW,) * 2, maxSize=(WINDOW,) * 2)
            return [(x, y) for x, y, _, _ in np.asarray(found).reshape(-1, 4)]
        doubled = cv2.resize(level, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        found = self._cascade.detectMultiScale(doubled, 2.0, 0, minSize=(2 * WINDOW,) * 2, maxSize=(2 * WINDOW,) * 2)
        return [(x // 2, y // 2) for x, y, _, _ in np.asarray(found).reshape(-1, 4)]


def pyramid(width: int, height: int, smallest: int) -> Iterator[tuple[float, tuple[int, int], int]]:
    """The full search's levels as OpenCV builds them: ``(scale, (level width, height), window side)``.

    Scales 1.1^k (accumulated in double, used as float32), from the first whose window is at
    least ``smallest`` until a level is no larger than the window.
    """
    factor = 1.0
    while True:
        scale = float(np.float32(factor))
        size = (round(width / scale), round(height / scale))
        if min(size) <= WINDOW:
            return
        window = round(WINDOW * scale)
        if window >= smallest:
            yield scale, size, window
        factor *= SCALE_FACTOR
