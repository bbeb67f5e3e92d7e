"""Robustness to perturbed images, and cross-source / cross-dataset generalisation, on tiny synthetic data."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import copy_workflow, snakemake, write_config

from unmask.analyses.figures import plot_leave_one_out, plot_matrices, plot_robustness
from unmask.analyses.generalisation import (
    Member,
    cross_dataset_table,
    cross_source_draw,
    cross_source_table,
    leave_one_out_draw,
    leave_one_out_table,
)
from unmask.analyses.robustness import perturbed_features, robustness_repeat, sample_size
from unmask.analyses.tables import robustness_table
from unmask.data.acquire import demo
from unmask.features import extract as features
from unmask.features import spectrum
from unmask.features.perturb import parse_perturbations
from unmask.features.spectrum import check_compatible
from unmask.learn.protocol import Dataset, Part, Protocol, fit_scores, repeat_draw, run_repeats

VARIANT = spectrum.get_variant("faces_hq")
SEED = 3
LOGREG = {"logreg": {"kind": "logreg", "C": 1.0}}
STYLES = ("photo", "nearest", "photo", "transposed")  # half real photo crops, half up-sampled fakes of two kinds


def under(name: str = "sample_split", repeats: int = 1, test_fraction: float = 0.25) -> Protocol:
    """The protocol of these tests (their seed), by name."""
    return Protocol(name, repeats, test_fraction, SEED)


def dataset(X: np.ndarray, y, sources, groups=None) -> Dataset:
    ids = np.array([f"item{i}" for i in range(len(X))], dtype=object)
    groups = ids if groups is None else np.asarray(groups, dtype=object)
    return Dataset(
        X, np.asarray(y, np.int8), ids, np.asarray(sources, dtype=object), groups, np.full(len(X), None, dtype=object)
    )


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """80 PNG images of 96 px (the fakes differ from the photos only in high frequencies), their features and paths."""
    folder, rng, photos = tmp_path_factory.mktemp("images"), np.random.default_rng(0), demo.photos()
    paths, styles = [], [STYLES[i % len(STYLES)] for i in range(80)]
    for i, style in enumerate(styles):
        paths.append(str(folder / f"{i:03d}.png"))
        cv2.imwrite(paths[-1], demo.make_image(photos[i % len(photos)], style, 96, rng))
    X = np.stack([features.extract(path, VARIANT)[0] for path in paths])
    return dataset(X, [style != "photo" for style in styles], styles), np.array(paths)


def robustness_runs(images, names, classifiers=LOGREG, repeats=2, size="all") -> pd.DataFrame:
    data, paths = images
    perturbations = parse_perturbations(names)
    return pd.concat(
        [robustness_repeat(data, paths, classifiers, perturbations, VARIANT, size, r, under()) for r in range(repeats)]
    )


def mean_accuracy(runs: pd.DataFrame, perturbation: str, protocol: str) -> float:
    return runs.loc[(runs["perturbation"] == perturbation) & (runs["protocol"] == protocol), "accuracy"].mean()


@pytest.mark.parametrize("spec", [{"kind": "svm", "C": 1.0}, {"kind": "kmeans"}], ids=["svm", "kmeans"])
def test_one_fit_scored_on_several_test_sets_equals_a_fit_per_test_set(images, spec):
    data, _ = images
    train, first, second = (Part.of(data, np.arange(start, len(data.y), 3)) for start in range(3))
    together = fit_scores(spec, SEED, train, {"first": first, "second": second})
    assert together == {
        "first": fit_scores(spec, SEED, train, {"first": first})["first"],
        "second": fit_scores(spec, SEED, train, {"second": second})["second"],
    }
    assert together["first"] != together["second"]


def test_destroying_high_frequencies_lowers_accuracy(images):
    runs = robustness_runs(images, ["blur:2", "scale:0.5"])
    clean = mean_accuracy(runs, "none", "clean")
    assert clean > 0.9
    assert mean_accuracy(runs, "blur:2", "train_clean") < clean - 0.3
    assert mean_accuracy(runs, "scale:0.5", "train_clean") < clean - 0.3


def test_jpeg_quality_reaches_the_encoder(images):
    data, paths = images
    rows = np.arange(8)
    perturbed = perturbed_features(
        paths, rows, parse_perturbations(["jpeg:95", "jpeg:30"]), VARIANT, data.X.shape[1], SEED, 0
    )
    change_95, change_30 = np.abs(perturbed - data.X[rows]).mean(axis=(1, 2))
    assert 0 < 2 * change_95 < change_30


def test_perturbed_features_are_the_feature_stage_of_the_perturbed_image(images, tmp_path):
    data, paths = images
    rows = np.arange(4)
    identity = parse_perturbations(["scale:1"])  # down and up to the same size: the image itself
    assert np.array_equal(perturbed_features(paths, rows, identity, VARIANT, data.X.shape[1], SEED, 0)[0], data.X[rows])
    reencoded = perturbed_features(paths, rows, identity, VARIANT, data.X.shape[1], SEED, 0, reencode=90)[0]
    assert np.array_equal(reencoded, np.stack([features.extract(paths[r], VARIANT, reencode=90)[0] for r in rows]))


def test_noise_is_seeded_per_image_and_repeat(images):
    data, paths = images
    noise = parse_perturbations(["noise:5"])
    arguments = (paths, np.array([0, 1]), noise, VARIANT, data.X.shape[1], SEED)
    first = perturbed_features(*arguments, 0)
    assert np.array_equal(first, perturbed_features(*arguments, 0))
    assert not np.allclose(first, perturbed_features(*arguments, 1))


def test_clean_protocol_is_the_papers(images):
    data, _ = images
    spec = {"kind": "svm", "kernel": "linear", "C": 1.0}
    runs = robustness_runs(images, ["blur:1"], {"svm": spec}, repeats=3, size=40)
    paper, _ = run_repeats(data, "svm", spec, 40, under(repeats=3))
    assert runs.loc[runs["protocol"] == "clean", "accuracy"].tolist() == paper["accuracy"].to_pylist()


def test_the_sample_shrinks_to_the_megapixel_budget():
    y = np.array([0, 1] * 1000)
    one_megapixel = np.full(len(y), 1024 * 1024)
    assert sample_size(y, 500, 200, np.full(len(y), 128 * 128)) == 500, "small images: the configured size"
    assert sample_size(y, 500, 200, one_megapixel) == 190, "1024 px: 200 Mpx hold 190 images (even)"
    assert sample_size(y, 500, 1, one_megapixel) == 20, "never below 20 items"
    assert sample_size(y[:100], "all", 1000, one_megapixel) == 100, "capped by the usable images"
    assert sample_size(y, 500, 200, np.r_[np.full(1001, 1024 * 1024), np.full(999, 64)]) == 190, "the median image"


def test_robustness_table_columns_and_ranges(images, tmp_path):
    runs = robustness_runs(images, ["jpeg:90", "noise:5"], {**LOGREG, "kmeans": {"kind": "kmeans"}})
    table = robustness_table(runs)
    assert list(table.columns) == [
        "classifier",
        "perturbation",
        "kind",
        "strength",
        "protocol",
        "samples",
        "metric",
        "mean",
        "std",
        "repeats",
    ]
    assert (table["samples"] == 80).all()
    assert len(table) == 2 * (1 + 2 * 2) * 2  # classifiers x (clean + perturbations x protocols) x metrics
    assert set(table["protocol"]) == {"clean", "train_clean", "train_perturbed"}
    assert set(table["metric"]) == {"accuracy", "roc_auc"}
    assert (table["repeats"] == 2).all()
    noise = runs[
        (runs["classifier"] == "logreg") & (runs["perturbation"] == "noise:5") & (runs["protocol"] == "train_clean")
    ]
    row = table.set_index(["classifier", "perturbation", "protocol", "metric"]).loc[
        ("logreg", "noise:5", "train_clean", "accuracy")
    ]
    assert (row["mean"], row["std"]) == (noise["accuracy"].mean(), noise["accuracy"].std(ddof=1))  # the sample std
    clean = table[table["protocol"] == "clean"]
    assert (clean["perturbation"] == "none").all() and clean["strength"].isna().all()
    jpeg = table[table["perturbation"] == "jpeg:90"]
    assert (jpeg["kind"] == "jpeg").all() and (jpeg["strength"] == 90).all()
    plot_robustness(table, tmp_path / "robustness.png", "test")
    assert (tmp_path / "robustness.png").read_bytes()[:4] == b"\x89PNG"


def test_perturbations_are_checked():
    with pytest.raises(ValueError, match="twice"):
        parse_perturbations(["jpeg:70", "jpeg:70.0"])
    with pytest.raises(ValueError, match="quality"):
        parse_perturbations(["jpeg:170"])


def shifted(fakes: dict[str, int], dims: int = 6, per_source: int = 40, seed: int = 0, groups: bool = False) -> Dataset:
    """Gaussian features: real items from every real source, each fake source shifted along its own dimension."""
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(per_source * len(fakes), dims))
    blocks = [real] + [rng.normal(size=(per_source, dims)) + 6 * np.eye(dims)[dim] for dim in fakes.values()]
    sources = ["real"] * len(real) + [name for name in fakes for _ in range(per_source)]
    # With groups, each fake item shares a group with one real item (as a fake video with its original).
    group = [f"g{i}" for i in range(len(real))] * 2 if groups else None
    return dataset(np.vstack(blocks), [s != "real" for s in sources], sources, group)


@pytest.mark.parametrize("protocol", ["sample_split", "held_out_videos"])
def test_repeat_draw_is_the_draw_of_run_repeats(protocol):
    data = shifted({"a": 0}, groups=True)
    _, predictions = run_repeats(data, "logreg", LOGREG["logreg"], 20, under(protocol, 2))
    predictions = predictions.to_pandas()
    for repeat in range(2):
        _, test, _ = repeat_draw(data, 20, repeat, under(protocol, 2))
        assert sorted(data.ids[test]) == sorted(predictions.loc[predictions["repeat"] == repeat, "id"])


def test_all_under_held_out_videos_is_every_balanced_item_of_the_training_videos():
    data = shifted({"a": 0}, groups=True)
    runs, _ = run_repeats(data, "logreg", LOGREG["logreg"], "all", under("held_out_videos", 3))
    for row in runs.to_pylist():
        train, test, _ = repeat_draw(data, "all", row["repeat"], under("held_out_videos", 3))
        pool = np.setdiff1d(np.arange(len(data.y)), test)
        assert row["n_samples"] == row["n_train"] == len(train) == 2 * np.bincount(data.y[pool]).min()
        assert row["samples"] == "all"


def test_analyses_cap_their_size_by_the_training_videos_under_held_out_videos(images):
    """The analyses' sizes are capped by the usable images: under held_out_videos, by the training part's."""
    data, paths = images
    runs = robustness_repeat(
        data, paths, LOGREG, parse_perturbations(["jpeg:50"]), VARIANT, 500, 0, under("held_out_videos")
    )
    train, _, _ = repeat_draw(data, len(data.y), 0, under("held_out_videos"), cap=True)
    assert set(runs["samples"]) == {len(data.y)}, "the configured size, capped by the usable images, as before"
    assert runs["accuracy"].notna().all() and len(train) < len(data.y)
    grouped = shifted({"a": 0, "b": 1}, groups=True)
    table = cross_source_table(grouped, LOGREG, "all", under("held_out_videos", 2))
    assert (table["repeats"] == 2).all()
    Member(grouped, "faces_hq", LOGREG, "all", under("held_out_videos", 2)).draw(0)


def test_cross_source_matrix_and_diagonal(tmp_path):
    table = cross_source_table(shifted({"a": 0, "b": 1, "c": 2}), LOGREG, "all", under(repeats=3))
    columns = ["train_source", "test_source", "classifier", "metric", "mean", "std", "repeats", "n_train", "n_test"]
    assert list(table.columns) == columns
    assert (table["n_train"] == 60).all() and (table["n_test"] == 20).all(), "80 per source capped by 40 fakes"
    accuracy = table[table["metric"] == "accuracy"].pivot(index="train_source", columns="test_source", values="mean")
    assert list(accuracy.index) == list(accuracy.columns) == ["a", "b", "c"]
    diagonal = np.eye(3, dtype=bool)
    assert (accuracy.to_numpy()[diagonal] > 0.95).all(), "each source is separable from the real items"
    assert (accuracy.to_numpy()[~diagonal] < 0.75).all(), "another source's artefact is in another dimension"
    assert (table["repeats"] == 3).all()
    plot_matrices(table, "train_source", "test_source", tmp_path / "cross_source.png", "test")
    assert (tmp_path / "cross_source.png").read_bytes()[:4] == b"\x89PNG"


def test_cross_source_holds_out_items_and_groups():
    data = shifted({"a": 0, "b": 1}, groups=True)
    trains, tests, _ = cross_source_draw(data, 40, 0, under())
    trained = np.concatenate(list(trains.values()))
    tested = np.concatenate(list(tests.values()))
    assert not set(data.groups[trained]) & set(data.groups[tested])
    for source in ("a", "b"):
        assert set(data.sources[trains[source]]) == {"real", source} == set(data.sources[tests[source]])
        assert len(trains[source]) + len(tests[source]) == 40, "size is the sample before the test split"
    assert set(tests["a"][data.y[tests["a"]] == 0]) == set(tests["b"][data.y[tests["b"]] == 0]), "one held-out real set"
    assert set(trains["a"][data.y[trains["a"]] == 0]) == set(trains["b"][data.y[trains["b"]] == 0]), "one real set"


def test_cross_source_is_the_paper_draw_over_sources():
    """Without groups, each source's training and test parts are the stratified split of one balanced draw."""
    data = shifted({"a": 0, "b": 1, "c": 2})
    trains, tests, model_seed = cross_source_draw(data, 40, 3, under())
    strata = np.array([0 if s == "real" else " abc".index(s) for s in data.sources])
    train, test, seed = repeat_draw(data, 80, 3, under(), strata)
    assert model_seed == seed
    assert sorted(
        np.concatenate([trains["a"], trains["b"][data.y[trains["b"]] == 1], trains["c"][data.y[trains["c"]] == 1]])
    ) == sorted(train)
    for source in "abc":
        assert (data.sources[tests[source]] == source).sum() == (data.y[tests[source]] == 0).sum() == 5
        assert len(trains[source]) == 30


def test_cross_source_held_out_videos_tests_every_held_out_item():
    data = shifted({"a": 0, "b": 1}, groups=True)
    trains, tests, _ = cross_source_draw(data, 20, 0, under("held_out_videos"))
    tested = np.concatenate(list(tests.values()))
    held_out = np.flatnonzero(np.isin(data.groups, data.groups[tested]))
    assert set(tested) == set(held_out), "every item of the held-out groups is tested"
    assert all(len(index) == 20 for index in trains.values())


def test_cross_source_needs_two_fake_sources():
    with pytest.raises(ValueError, match="two fake sources"):
        cross_source_table(shifted({"a": 0}), LOGREG, "all", under())


@pytest.mark.parametrize("protocol", ["sample_split", "held_out_videos"])
def test_leave_one_out_trains_on_the_other_sources_and_tests_as_cross_source(protocol):
    data = shifted({"a": 0, "b": 1, "c": 2}, groups=True)
    trains, tests, model_seed = leave_one_out_draw(data, 40, 2, under(protocol))
    cross_trains, cross_tests, cross_seed = cross_source_draw(data, 40, 2, under(protocol))
    assert model_seed == cross_seed
    for source in "abc":
        train = trains[source]
        np.testing.assert_array_equal(tests[source], cross_tests[source]), "the held-out source's cross-source test"
        assert set(data.sources[train]) == {"real"} | set("abc") - {source}, "every fake source but the held-out one"
        assert set(train[data.y[train] == 0]) == set(cross_trains[source][data.y[cross_trains[source]] == 0])
        assert len(train) == len(cross_trains[source]) and data.y[train].sum() == len(train) // 2, "balanced"
        others = np.unique(data.sources[train][data.y[train] == 1], return_counts=True)[1]
        assert others.max() - others.min() <= 1, "balanced over the other fake sources"
        assert not set(data.groups[train]) & set(data.groups[tests[source]])


def test_leave_one_out_takes_the_items_the_split_left_a_source():
    """The stratified split left 9 real training items and 8 of source b: held out a, b gives its 8."""
    data = shifted({"a": 0, "b": 1}, per_source=12)
    trains, _, _ = leave_one_out_draw(data, 22, 1, under(test_fraction=0.2))
    assert np.bincount(data.y[trains["a"]]).tolist() == [9, 8] and set(data.sources[trains["a"]]) == {"real", "b"}


def test_leave_one_out_a_real_only_model_knows_the_generator_the_two_class_one_never_saw(tmp_path):
    """Each fake source is shifted along its own dimension: trained on the others, a logistic regression has no
    weight on the held-out one's, while a model of the real items alone finds every shift."""
    classifiers = {**LOGREG, "real_only": {"kind": "mahalanobis", "components": 6}}
    table = leave_one_out_table(shifted({"a": 0, "b": 1, "c": 2}, per_source=100), classifiers, "all", under(repeats=3))
    assert list(table.columns) == [
        "held_out_source",
        "classifier",
        "metric",
        "mean",
        "std",
        "ci_low",
        "ci_high",
        "repeats",
    ]
    assert set(table["metric"]) == {"accuracy", "roc_auc", "tpr_at_fpr_1"} and (table["repeats"] == 3).all()
    auc = table[table["metric"] == "roc_auc"].set_index(["held_out_source", "classifier"])["mean"]
    for source in "abc":
        assert auc[source, "logreg"] < 0.8 and auc[source, "real_only"] > 0.95
    assert (table["ci_low"] <= table["mean"]).all() and (table["mean"] <= table["ci_high"]).all()
    plot_leave_one_out(table, tmp_path / "leave_one_out.png", "test")
    assert (tmp_path / "leave_one_out.png").read_bytes()[:4] == b"\x89PNG"


def test_leave_one_out_needs_two_fake_sources():
    with pytest.raises(ValueError, match="leave-one-generator-out needs two fake sources with usable images; only"):
        leave_one_out_table(shifted({"a": 0}), LOGREG, "all", under())


def member(data: Dataset, variant: str = "faces_hq") -> Member:
    return Member(data, variant, LOGREG, size=40, protocol=under(repeats=2))


def test_cross_dataset_matrix_and_diagonal():
    first, second = shifted({"x": 0}), shifted({"y": 1}, seed=1)
    table = cross_dataset_table({"first": member(first), "second": member(second)})
    accuracy = table[table["metric"] == "accuracy"].set_index(["train_dataset", "test_dataset"])["mean"]
    assert len(accuracy) == 4
    paper, _ = run_repeats(first, "logreg", LOGREG["logreg"], 40, under(repeats=2))
    assert accuracy["first", "first"] == pytest.approx(np.mean(paper["accuracy"].to_pylist()))
    assert accuracy["first", "second"] < 0.75 and accuracy["second", "first"] < 0.75


def test_cross_dataset_refuses_mismatched_lengths():
    with pytest.raises(
        ValueError,
        match="one length.*first has faces_hq features of length 6.*second has faces_hq features of length 8",
    ):
        cross_dataset_table({"first": member(shifted({"x": 0})), "second": member(shifted({"y": 1}, dims=8))})


def test_cross_dataset_refuses_mismatched_variants():
    with pytest.raises(ValueError, match="variant"):
        check_compatible({"first": ("faces_hq", 80), "second": ("celeba", 80)})
    check_compatible({"first": ("faces_hq", None), "second": ("faces_hq", 179)})  # a length not known yet passes


# The workflow: robustness, cross-source and cross-dataset outputs on two small demo datasets.

TWO_DEMOS = {
    "cross_dataset": ["demo", "demo_b"],
    "datasets": {
        "demo": {
            "sizes": [20],
            "repeats": 2,
            "shards": 2,
            "robustness": {"size": 32, "repeats": 2, "perturbations": ["jpeg:50", "noise:5"]},
            "sources": {
                name: {"count": 16} for name in ("photo_jpeg", "photo_png", "nearest_upsampler", "transposed_conv")
            },
        },
        "demo_b": {
            "sizes": [20],
            "repeats": 2,
            "shards": 1,
            "sources": {
                "photos": {
                    "label": "real",
                    "method": "demo",
                    "style": "photo",
                    "format": "png",
                    "count": 16,
                    "seed": 11,
                },
                "upsampled": {
                    "label": "fake",
                    "method": "demo",
                    "style": "transposed",
                    "format": "png",
                    "count": 16,
                    "seed": 12,
                },
            },
        },
    },
}
TARGETS = ("results/demo_robustness.csv", "results/demo_cross_source.csv", "results/cross_dataset.csv")


@pytest.fixture(scope="module")
def two_demos(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("generalisation"))
    config = write_config(workdir / "two.yaml", TWO_DEMOS)
    snakemake(workdir, *TARGETS, "--configfile", str(config))
    return workdir, config


@pytest.mark.workflow
def test_workflow_outputs(two_demos):
    workdir, _ = two_demos
    robustness = pd.read_csv(workdir / "results/demo_robustness.csv")
    assert set(robustness["perturbation"]) == {"none", "jpeg:50", "noise:5"} and (robustness["repeats"] == 2).all()
    cross_source = pd.read_csv(workdir / "results/demo_cross_source.csv")
    assert (
        set(cross_source["train_source"])
        == set(cross_source["test_source"])
        == {"nearest_upsampler", "transposed_conv"}
    )
    cross_dataset = pd.read_csv(workdir / "results/cross_dataset.csv")
    assert len(cross_dataset) == 2 * 2 * 3 * 2  # train x test datasets x classifiers x metrics
    for figure in ("demo/figures/robustness.png", "demo/figures/cross_source.png", "figures/cross_dataset.png"):
        assert (workdir / "results" / figure).read_bytes()[:4] == b"\x89PNG"
    assert "images/s" in (workdir / "logs/demo/robustness/repeat-0.log").read_text(), "progress on stderr"


@pytest.mark.workflow
def test_workflow_refuses_datasets_of_other_lengths(two_demos, tmp_path):
    workdir, config = two_demos
    smaller = {"datasets": {"demo_b": {"sources": {"photos": {"size": 64}, "upsampled": {"size": 64}}}}}
    result = snakemake(
        workdir,
        "results/cross_dataset.csv",
        "--configfile",
        str(config),
        str(write_config(tmp_path / "b.yaml", smaller)),
        check=False,
    )
    assert result.returncode != 0
    assert (
        "demo has faces_hq features of length 88, demo_b has faces_hq features of length 43"
        in (workdir / "logs/cross_dataset.log").read_text()
    )
    celeba = write_config(tmp_path / "c.yaml", {"datasets": {"demo_b": {"variant": "celeba"}}})
    result = snakemake(workdir, "-n", "--configfile", str(config), str(celeba), check=False)
    assert result.returncode != 0 and "one feature variant" in result.stderr + result.stdout


@pytest.mark.workflow
def test_workflow_refuses_bad_perturbations(two_demos, tmp_path):
    workdir, config = two_demos
    bad = write_config(tmp_path / "bad.yaml", {"datasets": {"demo": {"robustness": {"perturbations": ["jpeg:170"]}}}})
    result = snakemake(workdir, "-n", "--configfile", str(config), str(bad), check=False)
    assert result.returncode != 0 and "datasets.demo.robustness.perturbations" in result.stderr + result.stdout


def test_cross_source_with_one_fake_source_left_after_rejects_is_skipped_with_a_warning(tmp_path, caplog):
    """Before: cross-source raised ValueError, which stopped the run with no table and no models."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from unmask.cli import main
    from unmask.features.extract import FEATURES_SCHEMA

    data = shifted({"a": 0})  # fake source b's images were all rejected: it has no rows with features
    rows = {
        "id": list(data.ids),
        "label": data.y.tolist(),
        "source": list(data.sources),
        "group": list(data.groups),
        "video": [None] * len(data.ids),
        "features": data.X.tolist(),
        "reason": [None] * len(data.ids),
    }
    pq.write_table(pa.table(rows, schema=FEATURES_SCHEMA), tmp_path / "shard.parquet")
    spec = {"classifiers": LOGREG, "size": "all"}
    out, figure = tmp_path / "cross.csv", tmp_path / "cross.png"
    arguments = ["cross-source", str(tmp_path / "shard.parquet"), "--spec", json.dumps(spec), "--title", "d"]
    arguments += ["--protocol", under(repeats=2).to_json()]
    assert main([*arguments, "--out", str(out), "--figure", str(figure)]) == 0
    assert out.read_text() == "train_source,test_source,classifier,metric,mean,std,repeats\n"
    assert figure.read_bytes()[:4] == b"\x89PNG"
    assert (
        "cross-source skipped: cross-source generalisation needs two fake sources with usable images; only a has any"
        in caplog.text
    )
