"""Peak memory and time of loading model files at and beyond the size limit (``MAX_BYTES``).

Run from the repository root:  python -m benchmarks.bench_model_file

Each file is loaded in its own child process (``load_model``); its peak RSS is the child's
VmHWM, the time its wall clock from start to exit (Python's start-up included, shown apart in the
first row). The files, written to a temporary folder:

* startup:        no file: the child only imports ``unmask.learn.model_file``;
* linear:         a valid logistic regression on 722-value spectra (Faces-HQ);
* rbf_2000x722:   a valid RBF SVM with 2,000 support vectors of 722 values (a large real model);
* zeros_at_limit: a model whose coefficient list is zeros up to just under the limit, checksum not
                  matching (the corrupted file the checksum must refuse before the schema runs);
* zeros_100MB:    the same at 100 MB (refused from its size, before any read).

No asserts: it prints a table.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from unmask.learn.calibration import Platt
from unmask.learn.model_file import MAX_BYTES, RBF, Linear, Model, Provenance, Scaler, save_model

LOAD = """import sys
from unmask.learn.model_file import load_model
outcome = "-"
if sys.argv[1:]:
    try:
        load_model(sys.argv[1])
        outcome = "loaded"
    except ValueError as error:
        outcome = str(error).split(": field ")[-1][:90]
peak_kb = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
print(peak_kb, outcome)
"""


def model(parameters, kind: str, length: int = 722) -> Model:
    provenance = Provenance.current("bench", n_train=4000, seed=0)
    scaler = Scaler(np.zeros(length), np.ones(length))
    return Model(kind, parameters, "faces_hq", length, provenance, Platt(-1.0, 0.0), scaler=scaler)


def zeros_file(path: Path, size: int) -> Path:
    """A linear model whose coefficient list is padded with zeros to about ``size`` bytes (checksum stale)."""
    save_model(path, model(Linear(np.ones(722), 0.0), "logreg"))
    text = path.read_text()
    coef = json.dumps(json.loads(text)["parameters"]["coef"])
    zeros = ", ".join(["0"] * ((size - len(text)) // 3))
    path.write_text(text.replace(coef, f"[{zeros}]", 1))
    return path


def run(path: Path | None) -> tuple[float, float, str]:
    """(peak RSS in MB, seconds, outcome) of one child loading ``path`` (its VmHWM: Linux's ru_maxrss of a child
    starts from the parent's peak, which writing these files raised)."""
    start = time.perf_counter()
    command = [sys.executable, "-c", LOAD, *([str(path)] if path else [])]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
    peak_kb, outcome = output.split(" ", 1)
    return int(peak_kb) / 1024, time.perf_counter() - start, outcome


def main() -> None:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        files = {"startup": None}
        files["linear"] = folder / "linear.json"
        save_model(files["linear"], model(Linear(rng.normal(size=722), 0.1), "logreg"))
        files["rbf_2000x722"] = folder / "rbf.json"
        rbf = RBF(rng.normal(size=(2000, 722)), rng.normal(size=2000), 0.001, 0.1)
        save_model(files["rbf_2000x722"], model(rbf, "rbf_svm"))
        files["zeros_at_limit"] = zeros_file(folder / "at_limit.json", MAX_BYTES - 1000)
        files["zeros_100MB"] = zeros_file(folder / "zeros_100MB.json", 100_000_000)
        print(f"MAX_BYTES = {MAX_BYTES} ({MAX_BYTES / 2**20:.0f} MiB)")
        print(f"{'file':<16}{'size MB':>9}{'peak MB':>9}{'seconds':>9}  outcome")
        for name, path in files.items():
            peak, seconds, outcome = run(path)
            size = path.stat().st_size / 1e6 if path else 0.0
            print(f"{name:<16}{size:>9.1f}{peak:>9.0f}{seconds:>9.2f}  {outcome}")


if __name__ == "__main__":
    main()
