"""OpenAlex's works API: authorships, hence the authors' countries and institution types.

Works are looked up by DOI, many a request (``filter=doi:a|b|...``): the published version's DOI
when Semantic Scholar gave one, and arXiv's own DOI (``10.48550/arXiv.<id>``). The raw record is
the work's JSON as received.
"""

from __future__ import annotations

from collections.abc import Iterator

from sn_lake.annotate.countries import normalize_countries
from sn_lake.http_client import PoliteClient
from sn_lake.sources.papers import Batch, Candidates

NAME = "openalex"
MAX_FILTER_VALUES = 50  # OpenAlex's limit for OR-ed filter values, and its largest page

# OpenAlex institution types -> the study's publisher kinds
INSTITUTION_KINDS = {
    "education": "academia",
    "facility": "academia",
    "government": "academia",
    "nonprofit": "academia",
    "healthcare": "academia",
    "archive": "academia",
    "company": "industry",
}


def arxiv_doi(paper_id: str) -> str:
    return f"10.48550/arxiv.{paper_id}"


def _bare_doi(doi: str | None) -> str | None:
    if not doi:
        return None
    return doi.lower().removeprefix("https://doi.org/").removeprefix("http://doi.org/").removeprefix("doi:")


def fetch(client: PoliteClient, base_url: str, dois: dict[str, list[str]]) -> Iterator[Batch]:
    """Look up each paper's DOIs (``{paper_id: [preferred doi, fallback doi]}``); the first DOI found wins."""
    url = f"{base_url.rstrip('/')}/works"
    papers = list(dois)
    start = 0
    while start < len(papers):
        chunk, values = [], []
        while start < len(papers) and len(values) + len(dois[papers[start]]) <= MAX_FILTER_VALUES:
            chunk.append(papers[start])
            values.extend(_bare_doi(d) for d in dois[papers[start]])
            start += 1
        if not chunk:
            raise ValueError(
                f"paper {papers[start]} has more than {MAX_FILTER_VALUES} DOIs to look up; expected one or two."
            )
        fetched = client.fetch("GET", url, params={"filter": "doi:" + "|".join(values), "per-page": MAX_FILTER_VALUES})
        by_doi = {_bare_doi(w.get("doi")): w for w in (fetched.data or {}).get("results") or []}
        records = {}
        for paper_id in chunk:
            records[paper_id] = next((by_doi[d] for d in map(_bare_doi, dois[paper_id]) if d in by_doi), None)
        yield Batch(fetched.url, records)


def publisher_type(kinds: set[str]) -> str | None:
    """``academia``, ``industry`` or ``mixed`` from the kinds of the authors' institutions; None when unknown."""
    if not kinds:
        return None
    return next(iter(kinds)) if len(kinds) == 1 else "mixed"


def candidates(record: dict) -> Candidates:
    """Title, year, authors, countries (ISO codes) and publisher type from the authorships."""
    authorships = record.get("authorships") or []
    authors = [(a.get("author") or {}).get("display_name") for a in authorships]
    authors = [a for a in authors if a]
    countries: set[str] = set()
    types: set[str] = set()
    for authorship in authorships:
        institutions = authorship.get("institutions") or []
        countries.update(c for c in authorship.get("countries") or [] if c)
        countries.update(i.get("country_code") for i in institutions if i.get("country_code"))
        types.update(i.get("type") for i in institutions if i.get("type"))
    codes = normalize_countries(sorted(countries)) if countries else None
    kinds = {INSTITUTION_KINDS[t] for t in types if t in INSTITUTION_KINDS}
    out: Candidates = {
        "title": (record.get("title") or record.get("display_name") or None, None),
        "year": (record.get("publication_year"), None),
        "authors": (authors or None, None),
        "doi": (_bare_doi(record.get("doi")), record.get("doi")),
        "countries": (codes, ",".join(sorted(countries)) or None),
        "publisher_type": (publisher_type(kinds), ",".join(sorted(types)) or None),
    }
    return {k: v for k, v in out.items() if v[0] is not None}
