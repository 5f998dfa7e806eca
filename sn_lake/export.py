"""``sn-lake export DIR``: the warehouse's tables as Parquet or CSV files with a data card, so others can
reuse the catalog, the papers and the results without our code.

Layout: ``DIR/<schema>/<table>.<parquet|csv>`` for every table of ``raw``, ``catalog`` and ``results``
and every view of ``analytics`` (computed at export time), plus ``DIR/DATA_CARD.md`` (for people)
and ``DIR/datacard.json`` (for programs: columns, types, units, descriptions, row counts, SHA-256 of
each file, provenance and the licences of the sources). Each file is written under a temporary
name and renamed, so an interrupted export never leaves a half-written file under its final name.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from sn_lake import lake
from sn_lake.config import SQL_DIR

FORMATS = ("parquet", "csv")
TABLE_SCHEMAS = ("raw", "catalog", "results")
VIEW_SCHEMAS = ("analytics", "catalog")  # catalog.model_history is a view

# Where the records come from and under which terms (the card states them; per-model licences are
# in catalog.models.license as the publisher states them).
SOURCE_LICENCES = {
    "timm": "timm's pretrained registry (Apache-2.0 code); each weight's licence is catalog.models.license",
    "huggingface": "Hugging Face Hub API metadata; each model's licence is its card's, in catalog.models.license",
    "kaggle": "Kaggle Models API metadata; each variation's licence is in catalog.models.license",
    "securitynet": "SecurityNet database table, TrustAIRLab (MIT licence)",
    "papers": (
        "arXiv API metadata (CC0), Semantic Scholar API (ODC-BY), OpenAlex (CC0), DBLP (CC0), "
        "Papers with Code (CC BY-SA 4.0)"
    ),
    "weights": "GitHub and Zenodo API file listings (metadata only; the files keep their owners' licences)",
    "local": "models this project trained (the demo zoo), MIT like the project",
    "robustbench": "RobustBench's leaderboard records (model_info/, MIT licence); weights keep their owners' licences",
    "timm_results": "timm's published result tables (results/, Apache-2.0 like timm)",
    "computed": "results.* rows with origin 'computed': measured by this project (MIT)",
    "published:robustbench": "results.* rows with origin 'published:robustbench': RobustBench's figures (MIT)",
    "published:timm": "results.* rows with origin 'published:timm': timm's result tables (Apache-2.0)",
    "published:securitynet": (
        "results.* rows with origin 'published:securitynet': figures from the SecurityNet table (MIT)"
    ),
}

# Units by column name (the rest are identifiers, labels or counts).
UNITS = [
    (re.compile(r"^(pearson|spearman)_r"), "correlation coefficient in [-1, 1]"),
    (
        re.compile(
            r"(accuracy|_rate|^auc|auc$|_auc|agreement|^fpr_|^tpr_|tpr_at|overfit_gap|accuracy_drop|ci_low|ci_high)"
        ),
        "fraction in [0, 1]",
    ),
    (re.compile(r"runtime_s$|_s$"), "seconds"),
    (re.compile(r"^epsilon$"), "L∞ perturbation budget on images scaled to [0, 1]"),
    (re.compile(r"_at$|^last_modified$"), "timestamp with time zone (UTC)"),
    (re.compile(r"^size_bytes$"), "bytes"),
    (re.compile(r"^input_size$"), "pixels (side of the square input)"),
    (re.compile(r"^(n_|num_)|^downloads$|^likes$|query_budget"), "count"),
]


class ExportError(RuntimeError):
    """The export could not be written."""


def unit_of(column: str) -> str | None:
    for pattern, unit in UNITS:
        if pattern.search(column):
            return unit
    return None


def column_comments() -> dict[tuple[str, str], str]:
    """``(schema.table, column) -> comment`` from the ``-- comments`` beside columns in ``sql/schema/*.sql``."""
    comments: dict[tuple[str, str], str] = {}
    table = None
    for path in sorted((SQL_DIR / "schema").glob("*.sql")):
        for line in path.read_text().splitlines():
            created = re.match(r"\s*CREATE TABLE IF NOT EXISTS\s+(\w+\.\w+)", line, re.I)
            if created:
                table = created.group(1).lower()
                continue
            added = re.match(
                r"\s*ALTER TABLE\s+(\w+\.\w+)\s+ADD COLUMN IF NOT EXISTS\s+(\w+)[^;]*;\s*--\s*(.+)", line, re.I
            )
            if added:
                comments.setdefault((added.group(1).lower(), added.group(2).lower()), added.group(3).strip())
                continue
            if line.strip().startswith(")"):
                table = None
            column = re.match(r"\s*(\w+)\s+[A-Z][A-Z0-9_\[\]]*[^-]*--\s*(.+)", line)
            if table and column and column.group(1).upper() not in {"PRIMARY", "UNIQUE", "CREATE", "ALTER"}:
                comments.setdefault((table, column.group(1).lower()), column.group(2).strip())
    return comments


def relations(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """``(schema, name, kind)`` of every table of raw/catalog/results and view of analytics/catalog, sorted."""
    database = con.execute("SELECT current_database()").fetchone()[0]
    tables = con.execute(
        "SELECT schema_name, table_name, 'table' FROM duckdb_tables() WHERE database_name = ? AND schema_name IN "
        f"({', '.join('?' * len(TABLE_SCHEMAS))})",
        [database, *TABLE_SCHEMAS],
    ).fetchall()
    views = con.execute(
        "SELECT schema_name, view_name, 'view' FROM duckdb_views() "
        "WHERE database_name = ? AND NOT internal AND schema_name IN "
        f"({', '.join('?' * len(VIEW_SCHEMAS))})",
        [database, *VIEW_SCHEMAS],
    ).fetchall()
    return sorted(tables + views)


def export(con: duckdb.DuckDBPyConnection, out_dir: Path, fmt: str = "parquet") -> dict:
    """Write every relation to ``out_dir`` in ``fmt`` and the data card; returns the card as a dict."""
    if fmt not in FORMATS:
        raise ExportError(
            f"Expected an export format in {', '.join(FORMATS)}, found {fmt!r}: pass --format parquet or csv."
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    comments = column_comments()
    entries = []
    for schema, name, kind in relations(con):
        target = out_dir / schema / f"{name}.{fmt}"
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER true"
        try:
            con.execute(
                f"COPY (SELECT * FROM {schema}.{name}) TO '{str(partial).replace(chr(39), chr(39) * 2)}' ({options})"
            )
        except duckdb.Error as exc:
            partial.unlink(missing_ok=True)
            raise ExportError(
                f"Could not export {schema}.{name} to {target} ({exc}); check that the folder is writable."
            ) from exc
        os.replace(partial, target)
        described = con.execute(f"DESCRIBE SELECT * FROM {schema}.{name}").fetchall()
        entries.append(
            {
                "relation": f"{schema}.{name}",
                "kind": kind,
                "file": str(target.relative_to(out_dir)),
                "rows": con.execute(f"SELECT count(*) FROM {schema}.{name}").fetchone()[0],
                "sha256": lake.file_sha256(target),
                "columns": [
                    {
                        "name": column,
                        "type": dtype,
                        "unit": unit_of(column),
                        "description": comments.get((f"{schema}.{name}", column)),
                    }
                    for column, dtype, *_ in described
                ],
            }
        )
    card = {
        "title": "sn_lake export: image-classification models, their papers and attack results",
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "format": fmt,
        "provenance": _provenance(con),
        "licences": SOURCE_LICENCES,
        "conventions": [
            (
                "model_id is '<source>:<native id>'; "
                "dataset ids are Hugging Face dataset ids in lower case (cifar10, imagenet-1k)."
            ),
            "Accuracies, AUCs and rates are fractions in [0, 1]; times are UTC; runtime_s is seconds.",
            (
                "results.* rows say who computed them: "
                "origin 'computed' (this project) or 'published:securitynet' (the study)."
            ),
            "NULL means unknown: no rule guesses a value. Correlations are NULL below 3 models.",
            "CSV files write list columns as DuckDB list literals, e.g. [0.1, 0.2]; Parquet keeps them as lists.",
        ],
        "relations": entries,
    }
    _write_atomically(out_dir / "datacard.json", json.dumps(card, indent=2, default=str))
    _write_atomically(out_dir / "DATA_CARD.md", render_card(card))
    return card


def _provenance(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """One entry per source: its crawls (count, last finish) and how many catalog models it brought."""
    rows = con.execute("""
        SELECT coalesce(c.source, m.source) AS source, coalesce(c.n_crawls, 0), c.last_crawl, c.n_records,
            coalesce(m.n_models, 0)
        FROM (
            SELECT source, count(*) AS n_crawls, max(finished_at) AS last_crawl, sum(n_records) AS n_records
            FROM raw.crawls GROUP BY ALL
        ) c
        FULL JOIN (SELECT source, count(*) AS n_models FROM catalog.models GROUP BY ALL) m USING (source)
        ORDER BY 1""").fetchall()
    return [
        {
            "source": s,
            "crawls": n,
            "last_crawl_finished_at": last,
            "raw_records": int(rec) if rec is not None else None,
            "catalog_models": models,
            "licence": SOURCE_LICENCES.get(s),
        }
        for s, n, last, rec, models in rows
    ]


def render_card(card: dict) -> str:
    """The data card as Markdown."""
    lines = [
        f"# {card['title']}",
        "",
        f"Exported {card['exported_at']} as {card['format']} by `sn-lake export`.",
        "",
        "## Conventions",
        "",
        *[f"- {c}" for c in card["conventions"]],
        "",
        "## Provenance",
        "",
        "| source | crawls | last crawl finished | raw records | catalog models | licence |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {p['source']} | {p['crawls']} | {p['last_crawl_finished_at'] or ''} | {p['raw_records'] or ''} | "
        f"{p['catalog_models']} | {p['licence'] or 'see catalog.models.license'} |"
        for p in card["provenance"]
    ]
    lines += [
        "",
        "## Licences of the sources",
        "",
        *[f"- **{k}**: {v}" for k, v in card["licences"].items()],
        "",
        "## Files",
        "",
    ]
    for entry in card["relations"]:
        lines += [
            f"### `{entry['relation']}` ({entry['kind']})",
            "",
            f"`{entry['file']}`: {entry['rows']} rows, sha256 `{entry['sha256']}`",
            "",
            "| column | type | unit | description |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {c['name']} | {c['type']} | {c['unit'] or ''} | {(c['description'] or '').replace('|', '/')} |"
            for c in entry["columns"]
        ]
        lines.append("")
    return "\n".join(lines)


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf8")
    os.replace(partial, path)
