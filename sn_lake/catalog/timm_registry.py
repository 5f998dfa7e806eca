"""timm's registry records -> ``catalog.models`` rows ``timm:<name>``, through the annotation rules."""

from __future__ import annotations

import duckdb
import polars as pl

from sn_lake import lake
from sn_lake.annotate import numbers
from sn_lake.annotate.architectures import model_family
from sn_lake.annotate.datasets import data_category, dataset_from_timm_tag
from sn_lake.annotate.papers import arxiv_ids
from sn_lake.annotate.purpose import model_purpose
from sn_lake.catalog.contract import CatalogPart
from sn_lake.catalog.schema import CORE, models_schema
from sn_lake.config import PUBLIC_HF_ENDPOINT
from sn_lake.sources.timm_registry import SOURCE

# tag components that mark adversarially trained weights (e.g. `inception_v3.tf_adv_in1k`)
SECURITY_TAGS = {"adv"}


def purpose(tag: str | None) -> str:
    """Registry entries are standard releases of an architecture (``benchmark``), except adversarially trained ones."""
    if SECURITY_TAGS & set((tag or "").lower().split("_")):
        return "security"
    return model_purpose(standard_release=True)


def model_row(payload: dict, problems: list[numbers.Problem] | None = None) -> dict:
    """One catalog row (without the seen-at times) from one raw timm record; ``num_classes`` and ``input_size``
    pass their range rules, and a refused value's problem is appended to ``problems``."""
    cfg = payload["pretrained_cfg"]
    name = payload["name"]
    architecture = cfg.get("architecture") or name.split(".")[0]
    dataset = dataset_from_timm_tag(cfg.get("tag"))
    hub_id = cfg.get("hf_hub_id")
    papers = arxiv_ids(cfg.get("paper_ids"))
    sizes = cfg.get("input_size") if isinstance(cfg.get("input_size"), (list, tuple)) else [cfg.get("input_size")]
    input_size, bad_size = numbers.whole_number("input_size", sizes[-1] if sizes else None)
    # a num_classes of 0 means "no classifier head": NULL without a problem
    num_classes, bad_classes = numbers.whole_number("num_classes", cfg.get("num_classes"), zero_is_none=True)
    if problems is not None:
        problems.extend(p for p in (bad_classes, bad_size) if p)
    return {
        "model_id": f"{SOURCE}:{name}",
        "source": SOURCE,
        "name": name,
        "revision": f"timm=={payload['timm_version']}",
        "architecture": architecture,
        "model_type": model_family(architecture),
        "dataset": dataset,
        "data_category": data_category(dataset),
        "num_classes": num_classes,
        "input_size": input_size,
        "library": "timm",
        "license": cfg.get("license") if cfg.get("license") not in (None, "unknown") else None,
        "paper_id": papers[0] if papers else None,
        "purpose": purpose(cfg.get("tag")),
        "weights_url": f"{PUBLIC_HF_ENDPOINT}/{hub_id}" if hub_id else (cfg.get("url") or None),
    }


# the columns it fills; their types come from sql/schema/ (sn_lake.catalog.schema)
CATALOG_SCHEMA = models_schema(*CORE)


def catalog_rows(raw: pl.DataFrame, issues: list[dict] | None = None) -> pl.DataFrame:
    """Catalog rows for every model in the raw records: its latest record plus first/last seen; what a rule
    refused, and records no row can be made of, go to ``issues`` (``numbers.rows_from_records``)."""
    return numbers.rows_from_records(lake.latest_records(raw), model_row, CATALOG_SCHEMA, SOURCE, issues)


def to_catalog(con: duckdb.DuckDBPyConnection, raw: pl.DataFrame, issues: list[dict]) -> CatalogPart:
    """The source contract (``sn_lake.catalog.contract``): the registry's catalog rows."""
    return CatalogPart(catalog_rows(raw, issues))
