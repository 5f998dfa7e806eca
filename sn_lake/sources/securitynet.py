"""The SecurityNet database table (TrustAIRLab/SecurityNet, ``Database/README.MD``) as a source.

A crawl fetches the markdown from ``SN_LAKE_SECURITYNET_URL`` (a URL, through the shared polite
client, or a local path) and keeps it whole in the lake as one raw record. The catalog build
parses its three tables (benchmark models, security-research models, new models) into:

* ``catalog.models`` rows ``securitynet:<row key>`` (:func:`catalog_rows`);
* ``catalog.securitynet_labels``: what the study's annotators state for every table row;
* ``results.*`` rows of the study's published metrics, ``origin = 'published:securitynet'``;
* ``catalog.quarantine`` entries: every value read as NULL (sentinel ``0`` / ``nan``, unreadable,
  out of range) and every row kept out of the catalog, each with its rule and reason.

Row keys are stable and unique: ``<table>/<data name>/<model name>`` for model rows and
``new/<title>`` for new-model rows (lower case, spaces as ``-``); a key seen again in the same
table gets ``~2``, ``~3``... in order of appearance (the security table lists each
AdversaryLossLandscape model three times, with different metrics).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from sn_lake import lake, warehouse
from sn_lake.annotate import numbers
from sn_lake.annotate.architectures import model_family
from sn_lake.annotate.countries import normalize_countries, unrecognized_countries
from sn_lake.annotate.datasets import canonical_dataset, data_category
from sn_lake.annotate.papers import arxiv_ids
from sn_lake.annotate.purpose import PURPOSES, paper_purpose
from sn_lake.annotate.venues import normalize_venue
from sn_lake.config import Settings, redact_userinfo
from sn_lake.sources.http import HttpError, PoliteClient, RetryPolicy

SOURCE = "securitynet"
ORIGIN = "published:securitynet"
NATIVE_ID = "database-table"

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
    ("imagenet_stealing_accuracy", "imagenet_stealing_agreement", {"aux_dataset": "imagenet-1k", "surrogate_arch": None}),
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


class SourceUnreachable(RuntimeError):
    """The table could not be fetched or read (network down, missing file, bad answer)."""


# --- parsing ---------------------------------------------------------------------------------


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
            return None, Issue("securitynet.null.invalid_value", f"column {column!r} = {raw!r} is not a link; read as NULL")
        return url, None
    if kind == "text":
        if raw.lower() == "nan":
            return None, Issue("securitynet.null.sentinel_nan", f"column {column!r} = 'nan' (the table's missing-value mark) read as NULL")
        return (raw or None), None
    if not raw:
        return None, None
    if raw.lower() == "nan":
        return None, Issue("securitynet.null.sentinel_nan", f"column {column!r} = {raw!r} (the table's missing-value mark) read as NULL")
    try:
        number = float(raw)
    except ValueError:
        return None, Issue("securitynet.null.invalid_value", f"column {column!r} = {raw!r} is not a number; read as NULL")
    if number == 0 and kind != "gap":
        return None, Issue("securitynet.null.sentinel_zero", f"column {column!r} = {raw!r} (the table's 'not measured' mark) read as NULL")
    if kind in ("count", "year"):
        whole = math.isfinite(number) and number == int(number) and 0 <= number <= COUNT_MAX
        if not whole or (kind == "year" and not 1950 <= number <= 2100):
            expected = "a year between 1950 and 2100" if kind == "year" else "a positive whole number"
            return None, Issue("securitynet.null.out_of_range", f"column {column!r} = {raw!r}, expected {expected}; read as NULL")
        return int(number), None
    low = -1.0 if kind == "gap" else 0.0
    if not low <= number <= 1.0:
        return None, Issue("securitynet.null.out_of_range", f"column {column!r} = {raw!r}, expected a fraction in [{low:g}, 1]; read as NULL")
    return number, None


def _read_row(table: str, line: int, header: list[str], cells: list[str]) -> TableRow:
    row = TableRow(table=table, line=line, values=dict.fromkeys(FIELDS))
    if len(cells) != len(header):
        for name, text in zip(header, cells):  # the identity cells, read by position, only name the row key
            spec = COLUMNS.get(" ".join(name.lower().split()))
            if spec and spec[0] in ("model_name", "data_name", "title"):
                row.values[spec[0]] = text or None
        row.excluded = Issue(
            "securitynet.excluded.malformed_row",
            f"line {line}: expected {len(header)} cells like the table's header, found {len(cells)}; fix the row in the table",
            "catalog.models",
        )
        return row
    for name, text in zip(header, cells):
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
                    f"column 'Overfit Gap' = {row.values['overfit_gap']!r} was computed from the Train Accuracy sentinel 0; read as NULL",
                    "results.task_accuracy",
                    "overfit_gap",
                )
            )
            row.values["overfit_gap"] = None
    v = row.values
    if v["purpose"]:
        v["purpose"] = v["purpose"].strip().lower()
        if v["purpose"] not in PURPOSES:
            row.issues.append(Issue("securitynet.null.unknown_purpose", f"Purpose {v['purpose']!r} is none of {', '.join(PURPOSES)}; "
                                    "read as NULL", field="purpose"))
            v["purpose"] = None
    if v["data_name"] and canonical_dataset(v["data_name"]) is None:
        row.issues.append(Issue("securitynet.null.unknown_dataset", f"Data Name {v['data_name']!r} is no dataset sn_lake knows; "
                                "catalog dataset is NULL (add it to sn_lake/annotate/datasets.py)", "catalog.models", "dataset"))
    if v["countries"] and normalize_countries(v["countries"]) is None:
        row.issues.append(Issue("securitynet.null.unknown_country", f"Country {v['countries']!r} names {unrecognized_countries(v['countries'])}, "
                                "no country sn_lake knows; country_codes is NULL (add it to sn_lake/annotate/countries.py)", field="countries"))
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
                f"line {number}: table under heading {heading!r} is none of benchmark/security/new models; extend TABLE_HEADINGS to read it",
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
            base = f"{row.table}/{_slug(v['data_name'] or '') or 'unknown-data'}/{_slug(v['model_name'] or '') or f'line-{row.line}'}"
        seen[base] += 1
        row.row_key = base if seen[base] == 1 else f"{base}~{seen[base]}"


def _exclusion(row: TableRow) -> Issue | None:
    v = row.values
    name_field = "title" if row.table == "new" else "model_name"
    if not v[name_field]:
        return Issue("securitynet.excluded.missing_name", f"line {row.line}: the row has no {name_field.replace('_', ' ')}; add it to the table", "catalog.models")
    note = (v["note"] or "").strip().lower()
    for rule, notes in EXCLUDING_NOTES.items():
        if note in notes:
            return Issue(rule, f"line {row.line}: the table's note {v['note']!r} says this is not a loadable image classifier", "catalog.models")
    return None


# --- fetching and the lake -------------------------------------------------------------------


def is_url(location: str) -> bool:
    """Whether ``SN_LAKE_SECURITYNET_URL`` is an http(s) URL rather than a local path."""
    return bool(re.match(r"https?://", location))


def fetch_table(location: str) -> str:
    """The markdown at ``location`` (an http(s) URL, fetched politely with retries, or a local path)."""
    if is_url(location):
        try:
            with PoliteClient(policy=RetryPolicy(attempts=4), timeout=30.0, name=SOURCE) as client:
                return client.get_text(location)
        except HttpError as exc:
            shown = redact_userinfo(location)  # an http://user:pass@ URL is never shown
            raise SourceUnreachable(f"Could not fetch the SecurityNet table from {shown}: {exc}") from exc
    path = Path(location).expanduser()
    if not path.is_file():
        raise SourceUnreachable(
            f"Expected the SecurityNet table at {path}, found no file: set SN_LAKE_SECURITYNET_URL to the table's URL or a local copy."
        )
    return path.read_text(encoding="utf-8")


def crawl(settings: Settings) -> dict:
    """Fetch the table into ``lake/raw/securitynet/`` as one raw record; returns the crawl summary.

    Raises :class:`SourceUnreachable` (nothing written) when the table cannot be fetched, and
    ValueError (nothing written) when what came back holds none of the three tables.
    """
    started = time.monotonic()
    location = settings.securitynet_url
    markdown = fetch_table(location)
    rows = parse_tables(markdown)
    counts = Counter(r.table for r in rows)
    if not any(counts[t] for t in (*MODEL_TABLES, "new")):
        shown = redact_userinfo(location)
        raise ValueError(
            f"Expected the SecurityNet markdown tables at {shown}, found {len(rows)} table rows and none under a "
            "benchmark/security/new-models heading: check SN_LAKE_SECURITYNET_URL points at Database/README.MD."
        )
    crawl_id = lake.new_crawl_id()
    sha256 = hashlib.sha256(markdown.encode("utf-8")).hexdigest()
    request_url = location if is_url(location) else Path(location).expanduser().resolve().as_uri()
    payload = {"format": "markdown", "sha256": sha256, "text": markdown}
    lake.write_raw(settings, SOURCE, crawl_id, 1, [{"native_id": NATIVE_ID, "request_url": request_url, "payload": payload}])
    summary = {
        "records": 1,
        "steps": 1,
        "table_rows": len(rows),
        **{f"rows_{t}": counts[t] for t in ("benchmark", "security", "new")},
        "sha256": sha256,
        "url": redact_userinfo(request_url),  # the Dagster metadata and logs show it
        "seconds": round(time.monotonic() - started, 3),
    }
    lake.finish_crawl(settings, SOURCE, crawl_id, summary)
    return {"crawl_id": crawl_id, **summary}


# --- catalog ---------------------------------------------------------------------------------


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
    for payload, fetched_at, crawl_id in zip(ordered["payload"], ordered["fetched_at"], ordered["crawl_id"]):
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


def _architecture(name: str) -> str:
    """The model name without its file extension and a trailing dataset suffix (``resnet20_cifar10`` -> ``resnet20``)."""
    stem = re.sub(r"\.(pth|pt|ckpt|tar|pth\.tar|bin|safetensors)$", "", name.strip(), flags=re.IGNORECASE)
    head, _, tail = stem.rpartition("_")
    return head if head and (canonical_dataset(tail) or tail.lower() == "cub") else stem


def model_row(row: TableRow, sha256: str) -> dict:
    """The catalog.models row of one table row that is not excluded (without seen-at times)."""
    v = row.values
    paper = arxiv_ids(v["paper_url"])
    dataset = canonical_dataset(v["data_name"]) or (canonical_dataset(v["note"]) if row.table == "new" else None)
    if row.table == "new":
        architecture = model_type = None
        purpose = paper_purpose(v["title"], venue=v["venue"])  # the new-models table states no purpose
    else:
        architecture = _architecture(v["model_name"])
        model_type = model_family(v["model_type"]) or model_family(architecture)
        purpose = v["purpose"]
    return {
        "model_id": row.model_id,
        "source": SOURCE,
        "name": v["model_name"] or v["title"],
        "revision": f"sha256:{sha256[:12]}",
        "architecture": architecture,
        "model_type": model_type,
        "dataset": dataset,
        "data_category": data_category(dataset) or (v["data_category"].lower() if v["data_category"] else None),
        "num_classes": v["num_classes"],
        "input_size": None,
        "library": None,
        "license": None,
        "paper_id": paper[0] if paper else None,
        "purpose": purpose,
        "weights_url": v["weights_url"],
    }


CATALOG_SCHEMA = {
    "model_id": pl.String, "source": pl.String, "name": pl.String, "revision": pl.String,
    "architecture": pl.String, "model_type": pl.String, "dataset": pl.String, "data_category": pl.String,
    "num_classes": pl.Int32, "input_size": pl.Int32, "library": pl.String, "license": pl.String,
    "paper_id": pl.String, "purpose": pl.String, "weights_url": pl.String,
    "first_seen_at": pl.Datetime("us", "UTC"), "last_seen_at": pl.Datetime("us", "UTC"),
}  # fmt: skip


def catalog_rows(raw: pl.DataFrame, issues: list[dict] | None = None) -> pl.DataFrame:
    """catalog.models rows for every row of the latest table that no rule excluded.

    The table's own rules quarantine values and rows (:func:`build_tables`); a raw record that is not a
    crawled table goes to ``issues`` as ``record.unreadable``.
    """
    snap = latest_snapshot(raw)
    if issues is not None:
        for crawl_id, why in snap.unreadable:
            issues.append(numbers.unreadable(f"{SOURCE}:{NATIVE_ID}@{crawl_id}", ValueError(why)))
    rows = [
        {**model_row(r, snap.sha256), "first_seen_at": snap.first_seen[r.row_key], "last_seen_at": snap.last_seen[r.row_key]}
        for r in snap.rows
        if r.excluded is None
    ]
    return pl.DataFrame(rows, schema=CATALOG_SCHEMA)


LABEL_SCHEMA = {
    "row_key": pl.String, "model_id": pl.String, "in_catalog": pl.Boolean, "table_name": pl.String,
    "line": pl.Int32, "model_name": pl.String, "title": pl.String, "model_type": pl.String,
    "data_name": pl.String, "data_category": pl.String, "num_classes": pl.Int32, "training_size": pl.Int64,
    "venue": pl.String, "venue_normalized": pl.String, "venue_type": pl.String, "year": pl.Int32,
    "countries": pl.String, "country_codes": pl.List(pl.String), "n_authors": pl.Int32, "purpose": pl.String, "paper_url": pl.String,
    "paper_id": pl.String, "weights_url": pl.String, "note": pl.String, "table_sha256": pl.String,
}  # fmt: skip


def label_rows(snap: Snapshot) -> pl.DataFrame:
    """catalog.securitynet_labels: the annotators' labels of every table row, as the table states them."""
    out = []
    for r in snap.rows:
        v = r.values
        paper = arxiv_ids(v["paper_url"])
        out.append(
            {
                "row_key": r.row_key, "model_id": r.model_id, "in_catalog": r.excluded is None,
                "table_name": r.table, "line": r.line,
                **{k: v[k] for k in ("model_name", "title", "model_type", "data_name", "data_category", "num_classes",
                                     "training_size", "venue", "venue_type", "year", "countries", "n_authors",
                                     "paper_url", "weights_url", "note")},
                "venue_normalized": normalize_venue(v["venue"]),
                "country_codes": normalize_countries(v["countries"]),
                "purpose": v["purpose"],
                "paper_id": paper[0] if paper else None,
                "table_sha256": snap.sha256,
            }
        )  # fmt: skip
    return pl.DataFrame(out, schema=LABEL_SCHEMA)


def quarantine_rows(snap: Snapshot, detected_at: Any) -> pl.DataFrame:
    """catalog.quarantine entries: every row kept out of the catalog and every value read as NULL."""
    out = []
    for r in snap.rows:
        for issue in ([r.excluded] if r.excluded else []) + r.issues:
            out.append({"table_name": issue.table_name, "row_key": r.model_id, "rule": issue.rule, "detail": issue.detail, "detected_at": detected_at})
    schema = {"table_name": pl.String, "row_key": pl.String, "rule": pl.String, "detail": pl.String, "detected_at": pl.Datetime("us", "UTC")}
    return pl.DataFrame(out, schema=schema)


def result_rows(snap: Snapshot) -> dict[str, pl.DataFrame]:
    """The study's published metrics per results table (a row only where at least one metric is stated)."""
    common_schema = {"model_id": pl.String, "revision": pl.String, "dataset": pl.String, "origin": pl.String, "computed_at": pl.Datetime("us", "UTC")}
    task, stealing, mia = [], [], []
    for r in snap.rows:
        if r.excluded is not None or r.table not in MODEL_TABLES:
            continue
        v = r.values
        common = {"model_id": r.model_id, "revision": f"sha256:{snap.sha256[:12]}", "dataset": canonical_dataset(v["data_name"]), "origin": ORIGIN, "computed_at": snap.fetched_at}
        if any(v[f] is not None for f in ("train_accuracy", "test_accuracy", "overfit_gap")):
            task.append({**common, "train_accuracy": v["train_accuracy"], "test_accuracy": v["test_accuracy"], "overfit_gap": v["overfit_gap"]})
        for acc, agree, fixed in STEALING_SETTINGS:
            if v[acc] is not None or v[agree] is not None:
                stealing.append({**common, **fixed, "stealing_accuracy": v[acc], "agreement": v[agree]})
        for fld, attack in MIA_ATTACKS:
            if v[fld] is not None:
                mia.append({**common, "attack": attack, "auc": v[fld]})
    return {
        "results.task_accuracy": pl.DataFrame(task, schema={**common_schema, "train_accuracy": pl.Float64, "test_accuracy": pl.Float64, "overfit_gap": pl.Float64}),
        "results.model_stealing": pl.DataFrame(stealing, schema={**common_schema, "aux_dataset": pl.String, "surrogate_arch": pl.String, "stealing_accuracy": pl.Float64, "agreement": pl.Float64}),
        "results.membership_inference": pl.DataFrame(mia, schema={**common_schema, "attack": pl.String, "auc": pl.Float64}),
    }  # fmt: skip


def build_tables(con: duckdb.DuckDBPyConnection, raw: pl.DataFrame) -> dict[str, int]:
    """Rebuild the SecurityNet labels, its quarantine entries and its published results from the raw records."""
    snap = latest_snapshot(raw)
    counts = {"catalog.securitynet_labels": warehouse.replace_rows(con, "catalog.securitynet_labels", label_rows(snap), "true")}
    counts["catalog.quarantine"] = warehouse.replace_rows(
        con, "catalog.quarantine", quarantine_rows(snap, lake.utcnow()), "row_key LIKE ?", [f"{SOURCE}:%"]
    )
    for table, frame in result_rows(snap).items():
        counts[table] = warehouse.replace_rows(con, table, frame, "origin = ?", [ORIGIN])
    return counts
