"""DBLP's publication search: the venue of a paper's published (non-CoRR) version.

DBLP has no arXiv-id lookup, so a paper is searched by its title (from arXiv or Semantic
Scholar); the hit whose title matches and which is not the CoRR (arXiv) record names the venue.
The raw record is that hit's ``info`` object as received (None when only CoRR or nothing matched).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from sn_lake.annotate.venues import normalize_venue
from sn_lake.http_client import PoliteClient
from sn_lake.sources.papers import Batch, Candidates

NAME = "dblp"
HITS = 10


def title_key(title: str | None) -> str:
    """A title compared on letters and digits only (DBLP ends titles with a period)."""
    return re.sub(r"[^a-z0-9]+", "", (title or "").lower())


def is_corr(info: dict) -> bool:
    venue = info.get("venue")
    venues = venue if isinstance(venue, list) else [venue]
    return str(info.get("key", "")).startswith("journals/corr/") or "CoRR" in venues


def fetch(client: PoliteClient, base_url: str, titles: dict[str, str]) -> Iterator[Batch]:
    """One title search per paper (``{paper_id: title}``)."""
    for paper_id, title in titles.items():
        fetched = client.fetch("GET", base_url, params={"q": title, "format": "json", "h": HITS})
        hits = (((fetched.data or {}).get("result") or {}).get("hits") or {}).get("hit") or []
        infos = [h.get("info") or {} for h in hits]
        match = next((i for i in infos if title_key(i.get("title")) == title_key(title) and not is_corr(i)), None)
        yield Batch(fetched.url, {paper_id: match})


def _authors(info: dict) -> list[str]:
    author = (info.get("authors") or {}).get("author") or []
    author = author if isinstance(author, list) else [author]  # DBLP writes a lone author as an object
    names = [a.get("text") if isinstance(a, dict) else a for a in author]
    return [re.sub(r"\s+\d{4}$", "", n) for n in names if n]  # drop DBLP's homonym numbers ("Wei Liu 0002")


def candidates(record: dict) -> Candidates:
    """Title, year, authors and the venue of the published version."""
    venue = record.get("venue")
    venue = venue[0] if isinstance(venue, list) and venue else venue
    year = str(record.get("year") or "")
    authors = _authors(record)
    out: Candidates = {
        "title": ((record.get("title") or "").rstrip(".") or None, None),
        "year": (int(year) if year.isdigit() else None, None),
        "authors": (authors or None, None),
        "doi": (record.get("doi"), None),
        "venue": (normalize_venue(venue) or venue or None, venue or None),
    }
    return {k: v for k, v in out.items() if v[0] is not None}
