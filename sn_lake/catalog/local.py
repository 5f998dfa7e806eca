"""The zoo's raw records -> ``catalog.models`` rows ``local:<folder name>``, through the annotation rules."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from sn_lake import lake
from sn_lake.annotate import numbers
from sn_lake.annotate.architectures import model_family
from sn_lake.annotate.datasets import data_category
from sn_lake.catalog.contract import CatalogPart
from sn_lake.catalog.schema import CORE, models_schema
from sn_lake.sources.local import SOURCE


def model_row(payload: dict, problems: list[numbers.Problem] | None = None) -> dict:
    """One catalog row (without seen-at times) from one raw local record; counts and the test accuracy pass their
    rules (:mod:`sn_lake.annotate.numbers`), and a refused value's problem is appended to ``problems``."""
    config = payload["config"]
    record = config.get("sn_lake", {})
    pretrained = config.get("pretrained_cfg", {})
    dataset = record.get("dataset") or pretrained.get("dataset")
    sizes = pretrained.get("input_size")
    sizes = sizes if isinstance(sizes, (list, tuple)) else [sizes]
    input_size, bad_size = numbers.whole_number("input_size", sizes[-1] if sizes else None)
    num_classes, bad_classes = numbers.whole_number("num_classes", config.get("num_classes"), zero_is_none=True)
    test_accuracy = record.get("metrics", {}).get("test_accuracy")
    accuracy, bad_accuracy = numbers.accuracy(test_accuracy, where="config.json sn_lake.metrics.test_accuracy")
    if problems is not None:
        problems.extend(p for p in (bad_classes, bad_size, bad_accuracy) if p)
    weights = payload.get("weights_file")
    return {
        "model_id": f"{SOURCE}:{payload['name']}",
        "source": SOURCE,
        "name": payload["name"],
        "revision": payload.get("weights_sha256_12"),
        "architecture": config.get("architecture"),
        "model_type": model_family(config.get("architecture")),
        "dataset": dataset,
        "data_category": data_category(dataset),
        "num_classes": num_classes,
        "input_size": input_size,
        "library": "timm",
        "license": "mit" if record else None,
        "paper_id": None,
        "purpose": None,
        "weights_url": f"{Path(payload['path']).as_uri()}/{weights}" if weights else None,
        "reported_accuracy": accuracy,
        "has_safetensors": weights == "model.safetensors",
        "known_backdoor": bool(record.get("backdoor")),
    }


# the columns it fills; their types come from sql/schema/ (sn_lake.catalog.schema)
CATALOG_SCHEMA = models_schema(*CORE, "reported_accuracy", "has_safetensors", "known_backdoor")


def catalog_rows(raw: pl.DataFrame, issues: list[dict] | None = None) -> pl.DataFrame:
    """Catalog rows for every local model of the latest crawl that saw it, plus first/last seen; what a rule
    refused, and records no row can be made of, go to ``issues`` (``numbers.rows_from_records``)."""
    return numbers.rows_from_records(lake.latest_records(raw), model_row, CATALOG_SCHEMA, SOURCE, issues)


def to_catalog(con: duckdb.DuckDBPyConnection, raw: pl.DataFrame, issues: list[dict]) -> CatalogPart:
    """The source contract (``sn_lake.catalog.contract``): the zoo's catalog rows."""
    return CatalogPart(catalog_rows(raw, issues))
