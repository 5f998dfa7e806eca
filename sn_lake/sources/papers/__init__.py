"""Paper metadata for the catalog's paper ids, one module per public API.

Each API module has ``NAME``, ``fetch(client, base_url, paper_ids, ...)`` yielding one
:class:`Batch` per request (what was asked, the request URL and each id's record as received, or
None when the API does not know it), and ``candidates(record)`` turning one raw record into the
values it states (``{field: (value, as_written)}``). :mod:`.crawl` runs them politely and
incrementally into the lake, asking about the ids its asset passes in; ``sn_lake.catalog.papers`` builds
``catalog.paper_candidates`` and ``catalog.papers`` from the lake with the resolution chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Batch:
    """One request's answer: ``records`` maps every paper id asked to its record, or None when absent."""

    request_url: str
    records: dict[str, Any]


# A candidate value and the text the source wrote it as (lists are sorted where order carries no meaning).
Candidates = dict[str, tuple[Any, str | None]]
