"""``unmask spectrum``: print the features of image files."""

from __future__ import annotations

import argparse
import csv
import sys

from unmask.features import spectrum
from unmask.log import one_line


def _spectrum(args: argparse.Namespace) -> int:
    from unmask.data.images import RejectedImage, check_file, read_gray

    variant = spectrum.get_variant(args.variant, args.length)
    rows = csv.writer(sys.stdout, lineterminator="\n")  # quotes a file name with a comma, quote or newline
    failed = 0
    for path in args.images:
        try:
            if path == "":  # Path("") is the working folder
                raise RejectedImage("an empty path")
            check_file(path)
            values = spectrum.features(read_gray(path), variant)
        except (RejectedImage, OSError, ValueError) as error:
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
