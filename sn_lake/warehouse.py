"""The DuckDB warehouse: connections, applying ``sql/``, and writing frames.

One process writes the file at a time (Dagster's ``duckdb_write`` pool, limit 1); readers such as
``sn-lake sql`` open it read-only.

``SN_LAKE_PROFILE`` picks the backend behind :func:`connect`: ``embedded`` (default) opens
``$SN_LAKE_HOME/warehouse.duckdb``; ``distributed`` attaches a DuckLake catalog kept in PostgreSQL
(``SN_LAKE_DUCKLAKE_CATALOG``) whose Parquet data files live under the lake (or S3), so several
workers can write at once. The same ``sql/`` applies to both: DuckLake has no PRIMARY KEY/UNIQUE
constraints and no macros, so on DuckLake the constraints are left out (the quality checks guard
uniqueness) and the macros of ``sql/views/`` are created in this connection's in-memory catalog.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import polars as pl

from sn_lake.config import SQL_DIR, Settings, redact

# The name a DuckLake warehouse is attached under; `USE`d, so queries name schemas only (catalog.models).
DUCKLAKE_ALIAS = "warehouse"


class WarehouseError(RuntimeError):
    """The warehouse could not be opened or refused a statement."""


class WarehouseLocked(WarehouseError):
    """Another process holds the DuckDB file's lock (a writer, or readers while this one wants to write)."""


class WarehouseCorrupt(WarehouseError):
    """The warehouse file is not a DuckDB database DuckDB can read (truncated, overwritten, not DuckDB at all)."""


class QueryRefused(WarehouseError):
    """A query for :func:`read_query` that is not exactly one read statement."""


# Settings of a connection that answers users' queries (`sn-lake sql`, search): no files, URLs or extensions
# besides the warehouse itself, and nothing a statement can switch back on.
QUERY_CONFIG = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
}
# What DuckDB says when a file is not one of its databases, or is cut short (duckdb 1.4).
_CORRUPT_MARKERS = (
    "not a valid DuckDB database file",
    "Could not read enough bytes",
    "Corrupt database file",
    "Checksum mismatch",
    "Failed to read database header",
    "database file with version number",
)


def connect(settings: Settings, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse of ``settings.profile``; read-write connections create it and its schemas.

    A read-write connection waits up to ``settings.write_wait_s`` seconds for other processes' connections
    (a notebook, a long ``sn-lake sql``) to close, saying so on stderr once; a read-only one fails at once
    while a writer holds the file (:func:`read_when_free` waits instead).
    """
    if settings.profile == "distributed":
        return _connect_ducklake(settings, read_only)
    con = _open_file(settings, read_only)
    if read_only:
        # Nothing reached through this connection may change the warehouse or the configuration.
        con.execute("SET lock_configuration = true")
    else:
        apply_sql(con, "schema")
    return con


def connect_for_queries(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A read-only connection for users' queries: external access, extension autoload and autoinstall off, and
    the configuration locked, so no statement reads or writes a file other than the warehouse (COPY, EXPORT,
    ATTACH, read_csv/read_text/read_parquet of a path, INSTALL/LOAD) or changes a setting.

    On the DuckLake profile external access is turned off after the catalog is attached, with only the
    warehouse's data path allowed (DuckLake reads its Parquet data files through it).
    """
    if settings.profile == "distributed":
        return _connect_ducklake(settings, read_only=True, for_queries=True)
    return _open_file(settings, read_only=True, extra_config={**QUERY_CONFIG, "lock_configuration": True})


def read_query(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple]]:
    """Run ``sql`` when DuckDB's parser finds exactly one statement and it is a read (a SELECT, which includes
    WITH, FROM-first, VALUES, DESCRIBE, SHOW, SUMMARIZE and PRAGMAs that only report); else :class:`QueryRefused`.
    """
    statements = duckdb.extract_statements(sql)  # a ParserException for text that is not SQL
    if len(statements) != 1:
        kinds = ", ".join(s.type.name for s in statements) or "none"
        raise QueryRefused(
            f"Expected exactly one SQL statement, found {len(statements)} ({kinds}): run one read-only SELECT per call."
        )
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise QueryRefused(
            f"Expected a read-only query (SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE), found a "
            f"statement of type {kind.name}: the warehouse is opened read-only for queries "
            "(to write files: `sn-lake export DIR`)."
        )
    return query(con, sql)


def _open_file(settings: Settings, read_only: bool, extra_config: dict | None = None) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file; a writer waits up to ``settings.write_wait_s`` s for other connections to close."""
    path = settings.warehouse_path
    if read_only and not path.exists():
        raise WarehouseError(
            f"Expected a warehouse at {path}, found none: run `sn-lake run` first or set SN_LAKE_HOME."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline, said = time.monotonic() + max(0.0, settings.write_wait_s), False
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=extra_config or {})
        except duckdb.Error as exc:
            error = _open_error(path, read_only, exc, settings.write_wait_s)
            if read_only or not isinstance(error, WarehouseLocked) or time.monotonic() >= deadline:
                raise error from exc
            if not said:
                print(
                    f"sn-lake: waiting up to {settings.write_wait_s:.0f} s (SN_LAKE_WRITE_WAIT_S) for {path} to be "
                    f"free: {_holder(exc)} has it open; close that connection (a notebook, `sn-lake sql`) to go on.",
                    file=sys.stderr,
                    flush=True,
                )
                said = True
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))


def _holder(exc: Exception) -> str:
    match = re.search(r"held in (.*?) \(PID (\d+)\)", str(exc))
    return f"process {match.group(2)} ({match.group(1)})" if match else "another process"


def _open_error(path: Path, read_only: bool, exc: Exception, write_wait_s: float) -> WarehouseError:
    """What failed when opening ``path``: another process's lock, a corrupt file, or something else."""
    said = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "Could not set lock" in said or "Conflicting lock" in said:
        if read_only:
            return WarehouseLocked(
                f"Could not open {path} read-only: {_holder(exc)} is writing it (another process "
                "holds the write lock): wait for that run to finish and try again."
            )
        return WarehouseLocked(
            f"Could not open {path} for writing within {write_wait_s:.0f} s: {_holder(exc)} still "
            "has it open (another process): close it, or raise SN_LAKE_WRITE_WAIT_S, and run again."
        )
    if any(marker in said for marker in _CORRUPT_MARKERS):
        return WarehouseCorrupt(
            f"Expected a DuckDB database at {path}, found a corrupt file ({said}): move it aside "
            f"(mv {path} {path}.corrupt) and run `sn-lake run`, which rebuilds the warehouse from "
            "the lake."
        )
    return WarehouseError(
        f"Could not open {path} {'read-only' if read_only else 'for writing'} ({said}); "
        "check the file's permissions and the disk, then run again."
    )


def sql_files(kind: str) -> list[Path]:
    """The ``.sql`` files of ``sql/<kind>/`` in the order they are applied (by file name)."""
    return sorted((SQL_DIR / kind).glob("*.sql"))


def apply_sql(con: duckdb.DuckDBPyConnection, kind: str) -> list[str]:
    """Run every file of ``sql/<kind>/`` (``schema`` or ``views``); each must be idempotent."""
    on_ducklake = is_ducklake(con)
    applied = []
    for path in sql_files(kind):
        text = path.read_text()
        if on_ducklake:
            # macros were created in memory by _connect_ducklake; DuckLake stores no constraints
            text = ";\n".join(_without_key_constraints(s) for s in _statements(text) if not _creates_macro(s))
        if text.strip():
            con.execute(text)
        applied.append(path.stem)
    return applied


def exists(settings: Settings) -> bool:
    """Whether the warehouse has been created (the file, or the DuckLake catalog's metadata schema)."""
    if settings.profile != "distributed":
        return settings.warehouse_path.exists()
    try:
        con = _connect_ducklake(settings, read_only=True)
    except WarehouseError:
        return False
    con.close()
    return True


def is_ducklake(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``con`` works on a DuckLake warehouse (attached by :func:`connect`)."""
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_databases() WHERE database_name = ? AND type = 'ducklake'", [DUCKLAKE_ALIAS]
        ).fetchone()[0]
    )


def _statements(text: str) -> list[str]:
    return [statement.query for statement in duckdb.extract_statements(text)]


def _creates_macro(statement: str) -> bool:
    return (
        re.match(r"\s*CREATE\s+(OR\s+REPLACE\s+)?(TEMP\w*\s+)?MACRO\b", _without_comments(statement), re.I) is not None
    )


def _without_comments(statement: str) -> str:
    return re.sub(r"--[^\n]*", "", statement)


def _without_key_constraints(statement: str) -> str:
    """``statement`` without PRIMARY KEY / UNIQUE constraints, which DuckLake cannot store (CREATE TABLE only)."""
    if not re.match(r"\s*CREATE\s+(OR\s+REPLACE\s+)?TABLE\b", _without_comments(statement), re.I):
        return statement
    statement = _without_comments(statement)
    statement = re.sub(r",\s*(PRIMARY\s+KEY|UNIQUE)\s*\([^)]*\)", "", statement, flags=re.I)
    return re.sub(r"\s+(PRIMARY\s+KEY|UNIQUE)\b", "", statement, flags=re.I)


def _extension_dir() -> Path:
    """Where the ``duckdb-ext-*`` pip packages put the extensions for the installed DuckDB."""
    import duckdb_ext  # a namespace package shared by duckdb-ext-ducklake, -postgres and -httpfs

    platform = duckdb.execute("PRAGMA platform").fetchone()[0]
    return Path(list(duckdb_ext.__path__)[0]) / "extensions" / f"v{duckdb.__version__}" / platform


def _connect_ducklake(settings: Settings, read_only: bool, for_queries: bool = False) -> duckdb.DuckDBPyConnection:
    """Attach the DuckLake warehouse (catalog in PostgreSQL, data under the lake or on S3) and ``USE`` it.

    ``for_queries``: then turn external access off, allowing only the data path (:func:`connect_for_queries`).
    """
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    extensions = ["postgres_scanner", "ducklake"]
    if "://" in settings.warehouse_data_path:
        extensions.append("httpfs")  # s3://, https:// data paths
    for name in extensions:
        path = _extension_dir() / f"{name}.duckdb_extension"
        if not path.exists():
            con.close()
            raise WarehouseError(
                f"Expected the DuckDB extension {name} at {path}, found none: "
                "install the pinned duckdb-ext-* packages (make setup)."
            )
        con.execute(f"LOAD '{path}'")
    data_path = settings.warehouse_data_path
    if "://" not in data_path:
        Path(data_path).mkdir(parents=True, exist_ok=True)
    elif data_path.startswith("s3://"):
        try:
            _s3_secret_from_environment(con)
        except WarehouseError:
            con.close()
            raise
    options = f"DATA_PATH '{_quoted(data_path)}', METADATA_SCHEMA '{_quoted(settings.ducklake_metadata_schema)}'"
    if read_only:
        options += ", READ_ONLY"
    try:
        con.execute(f"ATTACH 'ducklake:{_quoted(settings.ducklake_catalog)}' AS {DUCKLAKE_ALIAS} ({options})")
        if (
            read_only
            and not con.execute(
                "SELECT count(*) FROM duckdb_schemas() WHERE database_name = ? AND schema_name = 'catalog'",
                [DUCKLAKE_ALIAS],
            ).fetchone()[0]
        ):
            raise WarehouseError(
                "Expected a DuckLake warehouse in metadata schema "
                f"{settings.ducklake_metadata_schema!r}, found it empty: "
                "run `sn-lake run` first or set SN_LAKE_DUCKLAKE_SCHEMA."
            )
    except duckdb.Error as exc:
        con.close()
        raise WarehouseError(
            f"Could not attach the DuckLake warehouse (catalog {redact(settings.ducklake_catalog)!r}, metadata schema "
            f"{settings.ducklake_metadata_schema!r}, data {data_path}) ({redact(str(exc))}); check that PostgreSQL is "
            "reachable and SN_LAKE_DUCKLAKE_CATALOG is right."
        ) from exc
    except WarehouseError:
        con.close()
        raise
    con.execute(f"USE {DUCKLAKE_ALIAS}")
    if not read_only:
        apply_sql(con, "schema")
    _create_memory_macros(con)
    if for_queries:
        con.execute("SET allowed_directories = ?", [[data_path]])
        con.execute("SET enable_external_access = false")
    if read_only:
        con.execute("SET lock_configuration = true")
    return con


def _create_memory_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create the macros of ``sql/views/`` in this connection's in-memory catalog (DuckLake stores none).

    ``analytics.pearson_r(...)`` in a view then finds ``memory.analytics.pearson_r`` through the
    search path, which lists the warehouse's schemas first so table names still resolve there.
    """
    schemas = set()
    for path in sql_files("views"):
        for statement in _statements(path.read_text()):
            if not _creates_macro(statement):
                continue
            match = re.search(r"\bMACRO\s+(\w+)\.", statement, re.I)
            schema = match.group(1) if match else "main"
            if schema not in schemas:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS memory.{schema}")
                schemas.add(schema)
            con.execute(
                re.sub(r"\bMACRO\s+(\w+)\.", r"MACRO memory.\1.", statement, count=1, flags=re.I)
                if match
                else re.sub(r"\bMACRO\s+", "MACRO memory.main.", statement, count=1, flags=re.I)
            )
    warehouse_schemas = [
        r[0]
        for r in con.execute(
            "SELECT schema_name FROM duckdb_schemas() WHERE database_name = ? "
            "ORDER BY schema_name = 'main' DESC, schema_name",
            [DUCKLAKE_ALIAS],
        ).fetchall()
    ]
    path = [f"{DUCKLAKE_ALIAS}.{s}" for s in warehouse_schemas] + [f"memory.{s}" for s in sorted(schemas)]
    con.execute(f"SET search_path = '{','.join(path)}'")


def _s3_secret_from_environment(con: duckdb.DuckDBPyConnection) -> None:
    """A temporary DuckDB S3 secret from the usual ``AWS_*`` variables, when they are set (never logged).

    ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` (MinIO, Ceph, R2, ...): ``http://`` turns TLS off; URLs are
    path-style (``host/bucket/key``) unless the endpoint is AWS's own (``*.amazonaws.com``: virtual-host style).
    ``SN_LAKE_S3_URL_STYLE`` (``path`` or ``vhost``, DuckDB's ``URL_STYLE``) overrides that guess.
    """
    env = os.environ.get
    if not env("AWS_ACCESS_KEY_ID"):
        return  # public bucket, or a secret the user created in ~/.duckdb
    options = {
        "KEY_ID": env("AWS_ACCESS_KEY_ID"),
        "SECRET": env("AWS_SECRET_ACCESS_KEY"),
        "SESSION_TOKEN": env("AWS_SESSION_TOKEN"),
        "REGION": env("AWS_REGION") or env("AWS_DEFAULT_REGION"),
    }
    endpoint = env("AWS_ENDPOINT_URL_S3") or env("AWS_ENDPOINT_URL")
    url_style = (env("SN_LAKE_S3_URL_STYLE") or "").strip().lower() or None
    if url_style not in (None, "path", "vhost"):
        raise WarehouseError(
            f"SN_LAKE_S3_URL_STYLE must be 'path' or 'vhost' (DuckDB's URL_STYLE), found {url_style!r}: "
            "set one of those or unset it."
        )
    if endpoint:
        url = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        aws = (url.hostname or "").endswith((".amazonaws.com", ".amazonaws.com.cn"))
        options.update(
            ENDPOINT=url.netloc.rpartition("@")[2] + url.path.rstrip("/"),
            USE_SSL="false" if url.scheme == "http" else "true",
            URL_STYLE=url_style or ("vhost" if aws else "path"),
        )
    elif url_style:
        options["URL_STYLE"] = url_style
    given = ", ".join(f"{k} '{_quoted(v)}'" for k, v in options.items() if v)
    try:
        con.execute(f"CREATE OR REPLACE TEMPORARY SECRET sn_lake_s3 (TYPE s3, {given})")
    except duckdb.Error as exc:  # the statement holds the keys: mask them in what DuckDB said
        said = str(exc)
        for value in (options["SECRET"], options["SESSION_TOKEN"]):
            said = said.replace(value, "***") if value else said
        raise WarehouseError(
            f"Could not create the DuckDB S3 secret from the AWS_* variables ({said}); check their values."
        ) from None


def _quoted(value: str) -> str:
    return value.replace("'", "''")


def replace_rows(
    con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, where: str, params: Sequence = ()
) -> int:
    """Atomically replace the rows of ``table`` matching ``where`` with ``frame`` (columns matched by name).

    ``where`` may refer to the table as ``t`` and to the incoming rows as ``_incoming``.
    """
    con.execute("BEGIN")
    try:
        con.register("_incoming", frame.to_arrow())
        con.execute(f"DELETE FROM {table} AS t WHERE {where}", list(params))
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


def read_when_free(
    settings: Settings, sql: str, params: Sequence = (), wait_s: float = 600.0, poll_s: float = 1.0
) -> list[tuple]:
    """Run one read-only query, waiting up to ``wait_s`` while another process holds the write lock.

    For steps outside the ``duckdb_write`` pool (a crawl reading the ids it should fetch) that must
    not hold the writer's slot for their whole run.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            con = connect(settings, read_only=True)
        except WarehouseError:
            if time.monotonic() >= deadline or not exists(settings):
                raise
            time.sleep(poll_s)
            continue
        try:
            return con.execute(sql, list(params)).fetchall()
        finally:
            con.close()
