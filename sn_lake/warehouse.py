"""The DuckDB warehouse: connections, applying ``sql/``, and writing frames.

One process writes the file at a time (Dagster's ``duckdb_write`` pool, limit 1); readers such as
``sn-lake sql`` open it read-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import polars as pl

from sn_lake.config import SQL_DIR, Settings


class WarehouseError(RuntimeError):
    """The warehouse could not be opened or refused a statement."""


def connect(settings: Settings, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open ``$SN_LAKE_HOME/warehouse.duckdb``; read-write connections create it and its schemas."""
    path = settings.warehouse_path
    if read_only and not path.exists():
        raise WarehouseError(f"Expected a warehouse at {path}, found none: run `sn-lake run` first or set SN_LAKE_HOME.")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        raise WarehouseError(
            f"Could not open {path} {'read-only' if read_only else 'for writing'} ({exc}); "
            "another process is probably writing it: wait for that run to finish."
        ) from exc
    if read_only:
        # Nothing reached through this connection may change the warehouse or the configuration.
        con.execute("SET lock_configuration = true")
    else:
        apply_sql(con, "schema")
    return con


def sql_files(kind: str) -> list[Path]:
    """The ``.sql`` files of ``sql/<kind>/`` in the order they are applied (by file name)."""
    return sorted((SQL_DIR / kind).glob("*.sql"))


def apply_sql(con: duckdb.DuckDBPyConnection, kind: str) -> list[str]:
    """Run every file of ``sql/<kind>/`` (``schema`` or ``views``); each must be idempotent."""
    applied = []
    for path in sql_files(kind):
        con.execute(path.read_text())
        applied.append(path.stem)
    return applied


def replace_rows(
    con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, where: str, params: Sequence = ()
) -> int:
    """Atomically replace the rows of ``table`` matching ``where`` with ``frame`` (columns matched by name)."""
    con.execute("BEGIN")
    try:
        con.execute(f"DELETE FROM {table} WHERE {where}", list(params))
        con.register("_incoming", frame.to_arrow())
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _incoming")
        con.unregister("_incoming")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return frame.height


def query(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence = ()) -> tuple[list[str], list[tuple]]:
    """Run one query and return its column names and rows."""
    cursor = con.execute(sql, list(params))
    if cursor.description is None:
        return [], []
    return [d[0] for d in cursor.description], cursor.fetchall()
