"""Build ``catalog.*`` from the lake's raw records. Re-annotating never needs a re-crawl."""

from __future__ import annotations

from urllib.parse import urlsplit

import duckdb
import polars as pl

from sn_lake import lake, warehouse
from sn_lake.annotate import links
from sn_lake.config import Settings
from sn_lake.sources import huggingface, kaggle, local, securitynet, timm_registry

# source name -> module with `catalog_rows(raw) -> frame` (every source issue adds its own); a module
# that fills more tables (labels, quarantine, published results) also has `build_tables(con, raw)`.
SOURCES = {timm_registry.SOURCE: timm_registry, securitynet.SOURCE: securitynet, huggingface.SOURCE: huggingface, kaggle.SOURCE: kaggle,
           local.SOURCE: local}


def build_models(settings: Settings, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rebuild ``catalog.models`` for every source the lake holds; returns rows per source."""
    counts = {}
    for name, module in SOURCES.items():
        raw = lake.read_raw(settings, name)
        if raw.is_empty():
            continue
        counts[name] = warehouse.replace_rows(con, "catalog.models", module.catalog_rows(raw), "source = ?", [name])
        if hasattr(module, "build_tables"):
            module.build_tables(con, raw)
        record_crawls(settings, con, name)
    build_links(settings, con)
    return counts


def build_links(settings: Settings, con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild ``catalog.model_links`` (the same model across sources) from ``catalog.models``."""
    columns, rows = warehouse.query(con, "SELECT model_id, weights_url, paper_id, model_type FROM catalog.models")
    hub_hosts = (*links.HUB_HOSTS, urlsplit(settings.hf_endpoint).netloc.lower())
    found = links.find_links([dict(zip(columns, row)) for row in rows], hub_hosts)
    schema = {"model_id": pl.String, "linked_model_id": pl.String, "link_type": pl.String, "evidence": pl.String}
    return warehouse.replace_rows(con, "catalog.model_links", pl.DataFrame(found, schema=schema), "true")


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
