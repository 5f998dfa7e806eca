"""timm's pretrained registry -> ``lake/raw/timm/``: one record per weight config, one step per crawl."""

from __future__ import annotations

import time

from sn_lake import lake
from sn_lake.config import Settings
from sn_lake.sources.timm_registry import SOURCE


def _registry() -> tuple[str, dict[str, dict]]:
    import timm  # imported here: it pulls in torch, which a catalog rebuild does not need

    configs = {name: timm.models.get_pretrained_cfg(name).to_dict() for name in timm.list_pretrained()}
    return timm.__version__, configs


def crawl(settings: Settings) -> dict:
    """Snapshot timm's pretrained registry into ``lake/raw/timm/``; returns the crawl summary."""
    started = time.monotonic()
    version, configs = _registry()
    crawl_id = lake.new_crawl_id()
    fetched_at = lake.utcnow()
    records = [
        {
            "native_id": name,
            "request_url": f"python:timm=={version}#pretrained_cfg={name}",
            "fetched_at": fetched_at,
            "payload": {"name": name, "timm_version": version, "pretrained_cfg": cfg},
        }
        for name, cfg in configs.items()
    ]
    lake.write_raw(settings, SOURCE, crawl_id, 1, records)
    summary = {
        "records": len(records),
        "steps": 1,
        "timm_version": version,
        "seconds": round(time.monotonic() - started, 3),
    }
    lake.finish_crawl(settings, SOURCE, crawl_id, summary)
    return {"crawl_id": crawl_id, **summary}
