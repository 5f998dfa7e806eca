"""Semantic Scholar's Graph API: ``POST /paper/batch`` with up to 500 ids a request.

The answer is a list aligned with the ids asked, ``null`` where Semantic Scholar does not know a
paper. The raw record is that paper's JSON object as received.
"""

from __future__ import annotations

from collections.abc import Iterator

from sn_lake.annotate.venues import normalize_venue
from sn_lake.http_client import PoliteClient
from sn_lake.sources.papers import Batch, Candidates

NAME = "semantic_scholar"
BATCH_SIZE = 500  # the API's limit for /paper/batch
FIELDS = "title,year,venue,publicationVenue,authors,externalIds,abstract"


def fetch(client: PoliteClient, base_url: str, paper_ids: list[str], batch_size: int = BATCH_SIZE) -> Iterator[Batch]:
    """One ``POST /paper/batch`` per ``min(batch_size, 500)`` arXiv ids."""
    url = f"{base_url.rstrip('/')}/paper/batch"
    size = min(batch_size, BATCH_SIZE)
    for start in range(0, len(paper_ids), size):
        chunk = paper_ids[start : start + size]
        fetched = client.fetch("POST", url, params={"fields": FIELDS}, json_body={"ids": [f"ARXIV:{p}" for p in chunk]})
        answer = fetched.data
        if not isinstance(answer, list) or len(answer) != len(chunk):
            raise ValueError(
                f"Semantic Scholar answered {fetched.url} with {type(answer).__name__} of "
                f"{len(answer) if isinstance(answer, list) else '?'} items; expected a list of {len(chunk)}, "
                "one per id asked."
            )
        yield Batch(fetched.url, dict(zip(chunk, answer, strict=True)))  # lengths checked above


def candidates(record: dict) -> Candidates:
    """Title, year, authors, abstract, DOI and ``publicationVenue`` (its name, normalized)."""
    venue = record.get("publicationVenue") or {}
    venue_name = venue.get("name") or None
    authors = [a.get("name") for a in record.get("authors") or [] if a.get("name")]
    out: Candidates = {
        "title": (record.get("title") or None, None),
        "abstract": (record.get("abstract") or None, None),
        "year": (record.get("year"), None),
        "authors": (authors or None, None),
        "doi": ((record.get("externalIds") or {}).get("DOI"), None),
        "venue": (normalize_venue(venue_name) or venue_name, venue_name),
    }
    return {k: v for k, v in out.items() if v[0] is not None}
