"""Hand-made warehouse rows for the view, quality and search tests: a catalog row or a result row
with every contract column the test does not care about filled in."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pandas as pd

SEEN_AT = datetime(2026, 11, 1, tzinfo=UTC)


def model(model_id: str, **columns) -> dict:
    source, _, name = model_id.partition(":")
    return {
        "model_id": model_id,
        "source": source,
        "name": name,
        "first_seen_at": SEEN_AT,
        "last_seen_at": SEEN_AT,
        **columns,
    }


def result(model_id: str, origin: str = "computed", **columns) -> dict:
    return {"model_id": model_id, "origin": origin, "config_hash": "c1", **columns}


def insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    """Insert ``rows`` into ``table`` matching columns by name (missing columns stay NULL)."""
    frame = pd.DataFrame(rows)
    con.register("_rows", frame)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
    finally:
        con.unregister("_rows")
