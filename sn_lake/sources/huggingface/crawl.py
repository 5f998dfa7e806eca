"""The Hugging Face crawl's state machine: the listing sweep, then the card pass, each persisted step by step in
the lake with the crawl state in ``lake/state/huggingface.json`` (see the package's docstring)."""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from sn_lake import lake, progress
from sn_lake.config import Settings, redact_userinfo
from sn_lake.http_client import (
    DEFAULT_USER_AGENT,
    HttpError,
    PoliteClient,
    RateLimit,
    RetryPolicy,
    parse_ratelimit,
)
from sn_lake.sources.huggingface import SOURCE
from sn_lake.sources.huggingface.cards import (
    card_plan,
    drop_cards_in_lake,
    listed_pages,
    wanted_cards,
)
from sn_lake.sources.huggingface.parse import card_url

EXPAND = (
    "sha", "lastModified", "createdAt", "tags", "pipeline_tag", "library_name", "downloads", "likes",
    "cardData", "model-index", "safetensors", "config", "gated", "private", "baseModels",
)  # fmt: skip
PAGE_LIMIT = 1000
CARD_BATCH = 100  # cards per lake step (the resume granularity of the card pass)
# answers that mean "no card to read at this sha" (none, or a gated repo whose terms we have not
# accepted): recorded as an empty card, so the same sha is not asked for again
CARD_ABSENT = frozenset({401, 403, 404})
PACER_RESERVE = 0.05  # the share of a quota PoliteClient keeps in reserve (its default), for the quota's ETA

log = logging.getLogger(__name__)


class Logger(Protocol):
    def info(self, msg: str) -> Any: ...
    def warning(self, msg: str) -> Any: ...


@dataclass(frozen=True)
class CrawlConfig:
    """What one crawl lists and how much it may fetch.

    ``pipeline_tag``/``library``/``author``/``search`` are the Hub's list filters; ``limit`` stops
    the sweep after that many models (None: all); ``full`` starts a new sweep even when one can be
    resumed and re-fetches cards already in the lake. The card pass fetches every card it needs
    unless an opt-in budget stops it: ``max_requests`` (requests this run, the listing's included),
    ``max_seconds`` (seconds this run) or ``card_cap`` (cards this run); what it leaves is pending.
    The listing itself always completes (the catalog is built from it).
    """

    pipeline_tag: str | None = "image-classification"
    library: str | None = None
    author: str | None = None
    search: str | None = None
    limit: int | None = None
    full: bool = False
    card_cap: int | None = None
    max_requests: int | None = None
    max_seconds: float | None = None
    card_concurrency: int = 8
    timeout_s: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def query(self) -> list[tuple[str, str]]:
        """The first listing request's query parameters."""
        params = [(k, str(v)) for k in ("pipeline_tag", "library", "author", "search") if (v := getattr(self, k))]
        params.append(("limit", str(min(PAGE_LIMIT, self.limit) if self.limit else PAGE_LIMIT)))
        params.extend(("expand[]", name) for name in EXPAND)
        return params


def listing_url(endpoint: str) -> str:
    return f"{endpoint}/api/models"


def _sweep_key(endpoint: str, config: CrawlConfig) -> dict:
    return {"endpoint": redact_userinfo(endpoint), "query": config.query()}  # as the state file holds it


def pending_cards(settings: Settings) -> dict:
    """How many needed cards the lake still lacks, from the crawl state: ``pending`` (None while a listing runs or
    before any crawl), ``crawl_id``, ``phase`` and why the last card pass stopped (``stopped_by``)."""
    state = lake.load_state(settings, SOURCE)
    phase = state.get("phase")
    if phase == "cards" and state.get("planned"):
        pending = len(state.get("card_plan") or []) - state.get("cards_done", 0) + state.get("card_errors", 0)
    elif phase == "done":
        pending = int(state.get("cards_pending") or 0)
    else:
        pending = None
    return {
        "pending": pending,
        "crawl_id": state.get("crawl_id"),
        "phase": phase,
        "stopped_by": state.get("stopped_by"),
    }


def hub_token(settings: Settings) -> str | None:
    """``HF_TOKEN``, else the token ``hf auth login`` stored (huggingface_hub's own lookup), else None."""
    if settings.hf_token:
        return settings.hf_token
    from huggingface_hub import get_token  # imported here: only a crawl needs it

    return get_token()


def crawl(
    settings: Settings,
    config: CrawlConfig = CrawlConfig(),
    *,
    logger: Logger | None = None,
    client: PoliteClient | None = None,
) -> dict:
    """Run (or resume) one crawl of the Hub into the lake; returns the crawl summary.

    The endpoint and token come from ``HF_ENDPOINT``/``HF_TOKEN`` (settings; else the token
    ``hf auth login`` stored). The token is sent only in the Authorization header and is never
    written anywhere.
    """
    out = logger or log
    endpoint = settings.hf_endpoint
    own_client = client is None
    client = client or PoliteClient(
        token=hub_token(settings),
        user_agent=f"{DEFAULT_USER_AGENT} source/huggingface",
        timeout=config.timeout_s,
        policy=config.retry,
        max_connections=max(4, config.card_concurrency),
        reserve_fraction=PACER_RESERVE,
        credentials=[endpoint],  # HF_ENDPOINT=http://user:pass@host: sent on every request, written nowhere
    )
    started = time.monotonic()
    try:
        state = _start_or_resume(settings, endpoint, config, out)
        state["requests_at_start"] = state.get("requests_total", 0)  # of earlier, killed runs of this crawl
        if state["phase"] == "listing":
            _sweep(settings, client, endpoint, config, state, out)
        if state["phase"] == "cards":
            _card_pass(settings, client, endpoint, config, state, out, started)
    finally:
        if own_client:
            client.close()
    stats = client.stats
    plan = state.get("card_plan") or []
    pending = [r for r, _ in plan[state["cards_done"] :]] + state.get("failed_cards", [])
    summary = {
        "records": state["records"],
        "steps": state["step"],
        "pages": state["pages"],
        "models_listed": state["listed"],
        "cards_needed": len(plan),
        "cards_fetched": state["cards_done"] - state["card_errors"],
        "cards_pending": len(pending),
        "cards_deferred": len(pending),  # the name earlier versions used for the pending cards
        "card_errors": state["card_errors"],
        "stopped_by": state.get("stopped_by"),
        "resumed": state["resumed"],
        "requests": int(stats.get("requests", 0)),
        "requests_total": state["requests_at_start"] + int(stats.get("requests", 0)),
        "retries": int(stats.get("retries", 0)),
        "waited_s": round(stats.get("waited_s", 0.0), 3),
        "seconds": round(time.monotonic() - started, 3),
        "endpoint": redact_userinfo(endpoint),
    }
    lake.finish_crawl(settings, SOURCE, state["crawl_id"], summary)
    lake.save_state(
        settings,
        SOURCE,
        {
            "phase": "done",
            "crawl_id": state["crawl_id"],
            "finished_at": lake.utcnow().isoformat(),
            "cards_pending": len(pending),
            "pending_cards": pending,
            "stopped_by": state.get("stopped_by"),
        },
    )
    out.info(
        f"huggingface crawl {state['crawl_id']} finished: {state['listed']} models listed in {state['pages']} pages, "
        f"{summary['cards_fetched']} cards fetched, {summary['cards_pending']} pending, "
        f"{summary['requests']} requests this run ({summary['retries']} retries)"
    )
    if pending:
        out.warning(
            f"huggingface: {len(pending)} of the {len(plan)} cards this crawl needs are pending "
            f"({state.get('stopped_by') or 'failed requests'}); the next crawl fetches them first."
        )
    return {"crawl_id": state["crawl_id"], **summary}


def _start_or_resume(settings: Settings, endpoint: str, config: CrawlConfig, out: Logger) -> dict:
    previous = lake.load_state(settings, SOURCE)
    key = _sweep_key(endpoint, config)
    resumable = previous.get("phase") in ("listing", "cards") and previous.get("key") == json.loads(json.dumps(key))
    if resumable and not config.full:
        previous["resumed"] = True
        out.info(
            f"resuming huggingface crawl {previous['crawl_id']} in its {previous['phase']} phase after step "
            f"{previous['step']} ({previous['listed']} models listed, {previous['cards_done']} cards)"
        )
        return previous
    if previous.get("phase") == "done":
        carried = previous.get("pending_cards") or []
    else:  # an unfinished crawl replaced by a new sweep: what it still had to fetch, and what it carried
        plan = previous.get("card_plan") or []
        carried = [*previous.get("pending_first", []), *(r for r, _ in plan[previous.get("cards_done", 0) :])]
    state = {
        "crawl_id": lake.new_crawl_id(),
        "key": key,
        "phase": "listing",
        "next_url": None,
        "step": 0,
        "pages": 0,
        "listed": 0,
        "records": 0,
        "pending_first": list(dict.fromkeys(carried)),  # cards the last run left pending: fetched first
        "card_plan": [],
        "cards_done": 0,
        "card_errors": 0,
        "failed_cards": [],
        "resumed": False,
        "started_at": lake.utcnow().isoformat(),
    }
    lake.save_state(settings, SOURCE, state)
    query = dict(config.query()[: -len(EXPAND)])
    out.info(f"huggingface crawl {state['crawl_id']} started: {redact_userinfo(endpoint)}/api/models {query}")
    return state


def _save(settings: Settings, state: dict, client: PoliteClient) -> None:
    state["requests_total"] = state.get("requests_at_start", 0) + int(client.stats.get("requests", 0))
    lake.save_state(settings, SOURCE, state)


def _sweep(
    settings: Settings, client: PoliteClient, endpoint: str, config: CrawlConfig, state: dict, out: Logger
) -> None:
    bar = progress.Progress(
        "huggingface listing", total=config.limit, unit="models", initial=state["listed"], log=out.info
    )
    while True:
        if state["next_url"]:
            page = client.fetch("GET", state["next_url"])
        else:
            page = client.fetch("GET", listing_url(endpoint), params=config.query())
        if not isinstance(page.data, list):
            raise HttpError(
                f"GET {page.url} answered {type(page.data).__name__}, expected a JSON list of models: "
                "check HF_ENDPOINT points at a Hugging Face Hub.",
                url=page.url,
                status=page.status,
            )
        models = [m for m in page.data if isinstance(m, dict) and m.get("id")]
        if config.limit is not None:
            models = models[: max(0, config.limit - state["listed"])]
        fetched_at = lake.utcnow()
        step = state["step"] + 1
        if models:
            lake.write_raw(
                settings,
                SOURCE,
                state["crawl_id"],
                step,
                [
                    {"native_id": m["id"], "request_url": page.url, "fetched_at": fetched_at, "payload": m}
                    for m in models
                ],
            )
        done = not page.next_link or (config.limit is not None and state["listed"] + len(models) >= config.limit)
        state.update(
            step=step,
            pages=state["pages"] + 1,
            listed=state["listed"] + len(models),
            records=state["records"] + len(models),
            next_url=page.next_link,
            phase="cards" if done else "listing",
        )
        _save(settings, state, client)  # the page is in the lake: the cursor may move on
        out.info(
            f"huggingface page {state['pages']}: {len(models)} models ({state['listed']} listed, "
            f"{client.stats.get('requests', 0)} requests)"
        )
        bar.update(len(models))
        if done:
            bar.close()
            return


def _budget(
    config: CrawlConfig, client: PoliteClient, started: float, planned: int, done: int
) -> tuple[int, str | None]:
    """How many more cards this run may fetch in its next batch, and which budget stops it when none."""
    room = min(CARD_BATCH, planned - done)
    if config.card_cap is not None:
        room = min(room, config.card_cap - done)
        if room <= 0:
            return 0, "card_cap"
    if config.max_requests is not None:
        room = min(room, config.max_requests - int(client.stats.get("requests", 0)))
        if room <= 0:
            return 0, "max_requests"
    if config.max_seconds is not None and time.monotonic() - started >= config.max_seconds:
        return 0, "max_seconds"
    return room, None


def _card_pass(
    settings: Settings,
    client: PoliteClient,
    endpoint: str,
    config: CrawlConfig,
    state: dict,
    out: Logger,
    started: float,
) -> None:
    if not state.get("planned"):
        wanted = wanted_cards(listed_pages(settings, state["crawl_id"]))
        if not config.full:
            drop_cards_in_lake(settings, wanted)
        plan = card_plan(wanted, state.get("pending_first", []))
        carried = sum(1 for r in state.get("pending_first", []) if r in wanted)
        state.update(card_plan=plan, planned=True, pending_first=[])
        lake.save_state(settings, SOURCE, state)
        out.info(f"huggingface cards: {len(plan)} to fetch ({carried} left pending by the last run go first)")
    plan = [tuple(p) for p in state["card_plan"]]
    done_at_start = state["cards_done"]
    last_limit: dict[str, RateLimit] = {}

    def fetch(item: tuple[str, str]) -> tuple[str, str, str | None]:
        repo_id, sha = item
        url = card_url(endpoint, repo_id, sha)
        try:
            answer = client.fetch("GET", url, parse="text", ok_statuses=CARD_ABSENT)
        except HttpError as exc:
            out.warning(f"card of {repo_id}@{sha} not fetched ({exc}); it is retried next run")
            return repo_id, url, None
        if (limit := parse_ratelimit(answer.headers)) is not None:
            last_limit["resolvers"] = limit
        return repo_id, url, answer.data if answer.status == 200 else ""  # "" = no card we may read at this revision

    def quota_eta(cards_left: int) -> float | None:
        limit = last_limit.get("resolvers")
        if limit is None:
            return None
        return progress.quota_eta_s(
            cards_left, limit.remaining, limit.reset_s, limit.quota, limit.window_s, PACER_RESERVE
        )

    bar = progress.Progress(
        "huggingface cards", total=len(plan), unit="cards", initial=done_at_start, log=out.info, quota_eta=quota_eta
    )
    with ThreadPoolExecutor(max_workers=config.card_concurrency) as pool:
        while state["cards_done"] < len(plan):
            room, stopped_by = _budget(config, client, started, len(plan), state["cards_done"] - done_at_start)
            if stopped_by:
                state["stopped_by"] = stopped_by
                out.warning(
                    f"huggingface cards: the {stopped_by} budget stopped the card pass with "
                    f"{len(plan) - state['cards_done']} of {len(plan)} cards pending; the next crawl fetches them first"
                )
                break
            batch = plan[state["cards_done"] : state["cards_done"] + room]
            results = list(pool.map(fetch, batch))
            fetched_at = lake.utcnow()
            records = [
                {"native_id": repo_id, "request_url": url, "fetched_at": fetched_at, "payload": text}
                for repo_id, url, text in results
                if text is not None
            ]
            step = state["step"] + 1
            if records:
                lake.write_raw(settings, SOURCE, state["crawl_id"], step, records)
            failed = [repo_id for repo_id, _, text in results if text is None]
            state.update(
                step=step,
                records=state["records"] + len(records),
                cards_done=state["cards_done"] + len(batch),
                card_errors=state["card_errors"] + len(failed),
                failed_cards=[*state.get("failed_cards", []), *failed],
            )
            _save(settings, state, client)
            out.info(
                f"huggingface cards: {state['cards_done']}/{len(plan)} ({client.stats.get('requests', 0)} requests)"
            )
            bar.update(len(batch))
    bar.close()


def config_summary(config: CrawlConfig) -> dict:
    """The crawl configuration as plain values (for asset metadata)."""
    values = asdict(config)
    values.pop("retry")
    return {k: v for k, v in values.items() if v is not None}
