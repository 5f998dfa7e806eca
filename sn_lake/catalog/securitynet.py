"""SecurityNet's parsed table -> ``catalog.models``, ``catalog.securitynet_labels``, its quarantine entries and the
study's published results (``results.*``, ``origin = 'published:securitynet'``), through the annotation rules.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb
import polars as pl

from sn_lake import lake, warehouse
from sn_lake.annotate import numbers
from sn_lake.annotate.architectures import model_family
from sn_lake.annotate.countries import normalize_countries
from sn_lake.annotate.datasets import canonical_dataset, data_category
from sn_lake.annotate.papers import arxiv_ids
from sn_lake.annotate.purpose import paper_purpose
from sn_lake.annotate.venues import normalize_venue
from sn_lake.catalog.contract import CatalogPart
from sn_lake.catalog.schema import CORE, QUARANTINE_SCHEMA, SEEN, models_schema
from sn_lake.sources.securitynet import NATIVE_ID, SOURCE
from sn_lake.sources.securitynet.parse import (
    MIA_ATTACKS,
    MODEL_TABLES,
    STEALING_SETTINGS,
    Snapshot,
    TableRow,
    latest_snapshot,
)

ORIGIN = "published:securitynet"


def _architecture(name: str) -> str:
    """The model name without its file extension and a trailing dataset suffix (``resnet20_cifar10`` ->
    ``resnet20``)."""
    stem = re.sub(r"\.(pth|pt|ckpt|tar|pth\.tar|bin|safetensors)$", "", name.strip(), flags=re.IGNORECASE)
    head, _, tail = stem.rpartition("_")
    return head if head and (canonical_dataset(tail) or tail.lower() == "cub") else stem


def model_row(row: TableRow, sha256: str) -> dict:
    """The catalog.models row of one table row that is not excluded (without seen-at times)."""
    v = row.values
    paper = arxiv_ids(v["paper_url"])
    dataset = canonical_dataset(v["data_name"]) or (canonical_dataset(v["note"]) if row.table == "new" else None)
    if row.table == "new":
        architecture = model_type = None
        purpose = paper_purpose(v["title"], venue=v["venue"])  # the new-models table states no purpose
    else:
        architecture = _architecture(v["model_name"])
        model_type = model_family(v["model_type"]) or model_family(architecture)
        purpose = v["purpose"]
    return {
        "model_id": row.model_id,
        "source": SOURCE,
        "name": v["model_name"] or v["title"],
        "revision": f"sha256:{sha256[:12]}",
        "architecture": architecture,
        "model_type": model_type,
        "dataset": dataset,
        "data_category": data_category(dataset) or (v["data_category"].lower() if v["data_category"] else None),
        "num_classes": v["num_classes"],
        "input_size": None,
        "library": None,
        "license": None,
        "paper_id": paper[0] if paper else None,
        "purpose": purpose,
        "weights_url": v["weights_url"],
    }


# the columns it fills; their types come from sql/schema/ (sn_lake.catalog.schema)
CATALOG_SCHEMA = models_schema(*CORE, *SEEN)


def catalog_rows(raw: pl.DataFrame, issues: list[dict] | None = None) -> pl.DataFrame:
    """catalog.models rows for every row of the latest table that no rule excluded.

    The table's own rules quarantine values and rows (:func:`build_tables`); a raw record that is not a
    crawled table goes to ``issues`` as ``record.unreadable``.
    """
    snap = latest_snapshot(raw)
    if issues is not None:
        for crawl_id, why in snap.unreadable:
            issues.append(numbers.unreadable(f"{SOURCE}:{NATIVE_ID}@{crawl_id}", ValueError(why)))
    rows = [
        {
            **model_row(r, snap.sha256),
            "first_seen_at": snap.first_seen[r.row_key],
            "last_seen_at": snap.last_seen[r.row_key],
        }
        for r in snap.rows
        if r.excluded is None
    ]
    return pl.DataFrame(rows, schema=CATALOG_SCHEMA)


LABEL_SCHEMA = {
    "row_key": pl.String, "model_id": pl.String, "in_catalog": pl.Boolean, "table_name": pl.String,
    "line": pl.Int32, "model_name": pl.String, "title": pl.String, "model_type": pl.String,
    "data_name": pl.String, "data_category": pl.String, "num_classes": pl.Int32, "training_size": pl.Int64,
    "venue": pl.String, "venue_normalized": pl.String, "venue_type": pl.String, "year": pl.Int32,
    "countries": pl.String, "country_codes": pl.List(pl.String), "n_authors": pl.Int32, "purpose": pl.String,
    "paper_url": pl.String, "paper_id": pl.String, "weights_url": pl.String, "note": pl.String,
    "table_sha256": pl.String,
}  # fmt: skip


def label_rows(snap: Snapshot) -> pl.DataFrame:
    """catalog.securitynet_labels: the annotators' labels of every table row, as the table states them."""
    out = []
    for r in snap.rows:
        v = r.values
        paper = arxiv_ids(v["paper_url"])
        out.append(
            {
                "row_key": r.row_key,
                "model_id": r.model_id,
                "in_catalog": r.excluded is None,
                "table_name": r.table,
                "line": r.line,
                **{
                    k: v[k]
                    for k in (
                        "model_name",
                        "title",
                        "model_type",
                        "data_name",
                        "data_category",
                        "num_classes",
                        "training_size",
                        "venue",
                        "venue_type",
                        "year",
                        "countries",
                        "n_authors",
                        "paper_url",
                        "weights_url",
                        "note",
                    )
                },
                "venue_normalized": normalize_venue(v["venue"]),
                "country_codes": normalize_countries(v["countries"]),
                "purpose": v["purpose"],
                "paper_id": paper[0] if paper else None,
                "table_sha256": snap.sha256,
            }
        )
    return pl.DataFrame(out, schema=LABEL_SCHEMA)


def quarantine_rows(snap: Snapshot, detected_at: Any) -> pl.DataFrame:
    """catalog.quarantine entries: every row kept out of the catalog and every value read as NULL."""
    out = []
    for r in snap.rows:
        for issue in ([r.excluded] if r.excluded else []) + r.issues:
            out.append(
                {
                    "table_name": issue.table_name,
                    "row_key": r.model_id,
                    "rule": issue.rule,
                    "detail": issue.detail,
                    "detected_at": detected_at,
                }
            )
    return pl.DataFrame(out, schema=QUARANTINE_SCHEMA)


def result_rows(snap: Snapshot) -> dict[str, pl.DataFrame]:
    """The study's published metrics per results table (a row only where at least one metric is stated)."""
    common_schema = {
        "model_id": pl.String,
        "revision": pl.String,
        "dataset": pl.String,
        "origin": pl.String,
        "computed_at": pl.Datetime("us", "UTC"),
    }
    task, stealing, mia = [], [], []
    for r in snap.rows:
        if r.excluded is not None or r.table not in MODEL_TABLES:
            continue
        v = r.values
        common = {
            "model_id": r.model_id,
            "revision": f"sha256:{snap.sha256[:12]}",
            "dataset": canonical_dataset(v["data_name"]),
            "origin": ORIGIN,
            "computed_at": snap.fetched_at,
        }
        if any(v[f] is not None for f in ("train_accuracy", "test_accuracy", "overfit_gap")):
            task.append(
                {
                    **common,
                    "train_accuracy": v["train_accuracy"],
                    "test_accuracy": v["test_accuracy"],
                    "overfit_gap": v["overfit_gap"],
                }
            )
        for acc, agree, fixed in STEALING_SETTINGS:
            if v[acc] is not None or v[agree] is not None:
                stealing.append({**common, **fixed, "stealing_accuracy": v[acc], "agreement": v[agree]})
        for fld, attack in MIA_ATTACKS:
            if v[fld] is not None:
                mia.append({**common, "attack": attack, "auc": v[fld]})
    return {
        "results.task_accuracy": pl.DataFrame(
            task,
            schema={
                **common_schema,
                "train_accuracy": pl.Float64,
                "test_accuracy": pl.Float64,
                "overfit_gap": pl.Float64,
            },
        ),
        "results.model_stealing": pl.DataFrame(
            stealing,
            schema={
                **common_schema,
                "aux_dataset": pl.String,
                "surrogate_arch": pl.String,
                "stealing_accuracy": pl.Float64,
                "agreement": pl.Float64,
            },
        ),
        "results.membership_inference": pl.DataFrame(
            mia, schema={**common_schema, "attack": pl.String, "auc": pl.Float64}
        ),
    }


def build_tables(con: duckdb.DuckDBPyConnection, raw: pl.DataFrame) -> dict[str, int]:
    """Rebuild the SecurityNet labels, its quarantine entries and its published results from the raw records."""
    snap = latest_snapshot(raw)
    counts = {
        "catalog.securitynet_labels": warehouse.replace_rows(
            con, "catalog.securitynet_labels", label_rows(snap), "true"
        )
    }
    counts["catalog.quarantine"] = warehouse.replace_rows(
        con, "catalog.quarantine", quarantine_rows(snap, lake.utcnow()), "row_key LIKE ?", [f"{SOURCE}:%"]
    )
    for table, frame in result_rows(snap).items():
        counts[table] = warehouse.replace_rows(con, table, frame, "origin = ?", [ORIGIN])
    return counts


def to_catalog(con: duckdb.DuckDBPyConnection, raw: pl.DataFrame, issues: list[dict]) -> CatalogPart:
    """The source contract (``sn_lake.catalog.contract``): the table's catalog rows, after its labels, quarantine
    entries and published results (:func:`build_tables`)."""
    build_tables(con, raw)
    return CatalogPart(catalog_rows(raw, issues))
