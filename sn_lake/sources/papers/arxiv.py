"""arXiv's export API (Atom): titles, authors, dates, ``journal_ref`` and comments, many ids a request.

arXiv asks for one request every 3 seconds and accepts a comma-separated ``id_list``; ids it does
not know are simply missing from the feed. The raw record is the ``<entry>`` element as received.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

from sn_lake.annotate.papers import arxiv_ids
from sn_lake.annotate.venues import normalize_venue
from sn_lake.http_client import PoliteClient
from sn_lake.sources.papers import Batch, Candidates

NAME = "arxiv"
BATCH_SIZE = 100
NS = {"atom": "http://www.w3.org/2005/Atom", "arxiv": "http://arxiv.org/schemas/atom"}


def _text(element: ET.Element, path: str) -> str | None:
    found = element.find(path, NS)
    if found is None or found.text is None:
        return None
    return " ".join(found.text.split()) or None


def entry_id(entry: ET.Element) -> str | None:
    """The version-free arXiv id of an Atom entry (``http://arxiv.org/abs/2104.00298v3`` -> ``2104.00298``)."""
    ids = arxiv_ids(_text(entry, "atom:id"))
    return ids[0] if ids else None


def fetch(client: PoliteClient, base_url: str, paper_ids: list[str], batch_size: int = BATCH_SIZE) -> Iterator[Batch]:
    """One Atom query per ``batch_size`` ids; yields each batch's entries keyed by paper id."""
    for start in range(0, len(paper_ids), batch_size):
        chunk = paper_ids[start : start + batch_size]
        fetched = client.fetch(
            "GET", base_url, params={"id_list": ",".join(chunk), "start": 0, "max_results": len(chunk)}, parse="text"
        )
        try:
            feed = ET.fromstring(fetched.data)
        except ET.ParseError as exc:
            raise ValueError(
                f"arXiv answered {fetched.url} with a body that is not Atom XML ({exc}); expected a feed: "
                "check SN_LAKE_ARXIV_URL."
            ) from exc
        found: dict[str, str] = {}
        for entry in feed.findall("atom:entry", NS):
            ident = entry_id(entry)
            if ident in chunk:  # errors come back as entries with an api/errors id
                found[ident] = ET.tostring(entry, encoding="unicode")
        yield Batch(fetched.url, {pid: found.get(pid) for pid in chunk})


def _venue(journal_ref: str | None, comment: str | None) -> tuple[str | None, str | None]:
    """The venue ``journal_ref`` names, else the one a comment such as ``Accepted at ICLR 2021`` names."""
    for text in (journal_ref, comment):
        venue = normalize_venue(text)
        if venue and venue != "arXiv":
            return venue, text
    return None, journal_ref


def candidates(record: str) -> Candidates:
    """Title, year, authors, abstract, DOI and the venue named by ``journal_ref`` or the comment."""
    entry = ET.fromstring(record)
    authors = [_text(a, "atom:name") for a in entry.findall("atom:author", NS)]
    authors = [a for a in authors if a]
    published = _text(entry, "atom:published")
    journal_ref = _text(entry, "arxiv:journal_ref")
    comment = _text(entry, "arxiv:comment")
    out: Candidates = {
        "title": (_text(entry, "atom:title"), None),
        "abstract": (_text(entry, "atom:summary"), None),
        "year": (int(published[:4]) if published and re.match(r"\d{4}", published) else None, published),
        "authors": (authors or None, None),
        "doi": (_text(entry, "arxiv:doi"), None),
        "venue": _venue(journal_ref, comment),
    }
    return {k: v for k, v in out.items() if v[0] is not None}
