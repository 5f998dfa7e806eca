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


def model_row(payload: dict) -> dict:
    """One catalog row (without seen-at times) from one raw local record."""
    config = payload["config"]
    record = config.get("sn_lake", {})
    pretrained = config.get("pretrained_cfg", {})
    dataset = record.get("dataset") or pretrained.get("dataset")
    input_size = pretrained.get("input_size") or [None]
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
        "num_classes": config.get("num_classes"),
        "input_size": input_size[-1],
        "library": "timm",
        "license": "mit" if record else None,
        "paper_id": None,
        "purpose": None,
        "weights_url": f"{Path(payload['path']).as_uri()}/{weights}" if weights else None,
        "reported_accuracy": record.get("metrics", {}).get("test_accuracy"),
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


def catalog_rows(raw: pl.DataFrame) -> pl.DataFrame:
    """Catalog rows for every local model of the latest crawl that saw it, plus first/last seen."""
    latest = lake.latest_records(raw)
    rows = pl.DataFrame([model_row(json.loads(p)) for p in latest["payload"]], schema=CATALOG_SCHEMA)
    return rows.with_columns(latest["first_seen_at"], latest["last_seen_at"])
