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

from sn_lake import warehouse
from sn_lake.config import Settings

# attack family -> results table (contract)
TABLES = {
    "task_accuracy": "results.task_accuracy",
    "model_stealing": "results.model_stealing",
    "membership_inference": "results.membership_inference",
    "adversarial": "results.adversarial",
    "backdoor_detection": "results.backdoor_detection",
}
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
    if family not in TABLES:
        raise ValueError(f"Expected an attack family from {sorted(TABLES)}, found {family!r}: use one of them.")
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
    for family, table in TABLES.items():
        paths = files(settings, family)
        if not paths:
            continue
        columns = {name for name, in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'results' AND table_name = ?",
            [table.split(".")[1]]).fetchall()}  # fmt: skip
        frame = pl.concat([pl.read_parquet(p) for p in paths], how="diagonal_relaxed")
        frame = frame.select([c for c in frame.columns if c in columns])
        counts[table] = warehouse.replace_rows(
            con, table, frame,
            "t.origin = 'computed' AND EXISTS (SELECT 1 FROM _incoming i WHERE i.model_id = t.model_id AND i.config_hash = t.config_hash)",
        )
    return counts
