"""Robustness: images perturbed (JPEG, down-scaling, blur, noise) before the features.

Each repeat draws its training and test items with ``protocol.repeat_draw``,
the paper table's draw (so its clean result equals the main table at the same
size and protocol), decodes every
image of the sample once, applies each perturbation and computes its features
with the dataset's variant. Per classifier and perturbation, three protocols:

* ``clean``: train clean, test clean (the baseline; perturbation ``none``);
* ``train_clean``: train clean, test perturbed;
* ``train_perturbed``: train perturbed, test perturbed.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from unmask.data.images import read_gray
from unmask.features import spectrum
from unmask.features.extract import image_features
from unmask.features.perturb import Perturbation
from unmask.learn.protocol import Dataset, Part, Protocol, available_size, fit_scores, repeat_draw

logger = logging.getLogger(__name__)

PROGRESS_SECONDS = 10.0
MIN_SAMPLE = 20  # the smallest sample the megapixel budget shrinks a repeat to


def image_paths_and_pixels(manifest: str | Path, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The manifest's path and pixel count of each id, in the order of ``ids``."""
    table = pq.read_table(manifest, columns=["id", "path", "width", "height"]).to_pandas().set_index("id")
    missing = pd.Index(ids).difference(table.index)
    if len(missing):
        raise ValueError(f"{len(missing)} featured images are not in the manifest {manifest}, e.g. {missing[0]!r}")
    rows = table.loc[ids]
    return rows["path"].to_numpy(), (rows["width"] * rows["height"]).to_numpy()


def sample_size(y: np.ndarray, size: int | str, megapixels: float, pixels: np.ndarray) -> int:
    """A repeat's sample: ``size`` (capped by the usable images), shrunk so that images of the median pixel
    count stay within ``megapixels`` decoded per repeat, to no fewer than ``MIN_SAMPLE`` items."""
    size = available_size(y, size)
    fitting = int(megapixels * 1e6 // max(float(np.median(pixels)), 1.0))
    return min(size, max(fitting - fitting % 2, MIN_SAMPLE))


def detector_features(image: np.ndarray, variant: spectrum.Variant, length: int, reencode: int | None) -> np.ndarray:
    """What the feature stage makes of a decoded image (re-encoded first where the dataset says so),
    resampled to ``length`` where the image's size gives another length."""
    values = image_features(image, variant, reencode)
    return values if len(values) == length else spectrum.resample(values, length)


def perturbed_features(
    paths: np.ndarray,
    rows: np.ndarray,
    perturbations: list[Perturbation],
    variant: spectrum.Variant,
    length: int,
    seed: int,
    repeat: int,
    reencode: int | None = None,
) -> np.ndarray:
    """Features of the images ``paths[rows]`` under each perturbation: shape (perturbations, rows, length).

    Each image is decoded once and perturbed before anything the feature stage does (``reencode``);
    ``noise`` draws from ``default_rng([seed, repeat, row])``.
    """
    features = np.empty((len(perturbations), len(rows), length))
    started = reported = time.perf_counter()
    for i, row in enumerate(rows):
        image = read_gray(paths[row])
        for p, perturbation in enumerate(perturbations):
            perturbed = perturbation(image, np.random.default_rng([seed, repeat, row]))
            features[p, i] = detector_features(perturbed, variant, length, reencode)
        if (now := time.perf_counter()) - reported > PROGRESS_SECONDS or i + 1 == len(rows):
            reported = now
            rate = (i + 1) / (now - started)
            logger.info(
                f"repeat {repeat}: {i + 1}/{len(rows)} images x {len(perturbations)} perturbations, {rate:.1f} images/s"
            )
    return features


def _described(perturbation: Perturbation | None) -> dict:
    """The table's columns naming a perturbation (``none`` for the clean baseline)."""
    if perturbation is None:
        return {"perturbation": "none", "kind": "none", "strength": math.nan}
    return {"perturbation": perturbation.name, "kind": perturbation.kind, "strength": perturbation.strength}


def _evaluations(
    spec: dict,
    seed: int,
    perturbations: list[Perturbation],
    train: Part,
    test: Part,
    perturbed_train: np.ndarray,
    perturbed_test: np.ndarray,
):
    """(perturbation or None, evaluation protocol, metrics) of one classifier.

    One clean fit is scored on the clean and on every perturbed test set; each
    perturbed training set gets a fit of its own.
    """
    tests = {"clean": test} | {p.name: Part(perturbed_test[i], test.y) for i, p in enumerate(perturbations)}
    clean_fit = fit_scores(spec, seed, train, tests)
    yield None, "clean", clean_fit["clean"]
    for i, perturbation in enumerate(perturbations):
        yield perturbation, "train_clean", clean_fit[perturbation.name]
        perturbed_fit = fit_scores(
            spec, seed, Part(perturbed_train[i], train.y), {"perturbed": tests[perturbation.name]}
        )
        yield perturbation, "train_perturbed", perturbed_fit["perturbed"]


def robustness_repeat(
    data: Dataset,
    paths: np.ndarray,
    classifiers: dict[str, dict],
    perturbations: list[Perturbation],
    variant: spectrum.Variant,
    size: int | str,
    repeat: int,
    protocol: Protocol,
    reencode: int | None = None,
) -> pd.DataFrame:
    """One repeat: per classifier, perturbation and evaluation protocol, the test accuracy and ROC AUC.

    ``variant`` and ``reencode`` must be those that made the clean features ``data.X``;
    ``protocol`` is the dataset's (``protocol.repeat_draw``). ``size``, capped by the usable images, is the
    table's ``samples``; under ``held_out_videos`` a repeat trains on at most its training videos' items.
    """
    size = available_size(data.y, size)
    train, test, model_seed = repeat_draw(data, size, repeat, protocol, cap=True)
    drawn = protocol.drawn_size(train, test)
    logger.info(f"repeat {repeat}: {drawn} samples, {len(perturbations)} perturbations, {len(classifiers)} classifiers")
    sample = np.concatenate([train, test])
    perturbed = perturbed_features(
        paths, sample, perturbations, variant, data.X.shape[1], protocol.seed, repeat, reencode
    )
    clean_train, clean_test = Part.of(data, train), Part.of(data, test)
    perturbed_train, perturbed_test = perturbed[:, : len(train)], perturbed[:, len(train) :]
    rows = [
        {
            "classifier": name,
            **_described(perturbation),
            "protocol": evaluation,
            "samples": size,
            "repeat": repeat,
            **metrics,
        }
        for name, spec in classifiers.items()
        for perturbation, evaluation, metrics in _evaluations(
            spec, model_seed, perturbations, clean_train, clean_test, perturbed_train, perturbed_test
        )
    ]
    return pd.DataFrame(rows)
