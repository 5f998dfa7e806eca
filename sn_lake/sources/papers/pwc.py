"""Papers with Code's REST API: ``GET /papers/?arxiv_id=...``, one paper a request.

The raw record is the first result as received; its ``conference_name`` (older answers:
``conference`` or ``proceeding``, slugs such as ``cvpr-2016-6``) names the venue.
"""

from __future__ import annotations

from collections.abc import Iterator

from sn_lake.annotate.venues import normalize_venue
from sn_lake.http_client import PoliteClient
from sn_lake.sources.papers import Batch, Candidates

NAME = "paperswithcode"


def fetch(client: PoliteClient, base_url: str, paper_ids: list[str]) -> Iterator[Batch]:
    """One search by arXiv id per paper (the API has no batch call)."""
    url = f"{base_url.rstrip('/')}/papers/"
    for paper_id in paper_ids:
        fetched = client.fetch("GET", url, params={"arxiv_id": paper_id}, ok_statuses=frozenset({404}))
        results = (fetched.data or {}).get("results") or [] if fetched.status == 200 else []
        match = next((r for r in results if r.get("arxiv_id") == paper_id), None)
        yield Batch(fetched.url, {paper_id: match})


def candidates(record: dict) -> Candidates:
    """Title, abstract, authors and the conference, normalized."""
    conference = record.get("conference_name") or record.get("conference") or record.get("proceeding") or None
    published = record.get("published") or ""
    authors = [a for a in record.get("authors") or [] if a]
    out: Candidates = {
        "title": (record.get("title") or None, None),
        "abstract": (record.get("abstract") or None, None),
        "year": (int(published[:4]) if published[:4].isdigit() else None, published or None),
        "authors": (authors or None, None),
        "venue": (normalize_venue(conference) or conference, conference),
    }
    return {k: v for k, v in out.items() if v[0] is not None}
