"""The current snapshot of a folder-shaped source (RobustBench's records, timm's result tables).

Such a crawl writes one raw record per file and, once every file is in, a manifest record. The current snapshot
is the newest crawl that has its manifest: a file dropped upstream leaves the catalog with the next complete crawl,
and a crawl killed half-way never hides files. When no crawl is complete yet, the latest record of each file is used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from sn_lake import lake


@dataclass
class Snapshot:
    """The payloads of the current snapshot by native id, when each was fetched, and when each was first/last seen."""

    payloads: dict[str, dict]
    fetched_at: dict[str, Any]
    first_seen: dict[str, Any]
    last_seen: dict[str, Any]
    crawl_id: str | None  # None: no complete crawl yet, the latest record of each file


def current(raw: pl.DataFrame, manifest: str = "_manifest") -> Snapshot:
    """The current snapshot of ``raw`` (one source's raw records; see the module docstring)."""
    files = raw.filter(pl.col("native_id") != manifest)
    complete = raw.filter(pl.col("native_id") == manifest).sort("fetched_at", "crawl_id")
    crawl_id = complete["crawl_id"][-1] if complete.height else None
    chosen = files.filter(pl.col("crawl_id") == crawl_id) if crawl_id else files
    seen = lake.latest_records(files)  # first and last seen over every crawl
    latest = lake.latest_records(chosen).join(
        chosen.group_by("native_id").agg(pl.col("fetched_at").max().alias("fetched_at")), on="native_id"
    )
    return Snapshot(
        payloads={n: json.loads(p) for n, p in zip(latest["native_id"], latest["payload"], strict=True)},
        fetched_at=dict(zip(latest["native_id"], latest["fetched_at"], strict=True)),
        first_seen=dict(zip(seen["native_id"], seen["first_seen_at"], strict=True)),
        last_seen=dict(zip(seen["native_id"], seen["last_seen_at"], strict=True)),
        crawl_id=crawl_id,
    )
