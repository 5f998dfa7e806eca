"""Build ``catalog.*`` from the lake's raw records. Re-annotating never needs a re-crawl."""

from __future__ import annotations

import duckdb
import polars as pl

from sn_lake import lake, warehouse
from sn_lake.config import Settings
from sn_lake.sources import timm_registry

# source name -> module with `catalog_rows(raw) -> frame` (every source issue adds its own)
SOURCES = {timm_registry.SOURCE: timm_registry}


def build_models(settings: Settings, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rebuild ``catalog.models`` for every source the lake holds; returns rows per source."""
    counts = {}
    for name, module in SOURCES.items():
        raw = lake.read_raw(settings, name)
        if raw.is_empty():
            continue
        counts[name] = warehouse.replace_rows(con, "catalog.models", module.catalog_rows(raw), "source = ?", [name])
        record_crawls(settings, con, name)
    return counts


def record_crawls(settings: Settings, con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Copy the source's finished-crawl manifests into ``raw.crawls``."""
    crawls = lake.finished_crawls(settings, source)
    frame = pl.DataFrame(
        {
            "source": [source] * len(crawls),
            "crawl_id": [c["crawl_id"] for c in crawls],
            "finished_at": [c["finished_at"] for c in crawls],
            "n_records": [c.get("records", 0) for c in crawls],
            "n_steps": [c.get("steps", 0) for c in crawls],
        },
        schema={"source": pl.String, "crawl_id": pl.String, "finished_at": pl.String, "n_records": pl.Int64, "n_steps": pl.Int64},
    ).with_columns(pl.col("finished_at").str.to_datetime(time_zone="UTC"))
    warehouse.replace_rows(con, "raw.crawls", frame, "source = ?", [source])
