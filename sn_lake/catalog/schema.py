"""The polars schemas of ``catalog.models`` and ``catalog.quarantine``, derived from ``sql/schema/``: the DDL is
the one definition of a table.

Each source's builder names the columns it fills (:func:`models_schema`) and gets their types from the
``CREATE TABLE catalog.models`` statement and the ``ALTER TABLE catalog.models ADD COLUMN`` statements that later
files add, read in the order the warehouse applies them. A column added to the SQL is a column the builders can
name; a type changed there changes here. (This way round, not Python -> SQL: the warehouse, users' queries and the
views all read the DDL.)
"""

from __future__ import annotations

import functools
import re

import polars as pl

from sn_lake import warehouse

TABLE = "catalog.models"
# the columns every source of catalog.models fills (sql/schema/20_catalog.sql, up to weights_url); the seen-at times
# are numbers.SEEN_SCHEMA, added by the rows' builder where the source does not set them itself
CORE = (
    "model_id", "source", "name", "revision", "architecture", "model_type", "dataset", "data_category",
    "num_classes", "input_size", "library", "license", "paper_id", "purpose", "weights_url",
)  # fmt: skip
SEEN = ("first_seen_at", "last_seen_at")
# DuckDB type -> the polars type a frame bound for that column has
TYPES = {
    "VARCHAR": pl.String,
    "INTEGER": pl.Int32,
    "BIGINT": pl.Int64,
    "DOUBLE": pl.Float64,
    "BOOLEAN": pl.Boolean,
    "TIMESTAMPTZ": pl.Datetime("us", "UTC"),
    "VARCHAR[]": pl.List(pl.String),
}
_COMMENT = re.compile(r"--[^\n]*")
_COLUMN = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s+([A-Z]+(?:\[\])?)", re.MULTILINE)


def _create_body(text: str, table: str) -> str | None:
    """The column list of ``CREATE TABLE [IF NOT EXISTS] <table> ( ... );`` in ``text``, or None."""
    start = re.search(rf"CREATE TABLE (?:IF NOT EXISTS )?{re.escape(table)}\s*\(", text, re.IGNORECASE)
    if start is None:
        return None
    depth, i = 1, start.end()
    while depth and i < len(text):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        i += 1
    return text[start.end() : i - 1]


@functools.cache
def columns(table: str = TABLE) -> dict[str, str]:
    """``column -> DuckDB type`` of ``table`` as ``sql/schema/`` defines it (CREATE, then each ADD COLUMN)."""
    found: dict[str, str] = {}
    for path in warehouse.sql_files("schema"):
        text = _COMMENT.sub("", path.read_text(encoding="utf-8"))
        body = _create_body(text, table)
        if body is not None:
            found.update((name, kind) for name, kind in _COLUMN.findall(body) if name not in ("primary", "unique"))
        added = rf"ALTER TABLE {re.escape(table)} ADD COLUMN (?:IF NOT EXISTS )?([a-z_][a-z0-9_]*)\s+([A-Z]+(?:\[\])?)"
        found.update(re.findall(added, text, re.IGNORECASE))
    if not found:
        raise ValueError(
            f"Expected a CREATE TABLE {table} in sql/schema/, found none: check {warehouse.sql_files('schema')}"
        )
    return found


def table_schema(table: str) -> dict[str, pl.DataType]:
    """The polars schema of every column of ``table`` (``catalog.quarantine``, ...), as ``sql/schema/`` defines it."""
    return {name: TYPES[kind] for name, kind in columns(table).items()}


QUARANTINE_SCHEMA = table_schema("catalog.quarantine")  # every builder's refused values and rows go there


def models_schema(*names: str, **as_read: pl.DataType) -> dict[str, pl.DataType]:
    """The polars schema of the ``catalog.models`` columns ``names``, in that order, with the DDL's types; ``as_read``
    gives a column the type a builder reads it as before it casts it (Kaggle's dates: text, parsed afterwards)."""
    known = columns(TABLE)
    unknown = [n for n in (*names, *as_read) if n not in known]
    if unknown:
        raise ValueError(f"Expected columns of {TABLE}, found {unknown}: add them to sql/schema/ first")
    return {name: as_read.get(name, TYPES[known[name]]) for name in names}
