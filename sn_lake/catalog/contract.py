"""The source contract: what one source gives the catalog build, and the registry entry that names it.

A source is a name, a crawl and a to-catalog function (docs/architecture.md, "Adding a source"):

* ``crawl(settings, **options) -> summary`` (``sn_lake/sources/<name>/crawl.py``) appends raw records under
  ``lake/raw/<name>/`` and returns a summary for the asset's metadata;
* ``to_catalog(con, raw, issues) -> CatalogPart`` (``sn_lake/catalog/<name>.py``) turns every raw record the lake
  holds into its ``catalog.models`` rows and the parents they declare, writes the source's own tables (labels,
  published results) through ``con``, and appends a quarantine entry to ``issues`` for each value or record it refused.

Every builder has that one signature, so the build (:func:`sn_lake.catalog.build_models`) calls each the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import polars as pl

TREE_SCHEMA = {"child_id": pl.String, "parent": pl.String, "relation": pl.String, "evidence": pl.String}


@dataclass
class CatalogPart:
    """One source's share of the catalog: its ``catalog.models`` rows and the parents its models declare
    (``child_id``, ``parent`` as declared, ``relation``, ``evidence``; resolved into ``catalog.model_tree``)."""

    models: pl.DataFrame
    declared_parents: pl.DataFrame | None = None


ToCatalog = Callable[[duckdb.DuckDBPyConnection, pl.DataFrame, list[dict]], CatalogPart]


@dataclass(frozen=True)
class Source:
    """A registry entry (:data:`sn_lake.catalog.SOURCES`): the source's name (its ``lake/raw/<name>/`` folder and
    its ``model_id`` prefix), its crawl, and its to-catalog function. ``links``, for a source that knows links between
    catalog rows beyond what the rows say (timm's tables), reads them once every source is in ``catalog.models``.
    ``compact``, for a source whose raw records carry what its builder never reads, makes the smaller frame the build
    passes on; the build applies it in place of the frame it read, so the two are never held at once (memory)."""

    name: str
    crawl: Callable[..., dict]
    to_catalog: ToCatalog
    links: Callable[[duckdb.DuckDBPyConnection], list[dict]] | None = None
    compact: Callable[[pl.DataFrame], pl.DataFrame] | None = None


def crawl_asset(name: str) -> str:
    """The asset key of a source's crawl, ``raw_<name>`` (``raw_timm``, ``raw_huggingface``, ...): what the CLI runs,
    the catalog assets depend on and each daily schedule selects."""
    return f"raw_{name}"
