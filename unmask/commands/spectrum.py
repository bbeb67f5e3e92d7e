"""``unmask spectrum``: print the features of image files (and of the images in folders) as CSV rows.

Every row has the same length: with images of different sizes (whose spectra differ in length, e.g.
variant ``faces_hq``), an image whose spectrum differs in length from the first one is refused with
the reason, unless ``--length`` resamples every spectrum to one length.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from tqdm import tqdm

from unmask.features import spectrum
from unmask.log import one_line


def features_of(path: str, data: bytes | None, variant: spectrum.Variant):
    """The features of one image file, or of its ``data`` when the caller read them (a pipe), in a child
    process: a decoder crash costs that file only."""
    from unmask.data.images import check_file, decode_gray

    if data is None:
        check_file(path)
        data = Path(path).read_bytes()
    return spectrum.features(decode_gray(data), variant)


def _spectrum(args: argparse.Namespace) -> int:
    from functools import partial

    from unmask import IMAGE_SUFFIXES
    from unmask.data.images import RejectedImage
    from unmask.data.isolated import ChildCrashed, Isolated
    from unmask.io import scan_files
    from unmask.log import progress

    variant = spectrum.get_variant(args.variant, args.length)
    rows = csv.writer(sys.stdout, lineterminator="\n")  # quotes a file name with a comma, quote or newline
    failed, length = 0, None

    def fail(path: str, reason: object) -> None:
        nonlocal failed
        tqdm.write(one_line(f"unmask spectrum: {path or repr(path)}: {reason}"), file=sys.stderr)
        failed += 1

    paths: list[str] = []
    for given in args.images:
        if given == "" or not Path(given).is_dir():
            paths.append(given)
            continue
        listing = scan_files(given, IMAGE_SUFFIXES)
        for entry, reason in listing.skipped:
            fail(str(entry), reason)
        paths += [str(path) for path in listing.files]
        if not listing.files:
            fail(given, f"no image files ({', '.join(IMAGE_SUFFIXES)}) in it")
    with Isolated(partial, features_of, variant=variant) as child:
        for path in progress(paths, len(paths), "image", "spectrum", terminal_only=True):
            try:
                if path == "":  # Path("") is the working folder
                    raise RejectedImage("an empty path")
                values = child(path, Path(path).read_bytes() if Path(path).is_fifo() else None)
            except (RejectedImage, OSError, ValueError, ChildCrashed) as error:
                fail(path, error)
                continue
            if length is not None and len(values) != length:
                fail(
                    path,
                    f"its spectrum has {len(values)} values, the first image's {length} (images of different "
                    "sizes); pass --length N to resample every spectrum to N values",
                )
                continue
            if length is None and not args.no_header:
                rows.writerow(["file", *(f"f{i:03d}" for i in range(len(values)))])
            length = len(values)
            rows.writerow([path, *(repr(float(v)) for v in values)])
    return 1 if failed else 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``unmask spectrum`` to the ``unmask`` sub-commands."""
    from unmask.config import schema_default, schema_option

    command = commands.add_parser(
        "spectrum",
        help="print the feature vector of images as CSV rows",
        description="Print the feature vector of images (and of the images in folders, searched recursively) as "
        "CSV rows of one length: an image whose spectrum differs in length from the first is refused unless "
        "--length resamples every spectrum.",
    )
    command.add_argument("images", nargs="+", help="image files, or folders of them")
    command.add_argument(
        "--variant",
        default=schema_default("datasets", "*", "variant"),
        choices=sorted(spectrum.VARIANTS),
        help="feature definition (default %(default)s)",
    )
    command.add_argument(
        "--length",
        **schema_option("datasets", "*", "spectrum_length"),
        help="resample spectra to this many points (default: the variant's)",
    )
    command.add_argument("--no-header", action="store_true", help="omit the header row")
    command.set_defaults(run=_spectrum)
