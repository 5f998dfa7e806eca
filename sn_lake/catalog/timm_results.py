"""timm's result tables -> published results (``origin = 'published:timm'``), links and reported accuracies.

* ``results.task_accuracy``: one row per row of ``results-imagenet.csv`` (test accuracy = top-1 on
  ``imagenet-1k``, plus top-5), under ``timm:<name>`` whether or not today's registry lists the model. timm lists
  a model once per test resolution; ``config_hash`` tells those rows apart (and pairs them with the shifted sets').
* ``results.distribution_shift``: one row per row of the five shifted-set tables.
* ``catalog.model_links``: ``timm:<name>`` and ``huggingface:timm/<name>`` for every model in the tables
  (:func:`link_rows`, which ``sn_lake.catalog.build_links`` adds to the links it finds).
* ``catalog.models.reported_accuracy`` of timm registry rows that have none: the published top-1 at the
  registry's input size (else the table's first row for the model).
* ``catalog.quarantine``: every value read as NULL and every row or table left out (rules ``timm_results.*``).
docs/published_results.md.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import duckdb
import polars as pl

from sn_lake import lake, warehouse
from sn_lake.catalog import snapshots
from sn_lake.catalog.contract import CatalogPart
from sn_lake.catalog.schema import QUARANTINE_SCHEMA, SEEN, models_schema
from sn_lake.sources.location import MANIFEST
from sn_lake.sources.timm_results import SOURCE, parse
from sn_lake.sources.timm_results.crawl import IMAGENET

ORIGIN = "published:timm"
BASE_DATASET = "imagenet-1k"
# table -> our short dataset id of the shifted test set
SHIFTED = {
    "results-imagenet-real.csv": "imagenet-real",  # ImageNet-ReaL: the validation set with re-assessed labels
    "results-imagenetv2-matched-frequency.csv": "imagenetv2-matched-frequency",
    "results-sketch.csv": "imagenet-sketch",
    "results-imagenet-a.csv": "imagenet-a",  # natural adversarial examples, 200 classes
    "results-imagenet-r.csv": "imagenet-r",  # renditions, 200 classes
}
REGISTRY_SOURCE = "timm"


def model_id(name: str) -> str:
    return f"{REGISTRY_SOURCE}:{name}"


def config_hash(img_size: int | None) -> str:
    """The key of one evaluation of a model in timm's tables: its test resolution."""
    body = json.dumps({"source": SOURCE, "img_size": img_size}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def tables(raw: pl.DataFrame) -> tuple[dict[str, parse.Table], snapshots.Snapshot]:
    snap = snapshots.current(raw, MANIFEST)
    return {path: parse.read_table({"path": path, **payload}) for path, payload in sorted(snap.payloads.items())}, snap


# the columns it fills; their types come from sql/schema/ (sn_lake.catalog.schema)
CATALOG_SCHEMA = models_schema("model_id", "source", "name", *SEEN)


def catalog_rows(raw: pl.DataFrame) -> pl.DataFrame:
    """No catalog rows: the tables describe ``timm:<name>`` models, which the registry source catalogs."""
    return pl.DataFrame(schema=CATALOG_SCHEMA)


COMMON_SCHEMA = {
    "model_id": pl.String,
    "revision": pl.String,
    "dataset": pl.String,
    "origin": pl.String,
    "config_hash": pl.String,
    "computed_at": pl.Datetime("us", "UTC"),
}
TASK_SCHEMA = {**COMMON_SCHEMA, "test_accuracy": pl.Float64, "top5_accuracy": pl.Float64, "eval_config": pl.String}
SHIFT_SCHEMA = {
    **COMMON_SCHEMA,
    "base_dataset": pl.String,
    "top1": pl.Float64,
    "top5": pl.Float64,
    "top1_diff": pl.Float64,
    "top5_diff": pl.Float64,
    "rank_diff": pl.Int32,
    "img_size": pl.Int32,
    "crop_pct": pl.Float64,
    "interpolation": pl.String,
    "param_count": pl.Float64,
}


def _common(table: parse.Table, row: parse.ResultRow, dataset: str, fetched_at: Any) -> dict:
    return {
        "model_id": model_id(row.model),
        "revision": f"sha256:{table.sha256[:12]}" if table.sha256 else None,
        "dataset": dataset,
        "origin": ORIGIN,
        "config_hash": config_hash(row.values["img_size"]),
        "computed_at": fetched_at,
    }


def result_rows(found: dict[str, parse.Table], snap: snapshots.Snapshot) -> dict[str, pl.DataFrame]:
    """The published top-1/top-5 on ImageNet-1k and on the shifted sets, one row per table row the parser kept."""
    task, shift = [], []
    imagenet = found.get(IMAGENET)
    if imagenet is not None and imagenet.excluded is None:
        for row in imagenet.rows:
            v = row.values
            config = json.dumps({k: v[k] for k in ("img_size", "crop_pct", "interpolation")}, sort_keys=True)
            task.append(
                {
                    **_common(imagenet, row, BASE_DATASET, snap.fetched_at[IMAGENET]),
                    "test_accuracy": v["top1"],
                    "top5_accuracy": v["top5"],
                    "eval_config": config,
                }
            )
    for path, dataset in SHIFTED.items():
        table = found.get(path)
        if table is None or table.excluded is not None:
            continue
        for row in table.rows:
            v = row.values
            shift.append(
                {
                    **_common(table, row, dataset, snap.fetched_at[path]),
                    "base_dataset": BASE_DATASET,
                    **{
                        k: v[k]
                        for k in (
                            "top1",
                            "top5",
                            "top1_diff",
                            "top5_diff",
                            "rank_diff",
                            "img_size",
                            "crop_pct",
                            "interpolation",
                            "param_count",
                        )
                    },
                }
            )
    return {
        "results.task_accuracy": pl.DataFrame(task, schema=TASK_SCHEMA),
        "results.distribution_shift": pl.DataFrame(shift, schema=SHIFT_SCHEMA),
    }


def quarantine_rows(found: dict[str, parse.Table], detected_at: Any) -> pl.DataFrame:
    """Every table, row or value the tables could not give, with its rule and reason."""
    rows = []
    for path, table in found.items():
        target = "results.task_accuracy" if path == IMAGENET else "results.distribution_shift"
        if path != IMAGENET and path not in SHIFTED and table.excluded is None:
            table.excluded = parse.Note(
                "timm_results.excluded.unknown_table",
                f"{path!r} is none of timm's six result tables; add it to sn_lake/catalog/timm_results.py to read it",
            )
        problems = [(None, table.excluded)] if table.excluded else table.notes
        for name, note in problems:
            rows.append(
                {
                    "table_name": target,
                    "row_key": model_id(name) if name else f"{SOURCE}:{path}",
                    "rule": note.rule,
                    "detail": note.detail,
                    "detected_at": detected_at,
                }
            )
    return pl.DataFrame(rows, schema=QUARANTINE_SCHEMA)


def link_rows(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """``timm:<name>`` <-> ``huggingface:timm/<name>`` for every model timm's tables name (both directions)."""
    _, rows = warehouse.query(
        con,
        "SELECT model_id FROM results.task_accuracy WHERE origin = ? UNION "
        "SELECT model_id FROM results.distribution_shift WHERE origin = ? ORDER BY 1",
        [ORIGIN, ORIGIN],
    )
    out = []
    for (mid,) in rows:
        hub = f"timm/{mid.split(':', 1)[1]}"
        out.append(
            {"model_id": mid, "linked_model_id": f"huggingface:{hub}", "link_type": "same_hub_id", "evidence": hub}
        )
        out.append(
            {"model_id": f"huggingface:{hub}", "linked_model_id": mid, "link_type": "same_hub_id", "evidence": hub}
        )
    return out


def fill_reported_accuracy(con: duckdb.DuckDBPyConnection, found: dict[str, parse.Table]) -> int:
    """Set ``reported_accuracy`` of timm registry rows that have none to the published top-1; returns rows set."""
    imagenet = found.get(IMAGENET)
    if imagenet is None or imagenet.excluded is not None:
        return 0
    published: dict[str, list[tuple[int | None, float]]] = {}
    for row in imagenet.rows:
        if row.values["top1"] is not None:
            published.setdefault(model_id(row.model), []).append((row.values["img_size"], row.values["top1"]))
    _, rows = warehouse.query(
        con,
        "SELECT model_id, input_size FROM catalog.models WHERE source = ? AND reported_accuracy IS NULL",
        [REGISTRY_SOURCE],
    )
    chosen = []
    for mid, input_size in rows:
        options = published.get(mid)
        if options:
            at_size = [top1 for size, top1 in options if size == input_size]
            chosen.append({"model_id": mid, "top1": at_size[0] if at_size else options[0][1]})
    frame = pl.DataFrame(chosen, schema={"model_id": pl.String, "top1": pl.Float64})
    con.register("_published_top1", frame.to_arrow())
    try:
        con.execute(
            "UPDATE catalog.models AS m SET reported_accuracy = p.top1 FROM _published_top1 AS p "
            "WHERE m.model_id = p.model_id AND m.reported_accuracy IS NULL"
        )
    finally:
        con.unregister("_published_top1")
    return frame.height


def build_tables(con: duckdb.DuckDBPyConnection, raw: pl.DataFrame) -> dict[str, int]:
    """Rebuild timm's published results and quarantine entries, and fill the registry rows' reported accuracy."""
    found, snap = tables(raw)
    counts = {}
    for table, frame in result_rows(found, snap).items():
        counts[table] = warehouse.replace_rows(con, table, frame, "origin = ?", [ORIGIN])
    counts["catalog.quarantine"] = warehouse.replace_rows(
        con, "catalog.quarantine", quarantine_rows(found, lake.utcnow()), "rule LIKE ?", ["timm_results.%"]
    )
    counts["catalog.models.reported_accuracy"] = fill_reported_accuracy(con, found)
    return counts


def to_catalog(con: duckdb.DuckDBPyConnection, raw: pl.DataFrame, issues: list[dict]) -> CatalogPart:
    """The source contract (``sn_lake.catalog.contract``): no catalog rows of its own (:func:`catalog_rows`); the
    published results, quarantine entries and reported accuracies (:func:`build_tables`; its rules write their own
    ``timm_results.*`` entries, so ``issues`` gets none). Its links come after every source (:func:`link_rows`)."""
    build_tables(con, raw)
    return CatalogPart(catalog_rows(raw))
