"""The Hugging Face Hub: an incremental, polite, resumable crawl of public models, and their catalog rows.

One crawl is two passes, each persisted step by step in the lake:

1. **Listing sweep** over ``GET /api/models`` with the configured filters, ``limit=1000`` and
   ``expand[]`` for every field the catalog needs. Each page is written to
   ``lake/raw/huggingface/crawl_id=<id>/step-NNNNNN.parquet`` (the model objects as received), then
   the ``Link: rel="next"`` cursor is saved to ``lake/state/huggingface.json``; a killed crawl
   resumes from the last completed page, and a page written twice lands on the same step file.
2. **Card pass**: the README.md at the listed ``sha`` for models whose listing lacks a dataset,
   a paper or a reported accuracy, and that have no card at that sha in the lake yet (new models
   and changed shas). It runs until every such card is in the lake, paced by the ``RateLimit``
   headers of the Hub's answers; cards a previous run left pending come first, then the most
   downloaded. An opt-in budget (``max_requests``, ``max_seconds``, ``card_cap``) may stop it early:
   the cards left are reported as pending (summary, state, ``pending_cards``) and taken first next
   run. Never ``config.json`` per model (the Hub counts that as a download): ``expand`` gives it.

The card plan streams from the crawl's step files (one page in memory at a time), so a crawl's
memory does not grow with the Hub. ``catalog_rows(raw)`` turns the raw records into
``catalog.models`` rows; ``history_rows(raw)`` into ``catalog.model_versions`` (one row per new sha)
and ``catalog.model_stats`` (one per crawl); ``tree_rows(raw)`` into the declared parents of each
model for ``catalog.model_tree`` (``sn_lake.annotate.lineage``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import polars as pl

from sn_lake import lake, progress
from sn_lake.annotate import lineage, numbers
from sn_lake.annotate.datasets import data_category
from sn_lake.annotate.model_cards import card_summary, needs_card
from sn_lake.annotate.numbers import Problem
from sn_lake.config import Settings, redact_userinfo
from sn_lake.sources.http import DEFAULT_USER_AGENT, HttpError, PoliteClient, RateLimit, RetryPolicy, parse_ratelimit

SOURCE = "huggingface"
EXPAND = (
    "sha", "lastModified", "createdAt", "tags", "pipeline_tag", "library_name", "downloads", "likes",
    "cardData", "model-index", "safetensors", "config", "gated", "private", "baseModels",
)  # fmt: skip
HUB_FLOOR_DATE = "2022-03-02T23:29:04"  # the createdAt the Hub gives repos older than its tracking
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


def card_url(endpoint: str, repo_id: str, sha: str) -> str:
    return f"{endpoint}/{quote(repo_id, safe='/')}/resolve/{sha}/README.md"


def _is_card_url(url: str) -> bool:
    return "/resolve/" in url


def _card_sha(url: str) -> str:
    return url.split("/resolve/", 1)[1].split("/", 1)[0]


def _sweep_key(endpoint: str, config: CrawlConfig) -> dict:
    return {"endpoint": redact_userinfo(endpoint), "query": config.query()}  # as the state file holds it


_IS_CARD = pl.col("request_url").str.contains("/resolve/", literal=True)


def listed_pages(settings: Settings, crawl_id: str) -> Iterator[list[dict]]:
    """The model objects of a crawl's listing pages, one page at a time in step order."""
    for frame in lake.iter_steps(settings, SOURCE, crawl_id, columns=["request_url", "payload"]):
        yield [json.loads(p) for p in frame.filter(~_IS_CARD)["payload"]]


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


def _drop_cards_in_lake(settings: Settings, wanted: dict[str, tuple[str, int]]) -> None:
    """Remove from ``wanted`` the models whose card at that sha the lake holds (fetched, or known absent)."""
    if not wanted:
        return
    ids = pl.Series(list(wanted), dtype=pl.String)
    for frame in lake.iter_steps(settings, SOURCE, columns=["native_id", "request_url"]):
        cards = frame.filter(_IS_CARD & pl.col("native_id").is_in(ids.implode()))
        for repo_id, url in cards.iter_rows():
            if repo_id in wanted and wanted[repo_id][0] == _card_sha(url):
                del wanted[repo_id]


def card_plan(wanted: dict[str, tuple[str, int]], first: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The order to fetch cards in: ``(repo id, sha)``, the repos in ``first`` (pending from the last run) in their
    order, then the most downloaded."""
    ahead = [r for r in dict.fromkeys(first) if r in wanted]
    taken = set(ahead)
    rest = sorted((r for r in wanted if r not in taken), key=lambda r: (-wanted[r][1], r))
    return [(r, wanted[r][0]) for r in [*ahead, *rest]]


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
    return {"pending": pending, "crawl_id": state.get("crawl_id"), "phase": phase,
            "stopped_by": state.get("stopped_by")}


def hub_token(settings: Settings) -> str | None:
    """``HF_TOKEN``, else the token ``hf auth login`` stored (huggingface_hub's own lookup), else None."""
    if settings.hf_token:
        return settings.hf_token
    from huggingface_hub import get_token  # imported here: only a crawl needs it

    return get_token()


def crawl(
    settings: Settings, config: CrawlConfig = CrawlConfig(), *, logger: Logger | None = None,
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
    pending = [r for r, _ in plan[state["cards_done"]:]] + state.get("failed_cards", [])
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
    lake.save_state(settings, SOURCE, {
        "phase": "done", "crawl_id": state["crawl_id"], "finished_at": lake.utcnow().isoformat(),
        "cards_pending": len(pending), "pending_cards": pending, "stopped_by": state.get("stopped_by"),
    })  # fmt: skip
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
        carried = [*previous.get("pending_first", []), *(r for r, _ in plan[previous.get("cards_done", 0):])]
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


def _sweep(settings: Settings, client: PoliteClient, endpoint: str, config: CrawlConfig, state: dict, out: Logger) -> None:
    bar = progress.Progress("huggingface listing", total=config.limit, unit="models", initial=state["listed"], log=out.info)
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
                [{"native_id": m["id"], "request_url": page.url, "fetched_at": fetched_at, "payload": m} for m in models],
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
        out.info(f"huggingface page {state['pages']}: {len(models)} models ({state['listed']} listed, {client.stats.get('requests', 0)} requests)")
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
    settings: Settings, client: PoliteClient, endpoint: str, config: CrawlConfig, state: dict, out: Logger,
    started: float,
) -> None:
    if not state.get("planned"):
        wanted = wanted_cards(listed_pages(settings, state["crawl_id"]))
        if not config.full:
            _drop_cards_in_lake(settings, wanted)
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
            out.info(f"huggingface cards: {state['cards_done']}/{len(plan)} ({client.stats.get('requests', 0)} requests)")
            bar.update(len(batch))
    bar.close()


# ------------------------------------------------------------------------------------ catalog


def _timestamp(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def created_at(value: Any) -> datetime | None:
    """The Hub's ``createdAt``, or None when it is the 2022-03-02T23:29:04 floor date (not a real creation date)."""
    if isinstance(value, str) and value.startswith(HUB_FLOOR_DATE):
        return None
    return _timestamp(value)


def _has_safetensors(model: dict) -> bool:
    if model.get("safetensors"):
        return True
    siblings = model.get("siblings") if isinstance(model.get("siblings"), list) else []
    return any(isinstance(s, dict) and str(s.get("rfilename", "")).endswith(".safetensors") for s in siblings)


def model_row(model: dict, card_text: str | None, origin: str, problems: list[Problem] | None = None) -> dict:
    """One catalog row (without the seen-at times) from a listing object and its card (if fetched).

    Counts and accuracies pass the rules of :mod:`sn_lake.annotate.numbers`; a value they refuse is NULL and
    its :class:`Problem` (and those of the card) is appended to ``problems``. ``origin`` is the Hub's
    ``scheme://host`` the weights URL starts with (never with credentials).
    """
    facts = card_summary(model, card_text)
    repo_id = model["id"]
    downloads, bad_downloads = numbers.whole_number("downloads", model.get("downloads"))
    likes, bad_likes = numbers.whole_number("likes", model.get("likes"))
    if problems is not None:
        problems.extend([*facts["problems"], *(p for p in (bad_downloads, bad_likes) if p)])
    return {
        "model_id": f"{SOURCE}:{repo_id}",
        "source": SOURCE,
        "name": repo_id,
        "revision": model.get("sha"),
        "architecture": facts["architecture"],
        "model_type": facts["model_type"],
        "dataset": facts["dataset"],
        "dataset_note": facts["dataset_note"],
        "data_category": data_category(facts["dataset"]),
        "num_classes": facts["num_classes"],
        "input_size": facts["input_size"],
        "library": model.get("library_name"),
        "license": facts["license"],
        "paper_id": facts["papers"][0] if facts["papers"] else None,
        "purpose": None,
        "weights_url": f"{origin}/{repo_id}",
        "created_at": created_at(model.get("createdAt")),
        "last_modified": _timestamp(model.get("lastModified")),
        "downloads": downloads,
        "likes": likes,
        "reported_accuracy": facts["accuracy"],
        "base_model": facts["base_model"],
        "has_safetensors": _has_safetensors(model),
    }


CATALOG_SCHEMA = {
    "model_id": pl.String, "source": pl.String, "name": pl.String, "revision": pl.String,
    "architecture": pl.String, "model_type": pl.String, "dataset": pl.String, "dataset_note": pl.String,
    "data_category": pl.String,
    "num_classes": pl.Int32, "input_size": pl.Int32, "library": pl.String, "license": pl.String,
    "paper_id": pl.String, "purpose": pl.String, "weights_url": pl.String,
    "created_at": pl.Datetime("us", "UTC"), "last_modified": pl.Datetime("us", "UTC"),
    "downloads": pl.Int64, "likes": pl.Int64, "reported_accuracy": pl.Float64,
    "base_model": pl.String, "has_safetensors": pl.Boolean,
}  # fmt: skip


def _split(raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    is_card = pl.col("request_url").str.contains("/resolve/", literal=True)
    return raw.filter(~is_card), raw.filter(is_card)


ROW_CHUNK = 5000  # catalog rows turned into a frame at a time


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of a request URL, without any ``user:password@`` (the lake's URLs have none;
    an older lake's may)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def catalog_rows(raw: pl.DataFrame, issues: list[dict] | None = None) -> pl.DataFrame:
    """Catalog rows for every listed model: its latest listing, its card at that sha (else its latest card), seen-at times.

    Every listed model becomes a row or, when no row can be made of its record, a ``record.unreadable`` entry
    in ``issues``; values the rules refuse are NULL, each with an entry (``number.*``, ``accuracy.*``,
    ``card.*``, ``value.wrong_type``; :mod:`sn_lake.annotate.numbers`).
    """
    issues = [] if issues is None else issues
    schema = {**CATALOG_SCHEMA, **numbers.SEEN_SCHEMA}
    listings, cards = _split(raw)
    if listings.is_empty():
        return pl.DataFrame(schema=schema)
    latest = (
        listings.sort("fetched_at", "crawl_id", "step")
        .group_by("native_id")
        .agg(
            pl.col("payload").last(),
            pl.col("request_url").last(),
            pl.col("fetched_at").min().alias("first_seen_at"),
            pl.col("fetched_at").max().alias("last_seen_at"),
        )
        .sort("native_id")
    )
    card_by_sha: dict[tuple[str, str], str] = {}
    latest_card: dict[str, str] = {}
    for repo_id, url, text in cards.sort("fetched_at", "crawl_id", "step").select("native_id", "request_url", "payload").iter_rows():
        card_by_sha[(repo_id, _card_sha(url))] = text
        if text:
            latest_card[repo_id] = text
    rows, frames = [], []
    columns = ("native_id", "payload", "request_url", "first_seen_at", "last_seen_at")
    for repo_id, payload, url, first_seen, last_seen in latest.select(columns).iter_rows():
        model_id = f"{SOURCE}:{repo_id}"
        problems: list[Problem] = []
        try:
            model = json.loads(payload)
            if not isinstance(model, dict):
                raise ValueError(f"the listing record is a JSON {type(model).__name__}, expected an object")
            if model.get("id") != repo_id:  # the id the lake files it under (the crawl's, as text)
                model = {**model, "id": repo_id}
            sha = model.get("sha") if isinstance(model.get("sha"), str) else ""
            card = card_by_sha.get((repo_id, sha))
            row = model_row(model, card if card else latest_card.get(repo_id), _origin(url), problems)
            row.update(first_seen_at=first_seen, last_seen_at=last_seen)
            row = numbers.typed_row(row, schema, problems)
        except Exception as exc:  # noqa: BLE001 - any record a stranger wrote: quarantined, never the build's end
            issues.append(numbers.unreadable(model_id, exc))
            continue
        issues.extend(p.entry(model_id) for p in problems)
        rows.append(row)
        if len(rows) == ROW_CHUNK:  # rows become columns a chunk at a time: memory flat in the number of models
            frames.append(pl.DataFrame(rows, schema=schema))
            rows = []
    return pl.concat([*frames, pl.DataFrame(rows, schema=schema)])


def history_rows(raw: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """``catalog.model_versions`` (a row per (model, sha), when first seen) and ``catalog.model_stats`` (a row per crawl)."""
    listings, _ = _split(raw)
    parsed = listings.select(
        (pl.lit(f"{SOURCE}:") + pl.col("native_id")).alias("model_id"),
        "crawl_id",
        "fetched_at",
        pl.col("payload").str.json_path_match("$.sha").alias("revision"),
        pl.col("payload").str.json_path_match("$.lastModified").alias("last_modified"),
        pl.col("payload").str.json_path_match("$.downloads").cast(pl.Int64, strict=False).alias("downloads"),
        pl.col("payload").str.json_path_match("$.likes").cast(pl.Int64, strict=False).alias("likes"),
    ).with_columns(pl.col("last_modified").str.to_datetime(time_zone="UTC", strict=False))
    versions = (
        parsed.filter(pl.col("revision").is_not_null())
        .group_by("model_id", "revision")
        .agg(pl.col("fetched_at").min().alias("first_seen_at"), pl.col("last_modified").max())
        .sort("model_id", "first_seen_at")
    )
    stats = (
        parsed.sort("fetched_at")
        .group_by("model_id", "crawl_id")
        .agg(pl.col("fetched_at").min().alias("observed_at"), pl.col("downloads").last(), pl.col("likes").last())
        .sort("model_id", "observed_at")
    )
    return {"catalog.model_versions": versions, "catalog.model_stats": stats}


def config_summary(config: CrawlConfig) -> dict:
    """The crawl configuration as plain values (for asset metadata)."""
    values = asdict(config)
    values.pop("retry")
    return {k: v for k, v in values.items() if v is not None}


def build_tables(con, raw: pl.DataFrame) -> dict[str, int]:
    """Rebuild ``catalog.model_versions`` and ``catalog.model_stats`` for Hugging Face models from the raw records."""
    from sn_lake import warehouse  # the catalog builder's dependency, not the crawler's

    counts = {}
    for table, frame in history_rows(raw).items():
        counts[table] = warehouse.replace_rows(con, table, frame, "model_id LIKE ?", [f"{SOURCE}:%"])
    return counts


def compact_raw(raw: pl.DataFrame) -> pl.DataFrame:
    """The raw records as the catalog build reads them: a listing page's request URL without its query (the cursor
    and the ``expand[]`` list, a third of the records' memory on a large Hub, and of no use to the catalog)."""
    url = pl.col("request_url")
    return raw.with_columns(pl.when(_IS_CARD).then(url).otherwise(url.str.replace(r"\?.*$", "")).alias("request_url"))


def _json_value(text: str | None) -> Any:
    """A ``json_path_match`` result: JSON text for a list or an object, the bare value for a string."""
    if text is None or not text.startswith(("[", "{")):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


TREE_SCHEMA = {"child_id": pl.String, "parent": pl.String, "relation": pl.String, "evidence": pl.String}


def tree_rows(raw: pl.DataFrame) -> pl.DataFrame:
    """The parents every listed model declares (``sn_lake.annotate.lineage``), from its latest listing and, when that
    declares none, its card: ``child_id`` (catalog id), ``parent`` (the Hub id as declared), ``relation``, ``evidence``.

    Only the few fields the rules read are taken out of the payloads, so this adds little to the catalog build's memory.
    """
    listings, cards = _split(raw)
    if listings.is_empty():
        return pl.DataFrame(schema=TREE_SCHEMA)
    payload = pl.col("payload").str
    latest = (
        listings.sort("fetched_at", "crawl_id", "step")
        .group_by("native_id")
        .agg(pl.col("payload").last())
        .select(
            "native_id",
            payload.json_path_match("$.sha").alias("sha"),
            payload.json_path_match("$.tags").alias("tags"),
            payload.json_path_match("$.cardData.base_model").alias("card_base"),
            payload.json_path_match("$.cardData.base_model_relation").alias("card_relation"),
            payload.json_path_match("$.baseModels").alias("base_models"),
            payload.json_path_match("$.library_name").alias("library"),
        )
        .sort("native_id")
    )
    # the card is read only for models whose listing declares no parent
    bare = latest.filter(
        pl.col("card_base").is_null() & pl.col("base_models").is_null()
        & ~pl.col("tags").fill_null("").str.contains('"base_model:', literal=True)
    )
    by_sha: dict[tuple[str, str], str] = {}
    newest: dict[str, str] = {}
    if not bare.is_empty() and not cards.is_empty():
        wanted = cards.filter(pl.col("native_id").is_in(bare["native_id"].implode()))
        wanted = wanted.sort("fetched_at", "crawl_id", "step")
        for repo_id, url, text in wanted.select("native_id", "request_url", "payload").iter_rows():
            by_sha[(repo_id, _card_sha(url))] = text
            if text:
                newest[repo_id] = text
    bare_ids = set(bare["native_id"])
    rows = []
    for repo_id, sha, tags, card_base, card_relation, base_models, library in latest.iter_rows():
        card = (by_sha.get((repo_id, sha or "")) or newest.get(repo_id)) if repo_id in bare_ids else None
        tag_list = _json_value(tags)
        for parent in lineage.declared_parents(
            repo_id,
            card_base=_json_value(card_base),
            card_relation=card_relation,
            card_text=card,
            tags=tag_list if isinstance(tag_list, list) else [],
            base_models=_json_value(base_models),
            library=library,
        ):
            rows.append((f"{SOURCE}:{repo_id}", parent.parent, parent.relation, parent.evidence))
    return pl.DataFrame(rows, schema=TREE_SCHEMA, orient="row")
