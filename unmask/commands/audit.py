"""``unmask audit``: format, size and JPEG quality per source (workflow stage)."""

from __future__ import annotations

import argparse
import json

from unmask.io import write_csv, write_text


def _audit(args: argparse.Namespace) -> int:
    import pandas as pd
    import pyarrow.parquet as pq

    from unmask.data import audit
    from unmask.data.harmonise import Harmonise

    items = pq.read_table(args.manifest, columns=["id", "source", "label", "path"]).to_pylist()
    rejects = pd.read_csv(args.rejects, usecols=["id", "source", "stage"], dtype=str, keep_default_na=False)
    rejected = set(rejects["id"])  # the features stage may have found a file gone or changed: not read again
    summaries = audit.summarize_sources(
        ((i["source"], i["label"], None if i["id"] in rejected else i["path"]) for i in items),
        rejects=rejects[["source", "stage"]].itertuples(index=False, name=None),
        labels=json.loads(args.labels),
    )
    write_csv(pd.DataFrame([s.row() for s in summaries]), args.out)
    lines = [f"WARNING: {w}\n" for w in audit.confound_warnings(summaries)]
    if harmonise := Harmonise.of(json.loads(args.harmonise)):
        harmonised = audit.summarize_sources(
            ((i["source"], i["label"], i["path"]) for i in items), labels=json.loads(args.labels), harmonise=harmonise
        )
        remaining = audit.confound_warnings(harmonised)
        done = f"crop {harmonise.crop or 'none'}, JPEG re-encoding {harmonise.jpeg_quality or 'none'}"
        verdict = "still differ" if remaining else "match in container, size, chroma subsampling and JPEG quality"
        lines.append(f"After harmonising ({done}), real and fake images {verdict}\n")
        lines += [f"WARNING after harmonising: {w}\n" for w in remaining]
    write_text(args.warnings, "".join(lines))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``unmask audit`` to the ``unmask`` sub-commands."""
    command = commands.add_parser(
        "audit", description="format, size, subsampling and JPEG quality per source (workflow stage)"
    )
    command.add_argument("--manifest", required=True, help="the dataset's manifest (Parquet)")
    command.add_argument("--rejects", required=True, help="the dataset's rejects.csv: counted per source")
    command.add_argument("--labels", required=True, help='JSON: {"source": "real" or "fake", ...}')
    command.add_argument("--harmonise", default="null", help="JSON: the dataset's harmonise setting (null: none)")
    command.add_argument("--out", required=True, help="one row per source (CSV)")
    command.add_argument("--warnings", required=True, help="where real and fake sources differ (text)")
    command.set_defaults(run=_audit)
