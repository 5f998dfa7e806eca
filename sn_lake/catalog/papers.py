"""Resolve paper metadata from the lake's API answers into ``catalog.paper_candidates`` and ``catalog.papers``:
the papers source's catalog builder (the crawl is ``sn_lake.sources.papers.crawl``; the paper ids it asks about
come from :func:`catalog_paper_ids`, which its asset passes in).

Every value every API states is kept as a candidate with its source; the resolved value of a
field is the first candidate along that field's chain (:data:`CHAINS`):

- venue: DBLP's non-CoRR record, then Semantic Scholar's ``publicationVenue``, then Papers with
  Code's ``conference_name``, then arXiv's ``journal_ref``/comment; a candidate that only says
  *arXiv* does not stop the chain, and a paper no API places at a venue is an ``arXiv`` paper;
- countries and publisher type: OpenAlex's authorships;
- title, authors, year, DOI, abstract: the chains below.
Re-resolving never needs a re-crawl.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb
import polars as pl

from sn_lake import catalog, lake, warehouse
from sn_lake.annotate import numbers
from sn_lake.annotate.purpose import explain_paper_purpose
from sn_lake.annotate.venues import venue_type
from sn_lake.config import Settings
from sn_lake.sources.papers import crawl
from sn_lake.sources.papers.crawl import split_paper_ids

PAPER_IDS_SQL = "SELECT DISTINCT paper_id FROM catalog.models WHERE paper_id IS NOT NULL ORDER BY 1"

PWC = "paperswithcode"
CHAINS: dict[str, tuple[str, ...]] = {
    "venue": ("dblp", "semantic_scholar", PWC, "arxiv"),
    "title": ("arxiv", "semantic_scholar", "dblp", "openalex", PWC),
    "year": ("dblp", "semantic_scholar", "openalex", "arxiv", PWC),
    "authors": ("arxiv", "semantic_scholar", "dblp", "openalex", PWC),
    "doi": ("semantic_scholar", "dblp", "openalex", "arxiv"),
    "abstract": ("arxiv", "semantic_scholar", PWC),
    "countries": ("openalex",),
    "publisher_type": ("openalex",),
}

CANDIDATE_SCHEMA = {
    "paper_id": pl.String, "source": pl.String, "title": pl.String, "year": pl.Int32, "venue": pl.String,
    "venue_type": pl.String, "authors": pl.List(pl.String), "n_authors": pl.Int32, "countries": pl.List(pl.String),
    "publisher_type": pl.String, "venue_as_written": pl.String, "doi": pl.String, "institution_types": pl.String,
    "request_url": pl.String, "fetched_at": pl.Datetime("us", "UTC"),
}  # fmt: skip

PAPER_SCHEMA = {
    "paper_id": pl.String, "title": pl.String, "year": pl.Int32, "venue": pl.String, "venue_type": pl.String,
    "authors": pl.List(pl.String), "n_authors": pl.Int32, "countries": pl.List(pl.String), "publisher_type": pl.String,
    "purpose": pl.String, "purpose_reason": pl.String, "venue_source": pl.String, "provenance": pl.String,
    "doi": pl.String, "abstract": pl.String, "sources": pl.List(pl.String), "resolved_at": pl.Datetime("us", "UTC"),
}  # fmt: skip


def paper_candidates(
    records: pl.DataFrame, issues: list[dict] | None = None
) -> dict[str, dict[str, dict[str, tuple[Any, str | None]]]]:
    """``{paper_id: {api: {field: (value, as_written)}}}`` from the latest answer of each API (absent answers give
    nothing). An answer no candidates can be read from (an API's stranger-written JSON of another shape) gives
    nothing too, and a ``record.unreadable`` entry in ``issues`` (``row_key`` ``papers:<api>:<paper id>``)."""
    out: dict[str, dict[str, dict]] = {}
    for row in records.iter_rows(named=True):
        out.setdefault(row["paper_id"], {})
        try:
            payload = numbers.record_object(row["record"])
            if payload.get("record") is None:
                continue
            fields = crawl.MODULES[row["api"]].candidates(payload["record"])
            row_key = f"{crawl.SOURCE}:{row['api']}:{row['paper_id']}"
            out[row["paper_id"]][row["api"]] = checked(fields, row_key, issues)
        except Exception as exc:  # noqa: BLE001 - any answer a stranger wrote: quarantined, never the build's end
            if issues is not None:
                row_key = f"{crawl.SOURCE}:{row['api']}:{row['paper_id']}"
                issues.append(numbers.unreadable(row_key, exc, "catalog.papers"))
    return out


# a candidate field -> the column type its value must have (year: also within numbers.RANGES["year"])
FIELD_TYPES = {
    "title": pl.String,
    "venue": pl.String,
    "authors": pl.List(pl.String),
    "countries": pl.List(pl.String),
    "publisher_type": pl.String,
    "doi": pl.String,
    "abstract": pl.String,
}


def checked(fields: dict, row_key: str, issues: list[dict] | None) -> dict[str, tuple[Any, str | None]]:
    """``fields`` without the values the rules refuse (so the field's chain goes on to the next API): a year out of
    range or not a whole number, a value of the wrong type. Each refused value gets an entry in ``issues``."""
    problems: list[numbers.Problem] = []
    out = {}
    for name, (value, as_written) in fields.items():
        if name == "year":
            value, problem = numbers.whole_number("year", value)
            problems.extend([problem] if problem else [])
        elif name in FIELD_TYPES:
            value = numbers.typed_row({name: value}, {name: FIELD_TYPES[name]}, problems)[name]
        as_written = as_written if isinstance(as_written, str) else None
        if value is not None:
            out[name] = (value, numbers.clean_text(as_written) if as_written else as_written)
    if issues is not None:
        issues.extend(p.entry(row_key, "catalog.papers") for p in problems)
    return out


def resolve(by_api: dict[str, dict[str, tuple[Any, str | None]]]) -> tuple[dict, dict[str, str]]:
    """The resolved values of one paper and, per field, the API they came from."""
    resolved: dict[str, Any] = {}
    chosen: dict[str, str] = {}
    for field, chain in CHAINS.items():
        for api in chain:
            value = by_api.get(api, {}).get(field, (None, None))[0]
            if value is None or (field == "venue" and value == "arXiv"):
                continue  # a venue that only says arXiv does not stop the chain
            resolved[field], chosen[field] = value, api
            break
    if "venue" not in resolved and by_api:  # known to the APIs, placed at no venue: a preprint
        resolved["venue"] = "arXiv"
        chosen["venue"] = next((a for a in CHAINS["venue"][::-1] if a in by_api), next(iter(sorted(by_api))))
    return resolved, chosen


def _candidate_row(paper_id: str, api: str, fields: dict, fetched: dict) -> dict:
    value = {k: v[0] for k, v in fields.items()}
    authors = value.get("authors")
    return {
        "paper_id": paper_id,
        "source": api,
        "title": value.get("title"),
        "year": value.get("year"),
        "venue": value.get("venue"),
        "venue_type": venue_type(value.get("venue")),
        "authors": authors,
        "n_authors": len(authors) if authors else None,
        "countries": value.get("countries"),
        "publisher_type": value.get("publisher_type"),
        "venue_as_written": fields.get("venue", (None, None))[1],
        "doi": value.get("doi"),
        "institution_types": fields.get("publisher_type", (None, None))[1],
        **fetched[(api, paper_id)],
    }


def build(
    records: pl.DataFrame, resolved_at=None, issues: list[dict] | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The ``catalog.paper_candidates`` and ``catalog.papers`` frames for the given latest answers; what the rules
    refuse (a year out of range, a value of the wrong type, an unreadable answer) goes to ``issues``."""
    resolved_at = resolved_at or lake.utcnow()
    fetched = {
        (r["api"], r["paper_id"]): {"request_url": r["request_url"], "fetched_at": r["fetched_at"]}
        for r in records.iter_rows(named=True)
    }
    candidates, papers = [], []
    for paper_id, by_api in sorted(paper_candidates(records, issues).items()):
        candidates.extend(_candidate_row(paper_id, api, fields, fetched) for api, fields in sorted(by_api.items()))
        values, chosen = resolve(by_api)
        venue = values.get("venue")
        purpose, reason = explain_paper_purpose(values.get("title"), values.get("abstract"), venue)
        authors = values.get("authors")
        papers.append(
            {
                "paper_id": paper_id,
                "title": values.get("title"),
                "year": values.get("year"),
                "venue": venue,
                "venue_type": venue_type(venue),
                "authors": authors,
                "n_authors": len(authors) if authors else None,
                "countries": values.get("countries"),
                "publisher_type": values.get("publisher_type"),
                "purpose": purpose,
                "purpose_reason": reason,
                "venue_source": chosen.get("venue"),
                "provenance": json.dumps(chosen, sort_keys=True),
                "doi": values.get("doi"),
                "abstract": values.get("abstract"),
                "sources": sorted(by_api),
                "resolved_at": resolved_at,
            }
        )
    return pl.DataFrame(candidates, schema=CANDIDATE_SCHEMA), pl.DataFrame(papers, schema=PAPER_SCHEMA)


def build_papers(settings: Settings, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rebuild ``catalog.paper_candidates`` and ``catalog.papers`` from the lake (and ``raw.crawls``); returns their
    row counts. Values the rules refuse and unreadable answers go to ``catalog.quarantine`` (``papers:`` keys)."""
    issues: list[dict] = []
    candidates, papers = build(crawl.latest_records(settings), issues=issues)
    warehouse.replace_rows(con, "catalog.paper_candidates", candidates, "true")
    warehouse.replace_rows(con, "catalog.papers", papers, "true")
    catalog.record_crawls(settings, con, crawl.SOURCE, issues)
    catalog.replace_quarantine(con, crawl.SOURCE, issues)
    return {"paper_candidates": candidates.height, "papers": papers.height}


def catalog_paper_ids(settings: Settings) -> tuple[list[str], list[str]]:
    """:func:`~sn_lake.sources.papers.crawl.split_paper_ids` of ``catalog.models.paper_id``: the arXiv ids the
    papers crawl asks about, and the ids it cannot (read-only; waits while a writer holds the file)."""
    if not warehouse.exists(settings):
        return [], []
    return split_paper_ids(v for (v,) in warehouse.read_when_free(settings, PAPER_IDS_SQL))
