"""SecurityNet's markdown -> typed table rows (pure functions): the three tables' rows with their values read
by column kind, the rules that keep a row out of the catalog, and the latest crawled table with seen-at times.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from sn_lake.annotate import numbers
from sn_lake.annotate.countries import normalize_countries, unrecognized_countries
from sn_lake.annotate.datasets import canonical_dataset
from sn_lake.annotate.purpose import PURPOSES
from sn_lake.sources.securitynet import SOURCE

# heading word -> table slug (a heading is matched on the first word it contains)
TABLE_HEADINGS = {"benchmark": "benchmark", "security": "security", "new": "new"}
MODEL_TABLES = ("benchmark", "security")

# column header (lower case, single spaces) -> (field, kind). Kinds: text, link, count, year,
# fraction (in [0, 1]; 0 is the table's "not measured"), gap (in [-1, 1]).
COLUMNS: dict[str, tuple[str, str]] = {
    "model name": ("model_name", "text"),
    "title": ("title", "text"),
    "model type": ("model_type", "text"),
    "data name": ("data_name", "text"),
    "data category": ("data_category", "text"),
    "num class": ("num_classes", "count"),
    "training size": ("training_size", "count"),
    "train accuracy": ("train_accuracy", "fraction"),
    "test accuracy": ("test_accuracy", "fraction"),
    "overfit gap": ("overfit_gap", "gap"),
    "model stealing accuracy": ("stealing_accuracy", "fraction"),
    "model stealing agreement": ("stealing_agreement", "fraction"),
    "correct auc": ("correctness_auc", "fraction"),
    "m_entropy auc": ("m_entropy_auc", "fraction"),
    "wrn accuracy": ("wrn_stealing_accuracy", "fraction"),
    "wrn agree": ("wrn_stealing_agreement", "fraction"),
    "imgnet accuracy": ("imagenet_stealing_accuracy", "fraction"),
    "imgnet agree": ("imagenet_stealing_agreement", "fraction"),
    "conference": ("venue", "text"),
    "conference type": ("venue_type", "text"),
    "year": ("year", "year"),
    "country": ("countries", "text"),
    "num authors": ("n_authors", "count"),
    "purpose": ("purpose", "text"),
    "paper link": ("paper_url", "link"),
    "weights": ("weights_url", "link"),
    "note": ("note", "text"),
}
FIELDS = [f for f, _ in COLUMNS.values()]

# New-model notes that keep a row out of the catalog: rule -> notes (lower case). The catalog holds
# image classifiers with weights; these rows say they are something else or have nothing to load.
EXCLUDING_NOTES: dict[str, tuple[str, ...]] = {
    "securitynet.excluded.no_weights": ("no model", "no weights"),
    "securitynet.excluded.not_image_classifier": (
        "image denoising", "image restoration", "img2img", "img2img not cls", "text2img", "vqa",
        "segmentation", "diffusion models", "audio-visual",
    ),
}  # fmt: skip

# Where each published metric goes (results table, metric column, the row's fixed columns).
# "Wrn" columns: stealing with a wide-ResNet surrogate; "ImgNet" columns: stealing with ImageNet as
# the attacker's query data. The table does not state the default attack's query data or surrogate,
# so those stay NULL rather than guessed.
STEALING_SETTINGS = (
    ("stealing_accuracy", "stealing_agreement", {"aux_dataset": None, "surrogate_arch": None}),
    ("wrn_stealing_accuracy", "wrn_stealing_agreement", {"aux_dataset": None, "surrogate_arch": "wide_resnet"}),
    (
        "imagenet_stealing_accuracy",
        "imagenet_stealing_agreement",
        {"aux_dataset": "imagenet-1k", "surrogate_arch": None},
    ),
)
MIA_ATTACKS = (("correctness_auc", "correctness"), ("m_entropy_auc", "m_entropy"))

# Which warehouse table a NULLed field would have filled (named in the quarantine entry).
FIELD_TABLES: dict[str, str] = {
    **{f: "results.task_accuracy" for f in ("train_accuracy", "test_accuracy", "overfit_gap")},
    **{f: "results.model_stealing" for a, b, _ in STEALING_SETTINGS for f in (a, b)},
    **{f: "results.membership_inference" for f, _ in MIA_ATTACKS},
}


# the largest count any column holds (the catalog's num_classes is checked again by its own range rule)
COUNT_MAX = 2**31 - 1
# counts with a tighter range: field -> largest value (the catalog's rules, sn_lake.annotate.numbers.RANGES)
COUNT_RANGES = {"num_classes": 1_000_000, "n_authors": 10_000}


@dataclass
class Issue:
    """A value read as NULL, or a whole row kept out of the catalog, with the rule that did it."""

    rule: str
    detail: str
    table_name: str = "catalog.securitynet_labels"
    field: str | None = None


@dataclass
class TableRow:
    """One data row of one of the markdown's tables: where it is, its values, and what went wrong."""

    table: str
    line: int
    values: dict[str, Any]
    row_key: str = ""
    excluded: Issue | None = None
    issues: list[Issue] = field(default_factory=list)

    @property
    def model_id(self) -> str:
        return f"{SOURCE}:{self.row_key}"


_LINK = re.compile(r"\[[^\]]*\]\(\s*([^)\s]+)\s*\)")
# GFM: one dash is enough; possessive quantifiers keep a long run of spaces from backtracking quadratically
_SEPARATOR = re.compile(r"^\|?\s*+:?-++:?\s*+(?:\|\s*+:?-++:?\s*+)*+\|?\s*$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def _cells(line: str) -> list[str]:
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return [c.strip().replace("\\|", "|") for c in _CELL_SPLIT.split(body)]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._+-]+", "-", text.strip().lower()).strip("-")


def _table_slug(heading: str) -> str | None:
    words = re.findall(r"[a-z]+", heading.lower())
    return next((TABLE_HEADINGS[w] for w in words if w in TABLE_HEADINGS), None)


def _read_value(text: str, kind: str, column: str) -> tuple[Any, Issue | None]:
    """One cell as its typed value, or NULL with the rule that made it NULL."""
    raw = text.strip()
    if kind == "link":
        if not raw:
            return None, None
        match = _LINK.search(raw)
        url = match.group(1) if match else raw
        if not re.match(r"https?://", url) or not numbers.is_url(url):
            return None, Issue(
                "securitynet.null.invalid_value", f"column {column!r} = {raw!r} is not a link; read as NULL"
            )
        return url, None
    if kind == "text":
        if raw.lower() == "nan":
            return None, Issue(
                "securitynet.null.sentinel_nan",
                f"column {column!r} = 'nan' (the table's missing-value mark) read as NULL",
            )
        return (raw or None), None
    if not raw:
        return None, None
    if raw.lower() == "nan":
        return None, Issue(
            "securitynet.null.sentinel_nan",
            f"column {column!r} = {raw!r} (the table's missing-value mark) read as NULL",
        )
    try:
        number = float(raw)
    except ValueError:
        return None, Issue(
            "securitynet.null.invalid_value", f"column {column!r} = {raw!r} is not a number; read as NULL"
        )
    if number == 0 and kind != "gap":
        return None, Issue(
            "securitynet.null.sentinel_zero",
            f"column {column!r} = {raw!r} (the table's 'not measured' mark) read as NULL",
        )
    if kind in ("count", "year"):
        whole = math.isfinite(number) and number == int(number) and 0 <= number <= COUNT_MAX
        if not whole or (kind == "year" and not 1950 <= number <= 2100):
            expected = "a year between 1950 and 2100" if kind == "year" else "a positive whole number"
            return None, Issue(
                "securitynet.null.out_of_range", f"column {column!r} = {raw!r}, expected {expected}; read as NULL"
            )
        return int(number), None
    low = -1.0 if kind == "gap" else 0.0
    if not low <= number <= 1.0:
        return None, Issue(
            "securitynet.null.out_of_range",
            f"column {column!r} = {raw!r}, expected a fraction in [{low:g}, 1]; read as NULL",
        )
    return number, None


def _read_row(table: str, line: int, header: list[str], cells: list[str]) -> TableRow:
    row = TableRow(table=table, line=line, values=dict.fromkeys(FIELDS))
    if len(cells) != len(header):
        # the identity cells, read by position, only name the row key
        for name, text in zip(header, cells, strict=False):
            spec = COLUMNS.get(" ".join(name.lower().split()))
            if spec and spec[0] in ("model_name", "data_name", "title"):
                row.values[spec[0]] = text or None
        row.excluded = Issue(
            "securitynet.excluded.malformed_row",
            f"line {line}: expected {len(header)} cells like the table's header, found {len(cells)}; "
            "fix the row in the table",
            "catalog.models",
        )
        return row
    for name, text in zip(header, cells, strict=False):
        spec = COLUMNS.get(" ".join(name.lower().split()))
        if spec is None:
            continue  # a column we do not read stays in the raw markdown
        fld, kind = spec
        value, issue = _read_value(text, kind, name)
        if kind == "count" and value is not None and value > COUNT_RANGES.get(fld, COUNT_MAX):
            most = COUNT_RANGES.get(fld, COUNT_MAX)
            detail = f"column {name!r} = {text.strip()[:80]!r}, expected at most {most}; read as NULL"
            value, issue = None, Issue("securitynet.null.out_of_range", detail)
        row.values[fld] = value
        if issue is not None:
            issue.table_name = FIELD_TABLES.get(fld, issue.table_name)
            issue.field = fld
            row.issues.append(issue)
    # Every MedMNIST row states Train Accuracy = 0 and so a gap of minus its test accuracy.
    if any(i.rule == "securitynet.null.sentinel_zero" and i.field == "train_accuracy" for i in row.issues):
        if row.values["overfit_gap"] is not None:
            row.issues.append(
                Issue(
                    "securitynet.null.derived_from_sentinel",
                    f"column 'Overfit Gap' = {row.values['overfit_gap']!r} was computed from the Train Accuracy "
                    "sentinel 0; read as NULL",
                    "results.task_accuracy",
                    "overfit_gap",
                )
            )
            row.values["overfit_gap"] = None
    v = row.values
    if v["purpose"]:
        v["purpose"] = v["purpose"].strip().lower()
        if v["purpose"] not in PURPOSES:
            row.issues.append(
                Issue(
                    "securitynet.null.unknown_purpose",
                    f"Purpose {v['purpose']!r} is none of {', '.join(PURPOSES)}; read as NULL",
                    field="purpose",
                )
            )
            v["purpose"] = None
    if v["data_name"] and canonical_dataset(v["data_name"]) is None:
        row.issues.append(
            Issue(
                "securitynet.null.unknown_dataset",
                f"Data Name {v['data_name']!r} is no dataset sn_lake knows; "
                "catalog dataset is NULL (add it to sn_lake/annotate/datasets.py)",
                "catalog.models",
                "dataset",
            )
        )
    if v["countries"] and normalize_countries(v["countries"]) is None:
        row.issues.append(
            Issue(
                "securitynet.null.unknown_country",
                f"Country {v['countries']!r} names {unrecognized_countries(v['countries'])}, "
                "no country sn_lake knows; country_codes is NULL (add it to sn_lake/annotate/countries.py)",
                field="countries",
            )
        )
    return row


def parse_tables(markdown: str) -> list[TableRow]:
    """Every data row of every table in the markdown, with its stable row key, in table order.

    Rows that cannot enter the catalog carry ``excluded`` (the rule and reason); values read as
    NULL carry an :class:`Issue` each. Nothing is dropped: one :class:`TableRow` per table line.
    """
    rows: list[TableRow] = []
    heading = ""
    header: list[str] | None = None
    for number, line in enumerate(markdown.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            heading, header = stripped.lstrip("#").strip(), None
            continue
        if not stripped.startswith("|"):
            header = None  # any other line ends a table
            continue
        if header is None:
            header = _cells(stripped)
            continue
        if _SEPARATOR.match(stripped):
            continue
        table = _table_slug(heading)
        row = _read_row(table or _slug(heading) or "untitled", number, header, _cells(stripped))
        if table is None and row.excluded is None:
            row.excluded = Issue(
                "securitynet.excluded.unknown_table",
                f"line {number}: table under heading {heading!r} is none of benchmark/security/new models; "
                "extend TABLE_HEADINGS to read it",
                "catalog.models",
            )
        rows.append(row)
    _assign_keys(rows)
    for row in rows:
        if row.excluded is None:
            row.excluded = _exclusion(row)
    return rows


def _assign_keys(rows: list[TableRow]) -> None:
    seen: Counter = Counter()
    for row in rows:
        v = row.values
        if row.table == "new":
            base = f"new/{_slug(v['title'] or '') or f'line-{row.line}'}"
        else:
            data = _slug(v["data_name"] or "") or "unknown-data"
            base = f"{row.table}/{data}/{_slug(v['model_name'] or '') or f'line-{row.line}'}"
        seen[base] += 1
        row.row_key = base if seen[base] == 1 else f"{base}~{seen[base]}"


def _exclusion(row: TableRow) -> Issue | None:
    v = row.values
    name_field = "title" if row.table == "new" else "model_name"
    if not v[name_field]:
        return Issue(
            "securitynet.excluded.missing_name",
            f"line {row.line}: the row has no {name_field.replace('_', ' ')}; add it to the table",
            "catalog.models",
        )
    note = (v["note"] or "").strip().lower()
    for rule, notes in EXCLUDING_NOTES.items():
        if note in notes:
            return Issue(
                rule,
                f"line {row.line}: the table's note {v['note']!r} says this is not a loadable image classifier",
                "catalog.models",
            )
    return None


@dataclass
class Snapshot:
    """The latest crawled table, parsed, with when each row key was first and last seen."""

    sha256: str
    fetched_at: Any
    rows: list[TableRow]
    first_seen: dict[str, Any]
    last_seen: dict[str, Any]
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (crawl id, why) of records that are no table


def _table_record(payload: str) -> tuple[str, str]:
    """``(sha256, markdown)`` of one raw record; ValueError when it is not the record a crawl writes."""
    body = json.loads(payload)
    if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not isinstance(body.get("sha256"), str):
        raise ValueError("expected a JSON object with the table's markdown 'text' and its 'sha256'")
    return numbers.clean_text(body["sha256"]), numbers.clean_text(body["text"])  # JSON may escape lone surrogates


def latest_snapshot(raw: pl.DataFrame) -> Snapshot:
    """Parse the newest readable raw record; seen-at times come from every crawl that listed a row key.

    A record that is not a crawled table (not JSON, no markdown) is skipped and named in ``unreadable``;
    when none is readable the snapshot has no rows.
    """
    ordered = raw.sort(["fetched_at", "crawl_id"])
    first_seen: dict[str, Any] = {}
    last_seen: dict[str, Any] = {}
    keys_by_sha: dict[str, list[str]] = {}
    unreadable: list[tuple[str, str]] = []
    newest: tuple[str, str, Any] | None = None
    for payload, fetched_at, crawl_id in zip(
        ordered["payload"], ordered["fetched_at"], ordered["crawl_id"], strict=True
    ):
        try:
            sha256, text = _table_record(payload)
        except (ValueError, RecursionError) as exc:
            unreadable.append((crawl_id, f"{type(exc).__name__}: {str(exc)[:200]}"))
            continue
        if sha256 not in keys_by_sha:
            keys_by_sha[sha256] = [r.row_key for r in parse_tables(text)]
        for key in keys_by_sha[sha256]:
            first_seen.setdefault(key, fetched_at)
            last_seen[key] = fetched_at
        newest = (sha256, text, fetched_at)
    if newest is None:
        return Snapshot("", None, [], first_seen, last_seen, unreadable)
    sha256, text, fetched_at = newest
    return Snapshot(sha256, fetched_at, parse_tables(text), first_seen, last_seen, unreadable)
