"""Run a table's rules with Great Expectations: the building step refuses rows, the checks only observe.

``validate_frame`` is the pure part (a pandas frame in, the failing rows out). ``quarantine_table`` is
what the asset that builds a table runs right after writing it, inside one transaction: rejected rows
leave the table for ``catalog.quarantine`` with their full content, flagged rows stay and are noted, and
every rule's counts go to ``catalog.quality_runs`` so ``analytics.quality_report`` can summarize them.
Nothing is lost: the rows built = the rows kept + the rows rejected. ``observe_table`` is what the
blocking asset check runs afterwards: the rules again on the rows that remain, beside what the build
refused, on a read-only connection, so a check changes nothing (and the asset's row count stays true).
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import duckdb
import pandas as pd

from sn_lake.quality.rules import FLAG, REJECT, TABLES, Rule, TableRules

INDEX_COLUMN = "_row_index"
EXAMPLES_PER_RULE = 5


class QualityError(RuntimeError):
    """A table could not be checked (unknown table, or a rule GX could not evaluate)."""


@dataclass(frozen=True)
class Violation:
    """One row that broke one rule."""

    row_index: int  # position in the validated frame
    row_key: str
    rule: str
    action: str
    detail: str


@dataclass
class TableReport:
    """What checking one table found."""

    table: str
    n_rows: int
    n_rejected: int = 0  # distinct rows moved to the quarantine
    n_flagged: int = 0  # distinct rows noted but kept
    failed: dict[str, int] = field(default_factory=dict)  # rule -> rows that broke it
    skipped: list[str] = field(default_factory=list)  # rules whose columns the table lacks
    examples: dict[str, list[str]] = field(default_factory=dict)  # rule -> a few "row_key: detail"

    @property
    def n_kept(self) -> int:
        return self.n_rows - self.n_rejected

    @property
    def rejected_fraction(self) -> float:
        return self.n_rejected / self.n_rows if self.n_rows else 0.0


@lru_cache(maxsize=1)
def _context():
    """One ephemeral GX context per process, with analytics and progress bars off."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _plain(value: Any) -> Any:
    """A JSON-friendly version of a frame value (NaN and NaT become None)."""
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "isoformat"):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return value


def row_keys(frame: pd.DataFrame, key_columns: tuple[str, ...]) -> list[str]:
    """A readable key per row from its key columns (``a|b|c``, or ``row N`` when they are all NULL);
    a repeated key gets ``#2``, ``#3``..."""
    seen: dict[str, int] = defaultdict(int)
    keys = []
    for position, values in enumerate(frame[list(key_columns)].itertuples(index=False)):
        plain = [_plain(v) for v in values]
        key = (
            f"row {position}" if all(v is None for v in plain) else "|".join("" if v is None else str(v) for v in plain)
        )
        seen[key] += 1
        keys.append(key if seen[key] == 1 else f"{key}#{seen[key]}")
    return keys


def _failing_indexes(rule: Rule, frame: pd.DataFrame, spec: TableRules) -> list[int]:
    gx_frame = rule.derive(frame) if rule.derive else frame
    context = _context()
    name = f"{spec.table}.{rule.name}"
    datasource = context.data_sources.add_or_update_pandas(name)
    batch_definition = datasource.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": gx_frame})
    result = batch.validate(
        rule.expectation(),
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [INDEX_COLUMN]},
    )
    if result.exception_info and result.exception_info.get("raised_exception"):
        raise QualityError(
            f"Expected GX to evaluate rule {rule.name} on {spec.table}, found an error "
            f"({result.exception_info.get('exception_message')}): fix the rule or the column types."
        )
    if result.success:
        return []
    indexes = sorted({int(entry[INDEX_COLUMN]) for entry in result.result.get("unexpected_index_list") or []})
    if rule.key_unique:  # the first row of each key is the one to keep
        first_of_key = frame.loc[indexes].drop_duplicates(list(rule.columns), keep="first")[INDEX_COLUMN]
        indexes = sorted(set(indexes) - {int(i) for i in first_of_key})
    return indexes


def validate_frame(table: str, frame: pd.DataFrame) -> tuple[list[Violation], list[str]]:
    """Every (row, rule) failure of ``frame`` under ``table``'s rules, and the rules skipped because
    the frame lacks their columns. Rows are numbered by position in ``frame``."""
    spec = _spec(table)
    frame = frame.reset_index(drop=True).assign(**{INDEX_COLUMN: range(len(frame))})
    keys = (
        row_keys(frame, spec.key_columns)
        if set(spec.key_columns) <= set(frame.columns)
        else [f"row {i}" for i in range(len(frame))]
    )
    violations, skipped = [], []
    for rule in spec.rules:
        if not set(rule.columns) <= set(frame.columns):
            skipped.append(rule.name)
            continue
        if frame.empty:
            continue
        for index in _failing_indexes(rule, frame, spec):
            shown = ", ".join(f"{c}={_plain(frame.at[index, c])!r}" for c in rule.columns)
            violations.append(
                Violation(index, keys[index], rule.name, rule.action, f"{rule.description} Found {shown}.")
            )
    return violations, skipped


def _register_rules(con: duckdb.DuckDBPyConnection, spec: TableRules) -> None:
    con.execute("DELETE FROM catalog.quality_rules WHERE table_name = ?", [spec.table])
    con.executemany(
        "INSERT INTO catalog.quality_rules VALUES (?, ?, ?, ?)",
        [[spec.table, r.name, r.action, r.description] for r in spec.rules],
    )


def _spec(table: str) -> TableRules:
    if table not in TABLES:
        raise QualityError(
            f"Expected one of the checked tables {sorted(TABLES)}, found {table!r}: "
            "add its rules to sn_lake/quality/rules.py."
        )
    return TABLES[table]


def quarantine_table(con: duckdb.DuckDBPyConnection, table: str, now: datetime | None = None) -> TableReport:
    """Validate ``table`` in the warehouse, quarantine what its rules refuse, and record the counts: the last
    step of the asset that builds ``table``.

    Runs in one transaction on a read-write connection: either all of it happens or none of it.
    """
    spec = _spec(table)
    now = now or datetime.now(UTC)
    con.execute("BEGIN")
    try:
        frame = _rows(con, spec, with_rowid=True)
        rowids = frame.pop("_rowid").tolist()
        violations, skipped = validate_frame(table, frame)
        report = _record(con, spec, frame, rowids, violations, skipped, now)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return report


check_table = quarantine_table  # its name before the checks only observed (scripts and notebooks call it)


def _rows(con: duckdb.DuckDBPyConnection, spec: TableRules, with_rowid: bool = False) -> pd.DataFrame:
    """The table's rows in the order that decides which duplicate is kept, with only the columns the rules and the
    row keys read (a wide table's other columns would multiply the frame GX copies; a rejected row's full content
    is read back by rowid, :func:`_full_rows`)."""
    present = {d[0] for d in con.execute(f"SELECT * FROM {spec.table} LIMIT 0").description}
    wanted = dict.fromkeys(c for c in (*spec.key_columns, *(c for r in spec.rules for c in r.columns)) if c in present)
    columns = ", ".join(["rowid AS _rowid"] * with_rowid + [f'"{c}"' for c in wanted])
    sql = f"SELECT {columns} FROM {spec.table} ORDER BY {spec.order_by}, rowid"
    return con.execute(sql).fetch_arrow_table().to_pandas()


def _full_rows(con: duckdb.DuckDBPyConnection, table: str, rowids: list[int]) -> dict[int, dict]:
    """Rowid -> the row's whole content, JSON-friendly (what a rejected row keeps in the quarantine)."""
    if not rowids:
        return {}
    sql = f"SELECT rowid AS _rowid, * FROM {table} WHERE list_contains(?, rowid)"
    rows = con.execute(sql, [rowids]).fetch_arrow_table().to_pandas()
    return {int(r["_rowid"]): {c: _plain(v) for c, v in r.items() if c != "_rowid"} for _, r in rows.iterrows()}


def observe_table(con: duckdb.DuckDBPyConnection, table: str) -> TableReport:
    """What the blocking check of ``table`` reports, changing nothing (a read-only connection will do).

    GX runs the table's rules on the rows it holds now; the rows its last :func:`quarantine_table` refused
    (``catalog.quality_runs`` and ``catalog.quarantine`` at that run's time) count as rejected beside any
    rejected row still there, so ``n_rows`` is what the build produced and ``n_kept`` what passes.
    """
    spec = _spec(table)
    frame = _rows(con, spec)
    violations, skipped = validate_frame(table, frame)
    rejects = [r.name for r in spec.rules if r.action == REJECT]
    sql = "SELECT max(checked_at) FROM catalog.quality_runs WHERE table_name = ?"
    (last_run,) = con.execute(sql, [table]).fetchone()
    refused = (
        []
        if last_run is None
        else con.execute(
            "SELECT row_key, rule, detail FROM catalog.quarantine WHERE table_name = ? AND detected_at = ? "
            "AND list_contains(?, rule) ORDER BY row_key, rule",
            [table, last_run, rejects],
        ).fetchall()
    )
    rejected_now = {v.row_index for v in violations if v.action == REJECT}
    n_refused = len({key for key, _, _ in refused})
    report = TableReport(table=table, n_rows=len(frame) + n_refused, skipped=skipped)
    report.n_rejected = n_refused + len(rejected_now)
    report.n_flagged = len({v.row_index for v in violations if v.action == FLAG} - rejected_now)
    found: dict[str, list[str]] = defaultdict(list)
    for key, rule, detail in refused:
        found[rule].append(f"{key}: {(detail or '').split(' Row: {', 1)[0]}")
    for v in violations:
        found[v.rule].append(f"{v.row_key}: {v.detail}")
    report.failed = {rule: len(shown) for rule, shown in found.items()}
    report.examples = {rule: shown[:EXAMPLES_PER_RULE] for rule, shown in found.items()}
    return report


def _record(
    con,
    spec: TableRules,
    frame: pd.DataFrame,
    rowids: list[int],
    violations: list[Violation],
    skipped: list[str],
    now: datetime,
) -> TableReport:
    report = TableReport(table=spec.table, n_rows=len(frame), skipped=skipped)
    by_rule: dict[str, list[Violation]] = defaultdict(list)
    for v in violations:
        by_rule[v.rule].append(v)
    rejected = {v.row_index for v in violations if v.action == REJECT}
    report.n_rejected = len(rejected)
    report.n_flagged = len({v.row_index for v in violations if v.action == FLAG} - rejected)
    report.failed = {rule: len(vs) for rule, vs in by_rule.items()}
    report.examples = {
        rule: [f"{v.row_key}: {v.detail}" for v in vs[:EXAMPLES_PER_RULE]] for rule, vs in by_rule.items()
    }

    _register_rules(con, spec)
    con.executemany(
        "INSERT INTO catalog.quality_runs VALUES (?, ?, ?, ?, ?)",
        [
            [spec.table, r.name, now, len(frame), len(by_rule.get(r.name, []))]
            for r in spec.rules
            if r.name not in skipped
        ],
    )
    # Flags describe the current rows: replace the table's previous flags. Rejections accumulate,
    # one entry per (row, rule), refreshed when the same row is refused again.
    flag_rules = [r.name for r in spec.rules if r.action == FLAG]
    if flag_rules:
        con.execute(
            "DELETE FROM catalog.quarantine WHERE table_name = ? AND list_contains(?, rule)", [spec.table, flag_rules]
        )
    full = _full_rows(con, spec.table, [rowids[i] for i in sorted(rejected)])
    entries = []
    for v in violations:
        detail = v.detail
        if v.action == REJECT:  # the row leaves its table: keep all of it
            row = full[rowids[v.row_index]]
            detail = f"{v.detail} Row: {json.dumps(row, default=str, sort_keys=True)}"
        entries.append([spec.table, v.row_key, v.rule, detail, now])
    refreshed = [e[:3] for e in entries if e[2] not in flag_rules]
    if refreshed:
        con.executemany("DELETE FROM catalog.quarantine WHERE table_name = ? AND row_key = ? AND rule = ?", refreshed)
    if entries:
        con.executemany("INSERT INTO catalog.quarantine VALUES (?, ?, ?, ?, ?)", entries)
    if rejected:
        con.execute(f"DELETE FROM {spec.table} WHERE list_contains(?, rowid)", [[rowids[i] for i in sorted(rejected)]])
    return report
