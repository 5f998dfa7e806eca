"""timm's result tables as typed rows: pure functions, no I/O.

A table (``results-imagenet.csv`` and the five shifted-set tables) becomes a :class:`Table` of :class:`ResultRow`
rows: percentages as fractions (``top1``, ``top5``, ``top1_diff``, ``top5_diff``), ``param_count`` in millions
(``"1,013.01"`` -> 1013.01), ``rank_diff`` as a whole number (``"+2"`` -> 2). A value that is missing or malformed is
NULL with a :class:`Note`; a row without a model name, with the wrong number of cells, or naming a model a second
time at the same ``img_size`` (timm lists a model once per test resolution) is left out with its note; a table that
cannot be read at all is ``excluded`` with its reason.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from sn_lake.annotate.numbers import (
    show as _shown,  # short and printable: a cell may be megabytes
)

INF = float("inf")

REQUIRED_COLUMNS = ("model", "top1", "top5")
# column -> (value key, kind, low, high) for percentages and differences; other kinds have no range
COLUMNS: dict[str, tuple[str, str, float | None, float | None]] = {
    "top1": ("top1", "percent", 0.0, 100.0),
    "top5": ("top5", "percent", 0.0, 100.0),
    "top1_diff": ("top1_diff", "percent", -100.0, 100.0),
    "top5_diff": ("top5_diff", "percent", -100.0, 100.0),
    "param_count": ("param_count", "number", 0.0, None),
    "img_size": ("img_size", "count", 1, 8192),  # the catalog's input_size range (sn_lake.annotate.numbers)
    "crop_pct": ("crop_pct", "number", 0.0, None),
    "interpolation": ("interpolation", "text", None, None),
    "rank_diff": ("rank_diff", "signed", -1_000_000, 1_000_000),  # its column is an INTEGER
}


@dataclass
class Note:
    """A value read as NULL, or a row or table left out, with the rule that did it."""

    rule: str
    detail: str
    field: str | None = None


@dataclass
class ResultRow:
    line: int
    model: str
    values: dict[str, Any]


@dataclass
class Table:
    path: str
    sha256: str | None = None
    rows: list[ResultRow] = field(default_factory=list)
    notes: list[tuple[str | None, Note]] = field(default_factory=list)  # (model name or None, note)
    excluded: Note | None = None


def _value(text: str, column: str, kind: str, low: float | None, high: float | None) -> tuple[Any, Note | None]:
    raw = text.strip()
    if not raw:
        return None, Note("timm_results.null.empty_value", f"{column} is empty; read as NULL", column)
    if kind == "text":
        return raw, None
    try:
        if kind in ("count", "signed"):
            number: Any = int(raw.removeprefix("+"))
            if kind == "count" and number < 1:
                raise ValueError
        else:
            number = float(raw.replace(",", ""))
    except ValueError:
        return None, Note(
            "timm_results.null.invalid_value", f"{column} = {_shown(raw)} is not a number; read as NULL", column
        )
    # NaN fails both bounds, and an infinity ("1e999") is no number any column should hold
    if (low is not None and not number >= low) or (high is not None and not number <= high) or number in (INF, -INF):
        bounds = f"[{low:g}, {high:g}]" if high is not None else f"at least {low:g}"
        return None, Note(
            "timm_results.null.out_of_range", f"{column} = {_shown(raw)}, expected {bounds}; read as NULL", column
        )
    return (number / 100 if kind == "percent" else number), None


def read_table(payload: dict) -> Table:
    """One raw table record (``path``, ``status``, ``text``) as a :class:`Table`."""
    path = payload.get("path", "")
    table = Table(path=path, sha256=payload.get("sha256"))
    if payload.get("status", 200) != 200:
        table.excluded = Note(
            "timm_results.excluded.not_found",
            f"the server answered {payload.get('status')} for {path!r}; its results stay out until it can be fetched",
        )
        return table
    if "text" not in payload:
        table.excluded = Note("timm_results.excluded.unreadable", f"{path!r} is not UTF-8 text; fix the table upstream")
        return table
    try:
        rows = list(csv.reader(io.StringIO(payload["text"], newline="")))
    except csv.Error as exc:  # a field past csv's size limit, a NUL byte
        table.excluded = Note(
            "timm_results.excluded.unreadable", f"{path!r} is not a CSV table ({exc}); fix it upstream"
        )
        return table
    header = [c.strip().lower() for c in rows[0]] if rows else []
    absent = [c for c in REQUIRED_COLUMNS if c not in header]
    if absent:
        table.excluded = Note(
            "timm_results.excluded.unreadable",
            f"{path!r}: expected a header with the columns "
            f"{', '.join(REQUIRED_COLUMNS)}, found {header[:12]}; fix the table upstream",
        )
        return table
    seen: dict[tuple[str, str], int] = {}  # (model, img_size as written) -> line
    for line, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue  # a blank line
        named = dict(zip(header, cells, strict=False))
        model = (named.get("model") or "").strip()
        if len(cells) != len(header) or not model:
            what = f"{len(cells)} cells, expected {len(header)}" if model else "no model name"
            table.notes.append(
                (
                    model or None,
                    Note("timm_results.excluded.malformed_row", f"{path!r} line {line}: {what}; the row is left out"),
                )
            )
            continue
        key = (model, (named.get("img_size") or "").strip())
        if key in seen:
            table.notes.append(
                (
                    model,
                    Note(
                        "timm_results.excluded.duplicate_row",
                        f"{path!r} line {line}: {model!r} at "
                        f"img_size {key[1]!r} was already on line {seen[key]}; the first row is kept",
                    ),
                )
            )
            continue
        seen[key] = line
        values = {}
        for column, (key, kind, low, high) in COLUMNS.items():
            if column not in named:
                values[key] = None
                continue
            values[key], note = _value(named[column], column, kind, low, high)
            if note is not None:
                note.detail = f"{path!r} line {line}: {note.detail}"
                table.notes.append((model, note))
        if values["top1"] is None and values["top5"] is None:
            table.notes.append(
                (
                    model,
                    Note(
                        "timm_results.excluded.no_figure",
                        f"{path!r} line {line}: neither top1 nor top5 could be read; the row is left out",
                    ),
                )
            )
            continue
        table.rows.append(ResultRow(line=line, model=model, values=values))
    return table
