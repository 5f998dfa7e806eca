"""Attack results as Parquet in the lake, and moving them into the warehouse's ``results.*`` tables.

One file per (family, model, config): ``$SN_LAKE_HOME/lake/results/<family>/<model id, quoted>/<config_hash>.parquet``.
Re-evaluating a model with the same config rewrites its file, and loading replaces that config's
rows; a new config writes a new file and adds rows.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from urllib.parse import quote

import duckdb
import polars as pl

from sn_lake import lake, warehouse
from sn_lake.config import Settings
from sn_lake.evaluate import families

TABLES = families.TABLES  # attack family -> results table (contract), from the one registry of families
COMMON_COLUMNS = ("model_id", "revision", "dataset", "origin", "config_hash", "device", "runtime_s", "computed_at")


def config_hash(family: str, config: dict) -> str:
    """A short, stable hash of a family's configuration (the key for replacing rows)."""
    body = json.dumps({"family": family, **config}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def results_dir(settings: Settings, family: str | None = None) -> Path:
    root = settings.lake_dir / "results"
    return root / family if family else root


def model_dir(settings: Settings, family: str, model_id: str) -> Path:
    return results_dir(settings, family) / quote(model_id, safe="")


def write(settings: Settings, family: str, model_id: str, chash: str, frame: pl.DataFrame) -> Path:
    """Write one model's rows for one config, atomically (temporary name, then rename)."""
    families.get(family)  # a ValueError naming the known families
    path = model_dir(settings, family, model_id) / f"{chash}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    frame.write_parquet(tmp)
    os.replace(tmp, path)
    return path


def files(settings: Settings, family: str) -> list[Path]:
    return sorted(results_dir(settings, family).glob("*/*.parquet"))


def load_into_warehouse(settings: Settings, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Move every results file into its table, replacing rows of the same (model, config); returns rows per table."""
    counts = {}
    for family in families.FAMILIES.values():
        table, paths = family.table, files(settings, family.name)
        if not paths:
            continue
        columns = {
            name
            for (name,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'results' AND table_name = ?",
                [table.split(".")[1]],
            ).fetchall()
        }
        frame = pl.concat([pl.read_parquet(p) for p in paths], how="diagonal_relaxed")
        frame = frame.select([c for c in frame.columns if c in columns])
        counts[table] = warehouse.replace_rows(
            con,
            table,
            frame,
            "t.origin = 'computed' AND EXISTS "
            "(SELECT 1 FROM _incoming i WHERE i.model_id = t.model_id AND i.config_hash = t.config_hash)",
        )
    counts[FAILURES_TABLE] = warehouse.replace_rows(con, FAILURES_TABLE, failures(settings), "true")
    return counts


# ------------------------------------------------------------------------------------ failures
# A model that passed the evaluability rule and still could not be evaluated (its files, its labels, its
# dataset) leaves one JSON record per family under lake/results/_failures/; a later success removes it.
FAILURES_TABLE = "results.evaluation_failures"
FAILURE_SCHEMA = {
    "model_id": pl.String,
    "revision": pl.String,
    "family": pl.String,
    "reason": pl.String,
    "failed_at": pl.String,
}


def _failure_path(settings: Settings, model_id: str, family: str) -> Path:
    return results_dir(settings) / "_failures" / quote(model_id, safe="") / f"{family}.json"


def record_failure(settings: Settings, model_id: str, revision: str | None, family: str, reason: str) -> Path:
    """Keep why ``family`` could not evaluate ``model_id`` at ``revision`` (atomically; replaces an earlier one)."""
    path = _failure_path(settings, model_id, family)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "model_id": model_id,
        "revision": revision,
        "family": family,
        "reason": reason[:2000],
        "failed_at": lake.utcnow().isoformat(),
    }
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)
    return path


def clear_failure(settings: Settings, model_id: str, family: str) -> None:
    _failure_path(settings, model_id, family).unlink(missing_ok=True)


def failures(settings: Settings) -> pl.DataFrame:
    """Every recorded failure (a record that cannot be read is skipped: the next failure rewrites it)."""
    rows = []
    for path in sorted((results_dir(settings) / "_failures").glob("*/*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict):
            rows.append({k: None if record.get(k) is None else str(record[k]) for k in FAILURE_SCHEMA})
    return pl.DataFrame(rows, schema=FAILURE_SCHEMA).with_columns(
        pl.col("failed_at").str.to_datetime(time_zone="UTC", strict=False)
    )
