"""Build ``catalog.*`` from the lake's raw records. Re-annotating never needs a re-crawl.

:data:`SOURCES` is the registry of sources (``sn_lake.catalog.contract``): each a name, a crawl and a to-catalog
function with one signature, ``to_catalog(con, raw, issues)``. No record can break the build: a source's
``to_catalog`` turns every record into a catalog row or a quarantine entry (values out of range or of the wrong type
become NULL with an entry; a record no row can be made of is left out with one), and a lake file that cannot be read
is quarantined as one file (``lake.unreadable_step``, ``lake.unreadable_manifest``; ``row_key`` is its path relative
to the lake) while the rest of its source builds. Each build replaces the entries of :data:`BUILD_RULES` for the
sources it rebuilds; the quality checks' and the sources' own rules are left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import duckdb
import polars as pl

from sn_lake import lake, warehouse
from sn_lake.annotate import lineage, links
from sn_lake.annotate.numbers import clean_text
from sn_lake.catalog import huggingface as huggingface_catalog
from sn_lake.catalog import kaggle as kaggle_catalog
from sn_lake.catalog import local as local_catalog
from sn_lake.catalog import robustbench as robustbench_catalog
from sn_lake.catalog import securitynet as securitynet_catalog
from sn_lake.catalog import timm_registry as timm_registry_catalog
from sn_lake.catalog import timm_results as timm_results_catalog
from sn_lake.catalog.contract import CatalogPart, Source
from sn_lake.catalog.schema import QUARANTINE_SCHEMA
from sn_lake.config import Settings
from sn_lake.sources.huggingface import crawl as huggingface_crawl
from sn_lake.sources.kaggle import crawl as kaggle_crawl
from sn_lake.sources.local import crawl as local_crawl
from sn_lake.sources.papers import crawl as papers_crawl
from sn_lake.sources.robustbench import crawl as robustbench_crawl
from sn_lake.sources.securitynet import crawl as securitynet_crawl
from sn_lake.sources.timm_registry import crawl as timm_registry_crawl
from sn_lake.sources.timm_results import crawl as timm_results_crawl
from sn_lake.sources.weights import SOURCE as WEIGHTS
from sn_lake.sources.weights import crawl as weights_crawl

# The sources of catalog.models, in build order: the published result tables (docs/published_results.md) come after
# timm, whose rows timm_results fills with reported accuracies.
SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        Source(timm_registry_catalog.SOURCE, timm_registry_crawl.crawl, timm_registry_catalog.to_catalog),
        Source(securitynet_catalog.SOURCE, securitynet_crawl.crawl, securitynet_catalog.to_catalog),
        Source(
            huggingface_catalog.SOURCE,
            huggingface_crawl.crawl,
            huggingface_catalog.to_catalog,
            compact=huggingface_catalog.compact_raw,
        ),
        Source(kaggle_catalog.SOURCE, kaggle_crawl.crawl, kaggle_catalog.to_catalog),
        Source(local_catalog.SOURCE, local_crawl.crawl, local_catalog.to_catalog),
        Source(robustbench_catalog.SOURCE, robustbench_crawl.crawl, robustbench_catalog.to_catalog),
        Source(
            timm_results_catalog.SOURCE,
            timm_results_crawl.crawl,
            timm_results_catalog.to_catalog,
            links=timm_results_catalog.link_rows,
        ),
    )
}

# The sources that enrich the catalog afterwards, name -> crawl: their crawls take the catalog's ids as arguments
# (their assets read them with sn_lake.catalog.papers.catalog_paper_ids / .weights.catalog_links and run after
# catalog_models), and sn_lake.catalog.papers / .weights build their own tables from what they fetched.
ENRICHMENTS: dict[str, Callable[..., dict]] = {papers_crawl.SOURCE: papers_crawl.crawl, WEIGHTS: weights_crawl.crawl}

# every source that is crawled, in build order: what `sn-lake crawl` takes, each by its asset contract.crawl_asset(name)
CRAWLS: tuple[str, ...] = (*SOURCES, *ENRICHMENTS)


# the quarantine rule families this build writes (sn_lake.annotate.numbers, model cards, lake files)
BUILD_RULES = r"^(number|accuracy|value|card|record|lake)\."


def _unreadable_file(file: lake.UnreadableFile, rule: str) -> dict:
    return {
        "table_name": "catalog.models",
        "row_key": file.relative,
        "rule": rule,
        "detail": f"Expected a readable lake file at {file.relative}, found {file.reason}; the rest of the source "
        "was built without it: delete or move the file and crawl the source again to replace it",
    }


def replace_quarantine(con: duckdb.DuckDBPyConnection, source: str, issues: list[dict]) -> int:
    """Replace the build's quarantine entries (:data:`BUILD_RULES`) of ``source``: its models and its lake files."""
    now = lake.utcnow()
    frame = pl.DataFrame([{**issue, "detected_at": now} for issue in issues], schema=QUARANTINE_SCHEMA)
    where = "regexp_matches(rule, ?) AND (starts_with(row_key, ?) OR starts_with(row_key, ?))"
    params = [BUILD_RULES, f"{source}:", f"raw/{source}/"]
    return warehouse.replace_rows(con, "catalog.quarantine", frame, where, params)


def build_models(settings: Settings, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rebuild ``catalog.models`` for every source the lake holds; returns rows per source.

    What a source's records or files could not give goes to ``catalog.quarantine`` (:func:`replace_quarantine`).
    """
    counts = {}
    declared = []  # the parents the models declare, resolved once every source is in
    for name, source in SOURCES.items():
        unreadable: list[lake.UnreadableFile] = []
        raw = lake.read_raw(settings, name, unreadable)
        issues = [_unreadable_file(f, "lake.unreadable_step") for f in unreadable]
        if raw.is_empty():
            if unreadable:  # nothing readable: the catalog keeps what it had, the files are named
                replace_quarantine(con, name, issues)
            continue
        if source.compact is not None:
            raw = source.compact(raw)  # the frame read is freed here, before the builder makes its own
        part: CatalogPart = source.to_catalog(con, raw, issues)
        del raw  # the raw records are no longer needed: free them before the warehouse takes the rows
        if part.declared_parents is not None:
            declared.append(part.declared_parents)
        counts[name] = warehouse.replace_rows(con, "catalog.models", part.models, "source = ?", [name])
        del part
        record_crawls(settings, con, name, issues)
        replace_quarantine(con, name, issues)  # after to_catalog, which may replace a source's own entries
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
    endpoint_host = urlsplit(settings.hf_endpoint).netloc.rsplit("@", 1)[-1].lower()  # without user:password@
    hub_hosts = (*links.HUB_HOSTS, endpoint_host)
    found = links.find_links([dict(zip(columns, row, strict=True)) for row in rows], hub_hosts)
    known = {(link["model_id"], link["linked_model_id"]) for link in found}
    for source in SOURCES.values():  # links a source knows beyond catalog rows (timm's tables: timm <-> huggingface)
        if source.links is not None:
            found += [x for x in source.links(con) if (x["model_id"], x["linked_model_id"]) not in known]
    schema = {"model_id": pl.String, "linked_model_id": pl.String, "link_type": pl.String, "evidence": pl.String}
    return warehouse.replace_rows(con, "catalog.model_links", pl.DataFrame(found, schema=schema), "true")


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**62 else 0


def record_crawls(
    settings: Settings, con: duckdb.DuckDBPyConnection, source: str, issues: list[dict] | None = None
) -> None:
    """Copy the source's finished-crawl manifests into ``raw.crawls``; an unreadable one goes to ``issues``."""
    unreadable: list[lake.UnreadableFile] = []
    crawls = {clean_text(c["crawl_id"]): c for c in lake.finished_crawls(settings, source, unreadable)}  # one per id
    frame = pl.DataFrame(
        {
            "source": [source] * len(crawls),
            "crawl_id": list(crawls),
            "finished_at": [clean_text(c["finished_at"]) for c in crawls.values()],
            "n_records": [_count(c.get("records", 0)) for c in crawls.values()],
            "n_steps": [_count(c.get("steps", 0)) for c in crawls.values()],
        },
        schema={
            "source": pl.String,
            "crawl_id": pl.String,
            "finished_at": pl.String,
            "n_records": pl.Int64,
            "n_steps": pl.Int64,
        },
    ).with_columns(pl.col("finished_at").str.to_datetime(time_zone="UTC", strict=False))
    for crawl_id in frame.filter(pl.col("finished_at").is_null())["crawl_id"]:
        path = lake.crawl_dir(settings, source, crawl_id) / "_crawl.json"
        relative = f"raw/{source}/crawl_id={crawl_id}/_crawl.json"
        unreadable.append(lake.UnreadableFile(path, relative, "a summary whose finished_at is not a time"))
    if issues is not None:
        issues.extend(_unreadable_file(f, "lake.unreadable_manifest") for f in unreadable)
    warehouse.replace_rows(con, "raw.crawls", frame.drop_nulls("finished_at"), "source = ?", [source])
