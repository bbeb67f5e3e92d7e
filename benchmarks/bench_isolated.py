"""Cost of decoding in a child process (``unmask.data.isolated``): features of the same images, in process and isolated.

    python -m benchmarks.bench_isolated [FOLDER] [--repeat 3]

FOLDER defaults to the research samples beside the repository (../shared/data/faces1024, 1024 px). Prints the median time per image of
``extract`` called directly and through ``Isolated`` (one child, one image per call: the features job's way),
the child's start-up once, and the overhead per image.
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial
from pathlib import Path

from unmask.data.images import list_images
from unmask.data.isolated import Isolated
from unmask.features.extract import extract
from unmask.features.spectrum import get_variant


def per_image(run, paths: list, repeat: int) -> float:
    """The median over ``repeat`` passes of the mean seconds per image."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for path in paths:
            run(path)
        times.append((time.perf_counter() - start) / len(paths))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "folder", nargs="?", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "faces1024")
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    paths = [str(path) for path in list_images(args.folder)]
    variant = get_variant("faces_hq")
    direct = per_image(lambda path: extract(path, variant), paths, args.repeat)
    with Isolated(partial, extract, variant=variant) as child:
        start = time.perf_counter()
        child(paths[0])
        startup = time.perf_counter() - start
        isolated = per_image(child, paths, args.repeat)
    print(f"{len(paths)} images from {args.folder}")
    print(f"{'in process':>12} {direct * 1e3:8.2f} ms/image")
    print(
        f"{'isolated':>12} {isolated * 1e3:8.2f} ms/image  (+{(isolated - direct) * 1e3:.2f} ms, {isolated / direct - 1:+.1%})"
    )
    print(f"{'child start':>12} {startup * 1e3:8.0f} ms once per job (and after a crash)")


if __name__ == "__main__":
    main()
