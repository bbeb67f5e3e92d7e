"""The whole-dataset model (``unmask model``) at Faces-HQ size: before and after, side by side in one run.

Run from the repository root:

    python -m benchmarks.bench_model                  # 40,000 x 88 features, every route: ~25 minutes on one core
    python -m benchmarks.bench_model --routes 4 5 6   # after, and the single fits the old routes repeat

Features: faces_hq spectra (88 values, 128 px) of demo images (real photos and
transposed-convolution fakes, ``unmask.data.acquire.demo``), ``--base`` of them
per class, drawn with replacement to ``--items`` rows with a little Gaussian
jitter (5% of each feature's within-class std), so the rows are distinct and
keep the raw spectra's scale (values in the tens to hundreds, strongly correlated).

Routes, each timed once on one core (wall and CPU seconds: on a shared machine
the CPU time is the steadier figure), with the number of liblinear fits that hit
the iteration cap (ConvergenceWarning):

* ``before``: two 5-fold calibration passes and the final fit, unstandardised (11 fits);
* ``one pass``: one 5-fold pass (the report cross-fitted on it) and the final fit, unstandardised (6 fits);
* ``standardised, two passes``: the old passes on standardised features, hinge loss (11 fits);
* ``standardised, one pass``: hinge loss (6 fits);
* ``after``: ``fit_final_model`` as it is: standardised inside the model, liblinear's
  squared-hinge SVM in the primal, one pass (6 fits);
* ``one fit``: a single fit on every item, raw or standardised hinge loss: the unit
  that the routes above repeat 6 or 11 times (quick to measure where a route is not).

Prints a table; no asserts.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from unmask.data.acquire import demo  # noqa: E402
from unmask.features import spectrum  # noqa: E402
from unmask.learn.calibration import brier_score, fit_platt  # noqa: E402
from unmask.learn.classifiers import make_classifier  # noqa: E402
from unmask.learn.final_model import cross_fitted_p_fake, fit_final_model, held_out_decisions  # noqa: E402
from unmask.learn.protocol import Dataset  # noqa: E402

SPEC = {
    "kind": "svm",
    "kernel": "linear",
    "C": 1.0,
    "standardise": False,
    "liblinear_above": 5000,
}  # the config's defaults


def demo_features(base: int, items: int, seed: int = 0) -> Dataset:
    """``items`` demo-like faces_hq feature rows (half fake) from ``base`` real feature vectors per class."""
    cv2.setNumThreads(1)
    rng, photos = np.random.default_rng(seed), demo.photos()
    variant = spectrum.get_variant("faces_hq")
    rows = {label: [] for label in (0, 1)}
    for i in range(base):
        for label, style in ((0, "photo"), (1, "transposed")):
            image = demo.make_image(photos[i % len(photos)], style, 128, rng)
            rows[label].append(spectrum.features(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), variant))
    X, y = [], []
    for label, vectors in rows.items():
        vectors = np.array(vectors)
        picked = vectors[rng.integers(len(vectors), size=items // 2)]
        X.append(picked + 0.05 * vectors.std(axis=0) * rng.standard_normal(picked.shape))
        y.append(np.full(items // 2, label, dtype=np.int8))
    X, y = np.vstack(X), np.concatenate(y)
    ids = np.array([f"i{i}" for i in range(len(y))], dtype=object)
    return Dataset(X, y, ids, np.where(y, "fake", "real").astype(object), ids, np.full(len(y), None, dtype=object))


def old_route(data: Dataset, spec: dict, seed: int) -> float:
    """The route before: Platt on one 5-fold pass, the report on a second, then the final fit; returns the Brier score."""
    platt = fit_platt(held_out_decisions(data, spec, seed)[0], data.y)
    p_fake = platt(held_out_decisions(data, spec, seed + 1)[0])
    make_classifier(spec, seed, n_train=len(data.y))[0].fit(data.X, data.y)
    return brier_score(data.y, p_fake)


def one_pass(data: Dataset, spec: dict, seed: int) -> float:
    """One 5-fold pass (Platt on all of it, the report cross-fitted), then the final fit; returns the Brier score."""
    decisions, fold_of = held_out_decisions(data, spec, seed)
    fit_platt(decisions, data.y)
    make_classifier(spec, seed, n_train=len(data.y))[0].fit(data.X, data.y)
    return brier_score(data.y, cross_fitted_p_fake(decisions, data.y, fold_of))


def after(data: Dataset, spec: dict, seed: int) -> float:
    return float(fit_final_model(data, spec, "bench", "faces_hq", seed)[1]["brier"].iloc[0])


def one_fit(data: Dataset, spec: dict, seed: int) -> float:
    """One fit on every item; returns NaN (no calibration)."""
    make_classifier(spec, seed, n_train=len(data.y))[0].fit(data.X, data.y)
    return float("nan")


ROUTES = {
    "before (raw, two passes, 11 fits)": (old_route, SPEC),
    "one pass (raw, 6 fits)": (one_pass, SPEC),
    "standardised, two passes (11 fits)": (old_route, dict(SPEC, standardise=True)),
    "standardised, one pass (6 fits)": (one_pass, dict(SPEC, standardise=True)),
    "after: fit_final_model (standardised, primal, one pass)": (after, SPEC),
    "one fit, raw, hinge (before: 11 of these)": (one_fit, SPEC),
    "one fit, standardised, hinge": (one_fit, dict(SPEC, standardise=True)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=40_000)
    parser.add_argument("--base", type=int, default=1000, help="distinct demo images per class")
    parser.add_argument(
        "--routes",
        nargs="+",
        type=int,
        default=list(range(len(ROUTES))),
        help="indices of the routes to run, in this order",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    data = demo_features(args.base, args.items)
    print(
        f"features: {data.X.shape[0]} x {data.X.shape[1]}, values {data.X.min():.0f} .. {data.X.max():.0f}, "
        f"made in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    print(f"{'route':58} {'wall s':>8} {'CPU s':>8} {'capped fits':>12} {'Brier':>7}", flush=True)
    for index in args.routes:
        name, (route, spec) = list(ROUTES.items())[index]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            started, cpu = time.perf_counter(), time.process_time()
            brier = route(data, spec, seed=1)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        capped = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
        print(f"{name:58} {seconds:8.1f} {cpu:8.1f} {capped:12d} {brier:7.4f}", flush=True)


if __name__ == "__main__":
    main()
