"""Hugging Face records -> typed values (pure functions): which records are cards, the card URL's sha, the Hub's
dates, and the version history of every listed model.

A crawl writes two kinds of record under ``raw/huggingface/``: listing objects (``GET /api/models`` pages) and model
cards (``/<repo>/resolve/<sha>/README.md``). They are told apart by the request URL, here only.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import quote

import polars as pl

from sn_lake.sources.huggingface import SOURCE

HUB_FLOOR_DATE = "2022-03-02T23:29:04"  # the createdAt the Hub gives repos older than its tracking
CARD_MARK = "/resolve/"  # in a card's request URL, never in a listing page's


def card_url(endpoint: str, repo_id: str, sha: str) -> str:
    return f"{endpoint}/{quote(repo_id, safe='/')}{CARD_MARK}{sha}/README.md"


def card_sha(url: str) -> str:
    """The sha a card's request URL asked for."""
    return url.split(CARD_MARK, 1)[1].split("/", 1)[0]


# whether a record is a model card (else a listing page): the one test, used by the crawl, the cards and the catalog
IS_CARD = pl.col("request_url").str.contains(CARD_MARK, literal=True)


def split_records(raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The listing records and the card records of ``raw``."""
    return raw.filter(~IS_CARD), raw.filter(IS_CARD)


def timestamp(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def created_at(value: Any) -> datetime | None:
    """The Hub's ``createdAt``, or None when it is the 2022-03-02T23:29:04 floor date (not a real creation date)."""
    if isinstance(value, str) and value.startswith(HUB_FLOOR_DATE):
        return None
    return timestamp(value)


def has_safetensors(model: dict) -> bool:
    if model.get("safetensors"):
        return True
    siblings = model.get("siblings") if isinstance(model.get("siblings"), list) else []
    return any(isinstance(s, dict) and str(s.get("rfilename", "")).endswith(".safetensors") for s in siblings)


def history_rows(raw: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """``catalog.model_versions`` (a row per (model, sha), when first seen) and ``catalog.model_stats`` (a row per
    crawl)."""
    listings, _ = split_records(raw)
    parsed = listings.select(
        (pl.lit(f"{SOURCE}:") + pl.col("native_id")).alias("model_id"),
        "crawl_id",
        "fetched_at",
        pl.col("payload").str.json_path_match("$.sha").alias("revision"),
        pl.col("payload").str.json_path_match("$.lastModified").alias("last_modified"),
        pl.col("payload").str.json_path_match("$.downloads").cast(pl.Int64, strict=False).alias("downloads"),
        pl.col("payload").str.json_path_match("$.likes").cast(pl.Int64, strict=False).alias("likes"),
    ).with_columns(pl.col("last_modified").str.to_datetime(time_zone="UTC", strict=False))
    versions = (
        parsed.filter(pl.col("revision").is_not_null())
        .group_by("model_id", "revision")
        .agg(pl.col("fetched_at").min().alias("first_seen_at"), pl.col("last_modified").max())
        .sort("model_id", "first_seen_at")
    )
    stats = (
        parsed.sort("fetched_at")
        .group_by("model_id", "crawl_id")
        .agg(pl.col("fetched_at").min().alias("observed_at"), pl.col("downloads").last(), pl.col("likes").last())
        .sort("model_id", "observed_at")
    )
    return {"catalog.model_versions": versions, "catalog.model_stats": stats}


def json_value(text: str | None) -> Any:
    """A ``json_path_match`` result: JSON text for a list or an object, the bare value for a string."""
    if text is None or not text.startswith(("[", "{")):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text
