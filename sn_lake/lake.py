"""The lake: raw crawl records as Parquet files, and the crawl state that lets a crawl resume.

Layout under ``$SN_LAKE_HOME/lake``::

    raw/<source>/crawl_id=<id>/step-000001.parquet   one file per crawl step (a page, a batch)
    raw/<source>/crawl_id=<id>/_crawl.json           written when the crawl finished
    state/<source>.json                              cursor / high-water mark of the current crawl

Every file is written to a temporary name and renamed, so a crawl killed at any moment leaves
either a whole step or none of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from sn_lake.config import Settings

RAW_SCHEMA = {
    "source": pl.String,
    "crawl_id": pl.String,
    "step": pl.Int64,
    "native_id": pl.String,
    "fetched_at": pl.Datetime("us", "UTC"),
    "request_url": pl.String,
    "payload": pl.String,  # the record exactly as received, as JSON text
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_crawl_id() -> str:
    """A sortable, unique crawl id such as ``20261130T110203Z-3fa9c1``."""
    return f"{utcnow():%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def raw_dir(settings: Settings, source: str) -> Path:
    return settings.lake_dir / "raw" / source


def crawl_dir(settings: Settings, source: str, crawl_id: str) -> Path:
    return raw_dir(settings, source) / f"crawl_id={crawl_id}"


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (hex), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_write(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def write_raw(settings: Settings, source: str, crawl_id: str, step: int, records: Iterable[dict]) -> Path:
    """Append one crawl step's records (``native_id``, ``request_url``, ``payload``, ``fetched_at``)."""
    rows = [
        {
            "source": source,
            "crawl_id": crawl_id,
            "step": step,
            "native_id": r["native_id"],
            "fetched_at": r.get("fetched_at") or utcnow(),
            "request_url": r["request_url"],
            "payload": r["payload"] if isinstance(r["payload"], str) else json.dumps(r["payload"], sort_keys=True),
        }
        for r in records
    ]
    frame = pl.DataFrame(rows, schema=RAW_SCHEMA)
    path = crawl_dir(settings, source, crawl_id) / f"step-{step:06d}.parquet"
    _atomic_write(path, frame.write_parquet)
    return path


def raw_files(settings: Settings, source: str) -> list[Path]:
    return sorted(raw_dir(settings, source).glob("crawl_id=*/step-*.parquet"))


def iter_steps(
    settings: Settings, source: str, crawl_id: str | None = None, columns: list[str] | None = None
) -> Iterator[pl.DataFrame]:
    """The step files of one crawl (every crawl when ``crawl_id`` is None), one frame at a time in step order:
    a reader whose memory is one step, however large the crawl."""
    if crawl_id:
        files = sorted(crawl_dir(settings, source, crawl_id).glob("step-*.parquet"))
    else:
        files = raw_files(settings, source)
    for path in files:
        yield pl.read_parquet(path, columns=columns or list(RAW_SCHEMA), hive_partitioning=False)


def read_raw(settings: Settings, source: str) -> pl.DataFrame:
    """Every raw record a source has ever delivered (empty frame when it has none)."""
    files = raw_files(settings, source)
    if not files:
        return pl.DataFrame(schema=RAW_SCHEMA)
    return pl.read_parquet(files, hive_partitioning=False).select(list(RAW_SCHEMA))


def latest_records(raw: pl.DataFrame) -> pl.DataFrame:
    """One row per ``native_id``: its latest ``payload`` (by fetch time, then crawl id) and when it
    was first and last seen, sorted by ``native_id``. Every source's catalog starts from this."""
    return (
        raw.sort("fetched_at", "crawl_id")
        .group_by("native_id")
        .agg(
            pl.col("payload").last(),
            pl.col("fetched_at").min().alias("first_seen_at"),
            pl.col("fetched_at").max().alias("last_seen_at"),
        )
        .sort("native_id")
    )


def finish_crawl(settings: Settings, source: str, crawl_id: str, summary: dict) -> Path:
    """Mark a crawl complete with its summary (records, steps, requests, timing)."""
    path = crawl_dir(settings, source, crawl_id) / "_crawl.json"
    body = json.dumps({"source": source, "crawl_id": crawl_id, "finished_at": utcnow().isoformat(), **summary}, indent=2)
    _atomic_write(path, lambda tmp: tmp.write_text(body))
    return path


def finished_crawls(settings: Settings, source: str) -> list[dict]:
    """Summaries of the source's finished crawls, oldest first."""
    return [json.loads(p.read_text()) for p in sorted(raw_dir(settings, source).glob("crawl_id=*/_crawl.json"))]


def sources(settings: Settings) -> list[str]:
    root = settings.lake_dir / "raw"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []


def state_path(settings: Settings, source: str) -> Path:
    return settings.lake_dir / "state" / f"{source}.json"


def load_state(settings: Settings, source: str) -> dict:
    path = state_path(settings, source)
    return json.loads(path.read_text()) if path.exists() else {}


def save_state(settings: Settings, source: str, state: dict) -> None:
    body = json.dumps(state, indent=2, sort_keys=True, default=str)
    _atomic_write(state_path(settings, source), lambda tmp: tmp.write_text(body))


def summary(settings: Settings) -> list[dict]:
    """Per source: raw records, distinct models, finished crawls and the last one."""
    rows = []
    for source in sources(settings):
        raw = read_raw(settings, source)
        crawls = finished_crawls(settings, source)
        last = crawls[-1] if crawls else {}
        rows.append(
            {
                "source": source,
                "raw_records": raw.height,
                "models": raw["native_id"].n_unique(),
                "crawls": len(crawls),
                "last_crawl_id": last.get("crawl_id"),
                "last_crawl_finished_at": last.get("finished_at"),
            }
        )
    return rows
