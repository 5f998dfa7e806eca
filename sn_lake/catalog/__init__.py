"""Build ``catalog.*`` from the lake's raw records. Re-annotating never needs a re-crawl."""

from __future__ import annotations

from urllib.parse import urlsplit

import duckdb
import polars as pl

from sn_lake import lake, warehouse
from sn_lake.annotate import lineage, links
from sn_lake.catalog import robustbench as robustbench_catalog
from sn_lake.catalog import timm_results as timm_results_catalog
from sn_lake.config import Settings
from sn_lake.sources import huggingface, kaggle, local, securitynet, timm_registry

# source name -> module with `catalog_rows(raw) -> frame` (every source issue adds its own); a module
# that fills more tables (labels, quarantine, published results) also has `build_tables(con, raw)`.
SOURCES = {timm_registry.SOURCE: timm_registry, securitynet.SOURCE: securitynet, huggingface.SOURCE: huggingface, kaggle.SOURCE: kaggle,
           local.SOURCE: local}
# published result tables (docs/published_results.md), after timm: timm_results fills the timm rows' reported_accuracy
SOURCES |= {robustbench_catalog.SOURCE: robustbench_catalog, timm_results_catalog.SOURCE: timm_results_catalog}


def build_models(settings: Settings, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rebuild ``catalog.models`` for every source the lake holds; returns rows per source."""
    counts = {}
    declared = []  # parents the models declare (sources with `tree_rows(raw)`), resolved once every source is in
    for name, module in SOURCES.items():
        raw = lake.read_raw(settings, name)
        if raw.is_empty():
            continue
        if hasattr(module, "compact_raw"):  # only what its catalog reads (memory)
            raw = module.compact_raw(raw)
        rows = module.catalog_rows(raw)
        if hasattr(module, "build_tables"):
            module.build_tables(con, raw)
        if hasattr(module, "tree_rows"):
            declared.append(module.tree_rows(raw))
        del raw  # the raw records are no longer needed: free them before the warehouse takes the rows
        counts[name] = warehouse.replace_rows(con, "catalog.models", rows, "source = ?", [name])
        del rows
        record_crawls(settings, con, name)
    build_links(settings, con)
    build_model_tree(con, declared)
    return counts


def build_model_tree(con: duckdb.DuckDBPyConnection, declared: list[pl.DataFrame]) -> int:
    """Rebuild ``catalog.model_tree`` from declared parents (child_id, parent, relation, evidence frames), each parent
    resolved to its catalog id where the catalog knows it (``sn_lake.annotate.lineage``)."""
    _, rows = warehouse.query(con, "SELECT model_id FROM catalog.models")
    known = {r[0].lower(): r[0] for r in rows}
    edges = lineage.tree_edges((row for frame in declared for row in frame.iter_rows()), known)
    schema = {"child_id": pl.String, "parent_id": pl.String, "relation": pl.String, "evidence": pl.String}
    return warehouse.replace_rows(con, "catalog.model_tree", pl.DataFrame(edges, schema=schema), "true")


def build_links(settings: Settings, con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild ``catalog.model_links`` (the same model across sources) from ``catalog.models``."""
    columns, rows = warehouse.query(con, "SELECT model_id, weights_url, paper_id, model_type FROM catalog.models")
    hub_hosts = (*links.HUB_HOSTS, urlsplit(settings.hf_endpoint).netloc.lower())
    found = links.find_links([dict(zip(columns, row)) for row in rows], hub_hosts)
    known = {(link["model_id"], link["linked_model_id"]) for link in found}
    for module in SOURCES.values():  # links a source knows beyond catalog rows (timm's tables: timm <-> huggingface)
        if hasattr(module, "link_rows"):
            found += [link for link in module.link_rows(con) if (link["model_id"], link["linked_model_id"]) not in known]
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
