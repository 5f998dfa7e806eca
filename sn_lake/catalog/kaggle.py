"""Kaggle's raw records -> ``catalog.models`` rows (one per framework variation), through the annotation rules."""

from __future__ import annotations

import duckdb
import polars as pl

from sn_lake import lake
from sn_lake.annotate import numbers
from sn_lake.annotate.architectures import model_family
from sn_lake.annotate.datasets import canonical_dataset, data_category
from sn_lake.annotate.papers import arxiv_ids
from sn_lake.catalog.contract import CatalogPart
from sn_lake.catalog.schema import CORE, models_schema
from sn_lake.kaggle_client import framework_handle
from sn_lake.sources.kaggle import SOURCE
from sn_lake.sources.kaggle.parse import WEB_URL, license_name, native_id

# the columns it fills; their types come from sql/schema/ (sn_lake.catalog.schema); the dates are read as text
# and parsed after the rows are built
CATALOG_SCHEMA = models_schema(
    *CORE, "created_at", "last_modified", "likes", created_at=pl.String, last_modified=pl.String
)


def model_row(payload: dict, problems: list[numbers.Problem] | None = None) -> dict:
    """One catalog row (without the seen-at times) from one raw Kaggle record; ``likes`` (the vote count)
    passes its range rule, and a refused value's problem is appended to ``problems``."""
    model, instance = payload["model"], payload["instance"]
    likes, bad_likes = numbers.whole_number("likes", model.get("voteCount"))
    if bad_likes and problems is not None:
        problems.append(bad_likes)
    handle = native_id(payload["owner"], payload["model_slug"], instance)
    datasets = [d for d in (canonical_dataset(t) for t in instance.get("trainingData") or []) if d]
    dataset = datasets[-1] if datasets else None  # the last one named is what it was fine-tuned on
    papers = arxiv_ids(" ".join([model.get("description") or "", instance.get("overview") or ""]))
    return {
        "model_id": f"{SOURCE}:{handle}",
        "source": SOURCE,
        "name": handle,
        "revision": str(instance["versionNumber"]) if instance.get("versionNumber") else None,
        "architecture": payload["model_slug"],
        "model_type": model_family(payload["model_slug"]),
        "dataset": dataset,
        "data_category": data_category(dataset),
        "num_classes": None,
        "input_size": None,
        "library": framework_handle(instance.get("framework")),
        "license": license_name(instance, model),
        "paper_id": papers[0] if papers else None,
        "purpose": None,
        "weights_url": f"{WEB_URL}/{handle}",
        "created_at": model.get("publishTime"),
        "last_modified": model.get("updateTime"),
        "likes": likes,
    }


def catalog_rows(raw: pl.DataFrame, issues: list[dict] | None = None) -> pl.DataFrame:
    """Catalog rows for every Kaggle variation in the raw records: its latest record plus first/last seen.

    A record no row can be made of, and every value a rule refused, goes to ``issues`` as a quarantine entry
    (:func:`sn_lake.annotate.numbers.rows_from_records`).
    """
    rows = numbers.rows_from_records(lake.latest_records(raw), model_row, CATALOG_SCHEMA, SOURCE, issues)
    return rows.with_columns(
        pl.col("created_at").str.to_datetime(time_zone="UTC", strict=False),
        pl.col("last_modified").str.to_datetime(time_zone="UTC", strict=False),
    )


def to_catalog(con: duckdb.DuckDBPyConnection, raw: pl.DataFrame, issues: list[dict]) -> CatalogPart:
    """The source contract (``sn_lake.catalog.contract``): the Kaggle variations' catalog rows."""
    return CatalogPart(catalog_rows(raw, issues))
