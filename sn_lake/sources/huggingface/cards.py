"""Which model cards a Hugging Face crawl fetches, and in which order (the card pass's plan).

A card is wanted when the listing lacks facts a card may give (``sn_lake.annotate.model_cards.needs_card``) and the
lake holds no card at the listed sha; the repos a previous run left pending come first, then the most downloaded.
The plan streams from the crawl's step files, one page in memory at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import polars as pl

from sn_lake import lake
from sn_lake.annotate.model_cards import needs_card
from sn_lake.config import Settings
from sn_lake.sources.huggingface import SOURCE
from sn_lake.sources.huggingface.parse import IS_CARD, card_sha


def listed_pages(settings: Settings, crawl_id: str) -> Iterator[list[dict]]:
    """The model objects of a crawl's listing pages, one page at a time in step order."""
    for frame in lake.iter_steps(settings, SOURCE, crawl_id, columns=["request_url", "payload"]):
        yield [json.loads(p) for p in frame.filter(~IS_CARD)["payload"]]


def wanted_cards(pages: Iterable[Iterable[dict]]) -> dict[str, tuple[str, int]]:
    """``repo id -> (sha, downloads)`` of the listed models whose listing lacks facts a card may give.

    A model listed twice (it changed during the sweep) counts with its latest copy. Only the wanted
    models are kept, so memory grows with the cards needed, not with the models listed.
    """
    wanted: dict[str, tuple[str, int]] = {}
    for models in pages:
        for m in models:
            if m.get("sha") and needs_card(m):
                wanted[m["id"]] = (m["sha"], int(m.get("downloads") or 0))
            else:
                wanted.pop(m["id"], None)
    return wanted


def drop_cards_in_lake(settings: Settings, wanted: dict[str, tuple[str, int]]) -> None:
    """Remove from ``wanted`` the models whose card at that sha the lake holds (fetched, or known absent)."""
    if not wanted:
        return
    ids = pl.Series(list(wanted), dtype=pl.String)
    for frame in lake.iter_steps(settings, SOURCE, columns=["native_id", "request_url"]):
        cards = frame.filter(IS_CARD & pl.col("native_id").is_in(ids.implode()))
        for repo_id, url in cards.iter_rows():
            if repo_id in wanted and wanted[repo_id][0] == card_sha(url):
                del wanted[repo_id]


def card_plan(wanted: dict[str, tuple[str, int]], first: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The order to fetch cards in: ``(repo id, sha)``, the repos in ``first`` (pending from the last run) in their
    order, then the most downloaded."""
    ahead = [r for r in dict.fromkeys(first) if r in wanted]
    taken = set(ahead)
    rest = sorted((r for r in wanted if r not in taken), key=lambda r: (-wanted[r][1], r))
    return [(r, wanted[r][0]) for r in [*ahead, *rest]]
