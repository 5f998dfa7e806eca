"""The zoo's model folders -> ``lake/raw/local/``: one record per folder, one step per crawl."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sn_lake import lake
from sn_lake.config import Settings
from sn_lake.lake import zoo_root
from sn_lake.sources.local import SOURCE

WEIGHTS = ("model.safetensors", "pytorch_model.bin", "model.pth", "model.ckpt")


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
    summary = {
        "records": len(records),
        "steps": 1 if records else 0,
        "root": str(root),
        "seconds": round(time.monotonic() - started, 3),
    }
    if records:
        lake.finish_crawl(settings, SOURCE, crawl_id, summary)
    return {"crawl_id": crawl_id, **summary}
