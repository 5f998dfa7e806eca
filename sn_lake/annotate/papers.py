"""Paper identifiers: arXiv ids in one form (``2110.00476``: no prefix, no version)."""

from __future__ import annotations

import re

# New-style ids (YYMM.NNNNN) and old-style ids (archive/YYMMNNN), with optional prefix and version. The
# archive name (hep-th, cond-mat, ...) starts where a run of letters starts and is at most 20 letters long,
# so a card of one long run of letters costs linear time, not quadratic (a hostile card once took minutes).
_ARXIV = re.compile(
    r"(?:arxiv[:/ ]\s*|arxiv\.org/(?:abs|pdf)/)?"
    r"(?P<id>\d{4}\.\d{4,5}|(?<![a-z\-])[a-z\-]{1,20}(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?",
    re.IGNORECASE,
)


def arxiv_ids(text: str | None) -> list[str]:
    """Every arXiv id named in ``text`` (``'arXiv:2104.10972v4'`` -> ``['2104.10972']``), in order, once each."""
    if not text:
        return []
    found: list[str] = []
    for match in _ARXIV.finditer(text):
        ident = match.group("id")
        if "/" in ident and not re.search(r"arxiv", match.group(0), re.IGNORECASE):
            continue  # an old-style id is only trusted with an arXiv prefix or URL
        if ident not in found:
            found.append(ident)
    return found
