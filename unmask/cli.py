"""The ``unmask`` command. It only parses arguments; each stage's work lives in its own module."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from unmask import spectrum


def _spectrum(args: argparse.Namespace) -> int:
    from unmask.images import RejectedImage, read_gray

    variant = spectrum.get_variant(args.variant, args.length)
    failed = 0
    for path in args.images:
        try:
            values = spectrum.features(read_gray(path), variant)
        except (RejectedImage, OSError, ValueError) as error:
            print(f"unmask spectrum: {path}: {error}", file=sys.stderr)
            failed += 1
            continue
        if not args.no_header:
            print("file," + ",".join(f"f{i:03d}" for i in range(len(values))))
            args.no_header = True
        print(f"{path}," + ",".join(repr(float(v)) for v in values))
    return 1 if failed else 0


def _acquire(args: argparse.Namespace) -> int:
    from unmask.acquire import acquire_source

    spec = json.loads(args.spec)
    paths = acquire_source(spec, Path(spec["path"]), Path(args.out))
    print(f"acquire: {len(paths)} files in {spec['path']}", file=sys.stderr)
    return 0


def _manifest(args: argparse.Namespace) -> int:
    from unmask.io import write_parquet
    from unmask.manifest import build_manifest

    spec = json.loads(args.spec)
    manifest, rejects = build_manifest(
        spec["sources"], seed=spec.get("seed", 0), image_size=spec.get("image_size"), split_by=spec.get("split_by", "video")
    )
    write_parquet(manifest, args.out)
    write_parquet(rejects, args.rejects)
    print(f"manifest: {manifest.num_rows} images, {rejects.num_rows} rejected", file=sys.stderr)
    return 0


def _crops(args: argparse.Namespace) -> int:
    from unmask.crops import crop_videos, shard_videos
    from unmask.io import write_parquet

    spec = json.loads(args.spec)
    videos = shard_videos(spec["sources"], args.shards, spec["seed"]).get(args.shard, [])
    table = crop_videos(videos, args.crops_dir, spec["frames"], spec["margin"], spec.get("yunet_model"))
    write_parquet(table, args.out)
    print(f"crops: {table.num_rows} frames of {len(videos)} videos", file=sys.stderr)
    return 0


def _features(args: argparse.Namespace) -> int:
    from unmask.features import extract_shard

    variant = spectrum.get_variant(args.variant, args.length)
    rejected = extract_shard(args.manifest, args.shard, args.shards, variant, args.out, reencode=args.reencode)
    print(f"features: shard {args.shard}/{args.shards} done, {rejected} rejected", file=sys.stderr)
    return 0


def _train(args: argparse.Namespace) -> int:
    from unmask.experiments import load_features, run_repeats
    from unmask.io import write_parquet

    data = load_features(args.features)
    runs, predictions = run_repeats(
        data, args.name, json.loads(args.spec), args.samples, args.repeats, args.test_fraction, args.seed
    )
    write_parquet(runs, args.out)
    write_parquet(predictions, args.predictions)
    return 0


def _model(args: argparse.Namespace) -> int:
    from unmask.experiments import load_features
    from unmask.final_model import fit_final_model
    from unmask.models import save_model
    from unmask.report import write_csv

    model, calibration = fit_final_model(load_features(args.features), json.loads(args.spec), args.dataset, args.variant, args.seed)
    save_model(args.out, model)
    write_csv(calibration, args.calibration)
    print(f"model: {args.out}, Brier score {calibration['brier'].iloc[0]:.4f} on held-out items", file=sys.stderr)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from unmask.models import load_model
    from unmask.predict import UnreadableInput, predict

    model = load_model(args.model)
    failed = 0
    for result in predict(model, args.paths, frames=args.frames, margin=args.margin):
        if isinstance(result, UnreadableInput):
            print(f"unmask predict: {result}", file=sys.stderr)
            failed += 1
        else:
            print(json.dumps(result), flush=True)
    return 1 if failed else 0


def _table(args: argparse.Namespace) -> int:
    from unmask import report

    runs = report.read_runs(args.runs)
    table = report.accuracy_table(runs, args.classifiers)
    report.write_csv(table, args.out)
    report.write_table_metadata(runs, args.out)
    report.plot_accuracy(table, args.classifiers, args.figure, args.title)
    return 0


def _metrics(args: argparse.Namespace) -> int:
    from unmask import report

    report.write_csv(report.metrics_table(report.read_runs(args.predictions), args.dataset), args.out)
    return 0


def _audit(args: argparse.Namespace) -> int:
    import pyarrow.parquet as pq

    from unmask import audit, report
    from unmask.io import write_text

    items = pq.read_table(args.manifest, columns=["source", "label", "path"]).to_pylist()
    summaries = audit.summarize_sources((i["source"], i["label"], i["path"]) for i in items)
    report.write_csv(report.pd.DataFrame([s.row() for s in summaries]), args.out)
    warnings = audit.confound_warnings(summaries)
    write_text(args.warnings, "".join(f"WARNING: {w}\n" for w in warnings))
    return 0


def _videos_table(args: argparse.Namespace) -> int:
    from unmask import report

    predictions = report.read_runs(args.predictions)
    report.write_csv(report.video_table(predictions, args.classifiers, args.threshold), args.out)
    return 0


def _crops_figure(args: argparse.Namespace) -> int:
    from unmask import report

    report.plot_crops(args.manifest, args.figure, args.title)
    return 0


def _spectra(args: argparse.Namespace) -> int:
    from unmask import report

    report.plot_spectra(args.features, args.figure, args.title)
    return 0


def _rejects(args: argparse.Namespace) -> int:
    from unmask import report

    rejects = report.collect_rejects(args.manifest, args.manifest_rejects, args.features)
    report.write_csv(rejects, args.out)
    print(f"rejects: {len(rejects)} files rejected", file=sys.stderr)
    return 0


def _robustness(args: argparse.Namespace) -> int:
    import pyarrow as pa

    from unmask import robustness
    from unmask.experiments import load_features
    from unmask.io import write_parquet

    data = load_features(args.features)
    runs = robustness.robustness_repeat(
        data,
        robustness.image_paths(args.manifest, data.ids),
        json.loads(args.classifiers),
        robustness.parse_perturbations(args.perturbations),
        spectrum.get_variant(args.variant, args.length),
        args.size,
        args.repeat,
        args.test_fraction,
        args.seed,
        reencode=args.reencode,
        protocol=args.protocol,
    )
    write_parquet(pa.Table.from_pandas(runs, preserve_index=False), args.out)
    return 0


def _robustness_table(args: argparse.Namespace) -> int:
    from unmask import report, robustness

    table = robustness.robustness_table(report.read_runs(args.runs))
    report.write_csv(table, args.out)
    robustness.plot_robustness(table, args.figure, args.title)
    return 0


def _cross_source(args: argparse.Namespace) -> int:
    from unmask import generalisation, report
    from unmask.experiments import load_features

    table = generalisation.cross_source_table(load_features(args.features), **json.loads(args.spec))
    report.write_csv(table, args.out)
    generalisation.plot_matrices(table, "train_source", "test_source", args.figure, f"{args.title}: cross-source")
    return 0


def _cross_dataset(args: argparse.Namespace) -> int:
    from unmask import generalisation, report

    table = generalisation.cross_dataset_table(generalisation.load_members(json.loads(args.spec)))
    report.write_csv(table, args.out)
    generalisation.plot_matrices(table, "train_dataset", "test_dataset", args.figure, "cross-dataset")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``unmask`` argument parser with one sub-command per stage."""
    parser = argparse.ArgumentParser(prog="unmask", description="Spectral deepfake detection (Durall et al. 2019).")
    commands = parser.add_subparsers(dest="command", required=True)

    command = commands.add_parser("spectrum", help="print the feature vector of images as CSV rows")
    command.add_argument("images", nargs="+", help="image files")
    command.add_argument("--variant", default="faces_hq", choices=sorted(spectrum.VARIANTS))
    command.add_argument("--length", type=int, help="resample spectra to this many points")
    command.add_argument("--no-header", action="store_true", help="omit the header row")
    command.set_defaults(run=_spectrum)

    command = commands.add_parser("acquire", help="bring a source's files into place and list them (workflow stage)")
    command.add_argument("--spec", required=True, help="the source's configuration as JSON")
    command.add_argument("--out", required=True, help="file list (TSV) to write")
    command.set_defaults(run=_acquire)

    command = commands.add_parser("manifest", help="one row per usable image of a dataset (workflow stage)")
    command.add_argument("--spec", required=True, help='JSON: {"sources": {...}, "seed": N, "image_size": [W, H]}')
    command.add_argument("--out", required=True)
    command.add_argument("--rejects", required=True)
    command.set_defaults(run=_manifest)

    command = commands.add_parser("crops", help="face crops from sampled frames of a shard of videos (workflow stage)")
    command.add_argument("--spec", required=True, help='JSON: {"sources": {...}, "seed": S, "frames": N, "margin": M, "yunet_model": P}')
    command.add_argument("--shard", type=int, required=True)
    command.add_argument("--shards", type=int, required=True)
    command.add_argument("--crops-dir", required=True, help="folder for the PNG crops")
    command.add_argument("--out", required=True, help="Parquet table of per-frame records")
    command.set_defaults(run=_crops)

    command = commands.add_parser("features", help="features of one manifest shard (workflow stage)")
    command.add_argument("--manifest", required=True)
    command.add_argument("--shard", type=int, required=True)
    command.add_argument("--shards", type=int, required=True)
    command.add_argument("--variant", required=True, choices=sorted(spectrum.VARIANTS))
    command.add_argument("--length", type=int)
    command.add_argument("--reencode", type=int, help="re-encode every image as JPEG at this quality first")
    command.add_argument("--out", required=True)
    command.set_defaults(run=_features)

    command = commands.add_parser("train", help="repeated fits of one classifier at one size (workflow stage)")
    command.add_argument("features", nargs="+", help="feature shards")
    command.add_argument("--name", required=True)
    command.add_argument("--spec", required=True, help="classifier configuration as JSON")
    command.add_argument("--samples", required=True, help='a number, or "all" (the largest class-balanced sample)')
    command.add_argument("--repeats", type=int, required=True)
    command.add_argument("--test-fraction", type=float, required=True)
    command.add_argument("--seed", type=int, required=True)
    command.add_argument("--out", required=True, help="per-repeat results")
    command.add_argument("--predictions", required=True, help="per-item test predictions")
    command.set_defaults(run=_train)

    command = commands.add_parser("predict", help="p_fake of images, folders and videos with a stored model")
    command.add_argument("paths", nargs="+", help="images, videos, or folders of them")
    command.add_argument("--model", required=True, help="a model file, e.g. results/faces_hq/models/logreg.json")
    command.add_argument("--frames", type=int, default=20, help="frames sampled per video (default 20)")
    command.add_argument("--margin", type=float, default=0.25, help="margin around a video face (default 0.25)")
    command.set_defaults(run=_predict)

    command = commands.add_parser("model", help="fit, calibrate and store one classifier on a whole dataset (workflow stage)")
    command.add_argument("features", nargs="+", help="feature shards")
    command.add_argument("--spec", required=True, help="classifier configuration as JSON")
    command.add_argument("--dataset", required=True)
    command.add_argument("--variant", required=True, choices=sorted(spectrum.VARIANTS))
    command.add_argument("--seed", type=int, required=True)
    command.add_argument("--out", required=True, help="model file (JSON)")
    command.add_argument("--calibration", required=True, help="reliability curve and Brier score (CSV)")
    command.set_defaults(run=_model)

    command = commands.add_parser("table", help="the accuracy table and its figure (workflow stage)")
    command.add_argument("runs", nargs="+", help="per-repeat results")
    command.add_argument("--classifiers", nargs="+", required=True)
    command.add_argument("--title", required=True)
    command.add_argument("--out", required=True)
    command.add_argument("--figure", required=True)
    command.set_defaults(run=_table)

    command = commands.add_parser("metrics", help="every metric of every fit, over repeats (workflow stage)")
    command.add_argument("predictions", nargs="+", help="per-item test predictions")
    command.add_argument("--dataset", required=True)
    command.add_argument("--out", required=True)
    command.set_defaults(run=_metrics)

    command = commands.add_parser("audit", help="format, size, subsampling and JPEG quality per source (workflow stage)")
    command.add_argument("--manifest", required=True)
    command.add_argument("--out", required=True, help="one row per source (CSV)")
    command.add_argument("--warnings", required=True, help="where real and fake sources differ (text)")
    command.set_defaults(run=_audit)

    command = commands.add_parser("videos-table", help="video-level accuracy by majority vote (workflow stage)")
    command.add_argument("predictions", nargs="+", help="per-frame test predictions")
    command.add_argument("--classifiers", nargs="+", required=True)
    command.add_argument("--threshold", type=float, required=True, help="fraction of fake frames that makes a video fake")
    command.add_argument("--out", required=True)
    command.set_defaults(run=_videos_table)

    command = commands.add_parser("crops-figure", help="example face crops per class (workflow stage)")
    command.add_argument("--manifest", required=True)
    command.add_argument("--title", required=True)
    command.add_argument("--figure", required=True)
    command.set_defaults(run=_crops_figure)

    command = commands.add_parser("spectra", help="mean +- std spectrum per source (workflow stage)")
    command.add_argument("features", nargs="+", help="feature shards")
    command.add_argument("--title", required=True)
    command.add_argument("--figure", required=True)
    command.set_defaults(run=_spectra)

    command = commands.add_parser("rejects", help="every rejected file with its reason (workflow stage)")
    command.add_argument("features", nargs="+", help="feature shards")
    command.add_argument("--manifest", required=True)
    command.add_argument("--manifest-rejects", required=True)
    command.add_argument("--out", required=True)
    command.set_defaults(run=_rejects)

    command = commands.add_parser("robustness", help="one repeat of accuracy under perturbed images (workflow stage)")
    command.add_argument("features", nargs="+", help="feature shards (the clean features)")
    command.add_argument("--manifest", required=True, help="the manifest: where each image is")
    command.add_argument("--variant", required=True, choices=sorted(spectrum.VARIANTS))
    command.add_argument("--length", type=int)
    command.add_argument("--reencode", type=int, help="the JPEG quality the features stage re-encoded images at")
    command.add_argument("--classifiers", required=True, help="JSON: {name: classifier spec}")
    command.add_argument("--perturbations", nargs="+", required=True, help="e.g. jpeg:70 scale:0.5 blur:1.0 noise:5")
    command.add_argument("--size", required=True, help='samples per repeat, or "all"; capped by the usable images')
    command.add_argument("--repeat", type=int, required=True)
    command.add_argument("--test-fraction", type=float, required=True)
    command.add_argument("--seed", type=int, required=True)
    command.add_argument("--protocol", default="sample_split", choices=["sample_split", "held_out_videos"], help="how a repeat draws its items")
    command.add_argument("--out", required=True, help="per-repeat results (Parquet)")
    command.set_defaults(run=_robustness)

    command = commands.add_parser("robustness-table", help="the robustness table and its figure (workflow stage)")
    command.add_argument("runs", nargs="+", help="per-repeat robustness results")
    command.add_argument("--title", required=True)
    command.add_argument("--out", required=True)
    command.add_argument("--figure", required=True)
    command.set_defaults(run=_robustness_table)

    command = commands.add_parser("cross-source", help="train on one fake source, test on each (workflow stage)")
    command.add_argument("features", nargs="+", help="feature shards")
    command.add_argument("--spec", required=True, help='JSON: {"classifiers": {...}, "size": N, "repeats": R, "test_fraction": F, "seed": S}')
    command.add_argument("--title", required=True)
    command.add_argument("--out", required=True)
    command.add_argument("--figure", required=True)
    command.set_defaults(run=_cross_source)

    command = commands.add_parser("cross-dataset", help="train on one dataset, test on each (workflow stage)")
    command.add_argument("--spec", required=True, help='JSON: {dataset: {"features": [...], "variant": V, "classifiers": {...}, "size": N, ...}}')
    command.add_argument("--out", required=True)
    command.add_argument("--figure", required=True)
    command.set_defaults(run=_cross_dataset)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``unmask`` command."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"unmask {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
