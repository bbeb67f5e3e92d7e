"""``unmask spectrum``: print the features of image files."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

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

    from unmask.data.images import RejectedImage
    from unmask.data.isolated import ChildCrashed, Isolated

    variant = spectrum.get_variant(args.variant, args.length)
    rows = csv.writer(sys.stdout, lineterminator="\n")  # quotes a file name with a comma, quote or newline
    failed = 0
    with Isolated(partial, features_of, variant=variant) as child:
        for path in args.images:
            try:
                if path == "":  # Path("") is the working folder
                    raise RejectedImage("an empty path")
                values = child(path, Path(path).read_bytes() if Path(path).is_fifo() else None)
            except (RejectedImage, OSError, ValueError, ChildCrashed) as error:
                print(one_line(f"unmask spectrum: {path or repr(path)}: {error}"), file=sys.stderr)
                failed += 1
                continue
            if not args.no_header:
                rows.writerow(["file", *(f"f{i:03d}" for i in range(len(values)))])
                args.no_header = True
            rows.writerow([path, *(repr(float(v)) for v in values)])
    return 1 if failed else 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``unmask spectrum`` to the ``unmask`` sub-commands."""
    from unmask.config import schema_default, schema_option

    command = commands.add_parser("spectrum", help="print the feature vector of images as CSV rows")
    command.add_argument("images", nargs="+", help="image files")
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
