"""Local models: Hub-format folders under ``$SN_LAKE_HOME/zoo/`` (the demo zoo), as catalog source ``local``.

A crawl reads each folder's ``config.json`` and model card into one raw record (no network); the
catalog row is ``local:<folder name>`` with ``known_backdoor`` from the training record the zoo
writes into ``config.json`` (``sn_lake.backdoor``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import polars as pl

from sn_lake import lake
from sn_lake.annotate import numbers
from sn_lake.annotate.architectures import model_family
from sn_lake.annotate.datasets import data_category
from sn_lake.config import Settings

SOURCE = "local"
WEIGHTS = ("model.safetensors", "pytorch_model.bin", "model.pth", "model.ckpt")


def zoo_root(settings: Settings) -> Path:
    return settings.home / "zoo"


def _weights_digest(folder: Path) -> tuple[str | None, str | None]:
    for name in WEIGHTS:
        path = folder / name
        if path.is_file():
            return name, lake.file_sha256(path)[:12]
    return None, None


def crawl(settings: Settings) -> dict:
    """Snapshot every model folder under ``$SN_LAKE_HOME/zoo`` into ``lake/raw/local/``."""
    started = time.monotonic()
    root = zoo_root(settings)
    folders = sorted(p.parent for p in root.glob("*/config.json")) if root.exists() else []
    crawl_id = lake.new_crawl_id()
    records = []
    for folder in folders:
        weights, digest = _weights_digest(folder)
        card = folder / "README.md"
        payload = {
            "name": folder.name,
            "config": json.loads((folder / "config.json").read_text()),
            "card": card.read_text() if card.is_file() else None,
            "weights_file": weights,
            "weights_sha256_12": digest,
            "path": str(folder),
        }
        records.append({"native_id": folder.name, "request_url": folder.as_uri(), "payload": payload})
    if records:
        lake.write_raw(settings, SOURCE, crawl_id, 1, records)
    summary = {"records": len(records), "steps": 1 if records else 0, "root": str(root), "seconds": round(time.monotonic() - started, 3)}
    if records:
        lake.finish_crawl(settings, SOURCE, crawl_id, summary)
    return {"crawl_id": crawl_id, **summary}


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


CATALOG_SCHEMA = {
    "model_id": pl.String, "source": pl.String, "name": pl.String, "revision": pl.String,
    "architecture": pl.String, "model_type": pl.String, "dataset": pl.String, "data_category": pl.String,
    "num_classes": pl.Int32, "input_size": pl.Int32, "library": pl.String, "license": pl.String,
    "paper_id": pl.String, "purpose": pl.String, "weights_url": pl.String, "reported_accuracy": pl.Float64,
    "has_safetensors": pl.Boolean, "known_backdoor": pl.Boolean,
}  # fmt: skip


def catalog_rows(raw: pl.DataFrame, issues: list[dict] | None = None) -> pl.DataFrame:
    """Catalog rows for every local model of the latest crawl that saw it, plus first/last seen; what a rule
    refused, and records no row can be made of, go to ``issues`` (``numbers.rows_from_records``)."""
    return numbers.rows_from_records(lake.latest_records(raw), model_row, CATALOG_SCHEMA, SOURCE, issues)
