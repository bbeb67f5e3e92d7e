"""Write the FFTW wisdom that ``unmask.features.fourier`` ships: run on a quiet machine, then commit the file.

    python -m unmask.features.fftw_wisdom [--flag FFTW_PATIENT]

Plans every shape of ``fourier.WISDOM_SHAPES`` by timing FFTW's candidates in
this one process, from empty wisdom, and writes what FFTW learnt (double
precision) to ``fourier.WISDOM_FILE``. Every later run rebuilds those plans
from the file without timing anything, so their results are the same in every
process. Rewriting the file changes features in their last bits: do it only
with a new pyFFTW (FFTW) version, and say so in the changelog.
"""
from __future__ import annotations

import argparse
import time

from unmask.features import fourier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flag", default="FFTW_PATIENT", choices=["FFTW_MEASURE", "FFTW_PATIENT", "FFTW_EXHAUSTIVE"])
    args = parser.parse_args()
    try:
        import pyfftw
    except ImportError:
        raise SystemExit("pyfftw is not installed: pip install -e '.[fftw]'") from None
    if not fourier.WISDOM_FILE.exists():
        fourier.WISDOM_FILE.write_bytes(b"")  # the very first time: fourier loads the file with pyfftw
    fourier._fftw()
    pyfftw.forget_wisdom()  # plan from scratch, not from the shipped file
    for shape in sorted(fourier.WISDOM_SHAPES):
        start = time.perf_counter()
        fourier.new_plan(shape, (args.flag, "FFTW_DESTROY_INPUT"))
        print(f"{shape[1]}x{shape[0]}: planned in {time.perf_counter() - start:.1f} s")
    fourier.WISDOM_FILE.write_bytes(pyfftw.export_wisdom()[0])
    print(f"wrote {fourier.WISDOM_FILE}")


if __name__ == "__main__":
    main()
