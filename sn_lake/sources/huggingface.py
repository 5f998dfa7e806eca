"""The Hugging Face Hub: an incremental, polite, resumable crawl of public models, and their catalog rows.

One crawl is two passes, each persisted step by step in the lake:

1. **Listing sweep** over ``GET /api/models`` with the configured filters, ``limit=1000`` and
   ``expand[]`` for every field the catalog needs. Each page is written to
   ``lake/raw/huggingface/crawl_id=<id>/step-NNNNNN.parquet`` (the model objects as received), then
   the ``Link: rel="next"`` cursor is saved to ``lake/state/huggingface.json``; a killed crawl
   resumes from the last completed page, and a page written twice lands on the same step file.
2. **Card pass**: the README.md at the listed ``sha`` for models whose listing lacks a dataset,
   a paper or a reported accuracy, and that have no card at that sha in the lake yet (new models
   and changed shas). Most-downloaded first, capped per run (``card_cap``); the rest wait for the
   next run. Never ``config.json`` per model (the Hub counts that as a download): ``expand`` gives it.

``catalog_rows(raw)`` turns the raw records into ``catalog.models`` rows; ``history_rows(raw)``
into ``catalog.model_versions`` (one row per new sha) and ``catalog.model_stats`` (one per crawl).
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import polars as pl

from sn_lake import lake, progress
from sn_lake.annotate.datasets import data_category
from sn_lake.annotate.model_cards import card_summary, needs_card
from sn_lake.config import Settings
from sn_lake.sources.http import DEFAULT_USER_AGENT, HttpError, PoliteClient, RetryPolicy

SOURCE = "huggingface"
EXPAND = (
    "sha", "lastModified", "createdAt", "tags", "pipeline_tag", "library_name", "downloads", "likes",
    "cardData", "model-index", "safetensors", "config", "gated", "private",
)  # fmt: skip
HUB_FLOOR_DATE = "2022-03-02T23:29:04"  # the createdAt the Hub gives repos older than its tracking
PAGE_LIMIT = 1000
CARD_BATCH = 100  # cards per lake step (the resume granularity of the card pass)
# answers that mean "no card to read at this sha" (none, or a gated repo whose terms we have not
# accepted): recorded as an empty card, so the same sha is not asked for again
CARD_ABSENT = frozenset({401, 403, 404})

log = logging.getLogger(__name__)


class Logger(Protocol):
    def info(self, msg: str) -> Any: ...
    def warning(self, msg: str) -> Any: ...


@dataclass(frozen=True)
class CrawlConfig:
    """What one crawl lists and how much it may fetch.

    ``pipeline_tag``/``library``/``author``/``search`` are the Hub's list filters; ``limit`` stops
    the sweep after that many models (None: all); ``full`` starts a new sweep even when one can be
    resumed and re-fetches cards already in the lake; ``card_cap`` bounds card fetches per run.
    """

    pipeline_tag: str | None = "image-classification"
    library: str | None = None
    author: str | None = None
    search: str | None = None
    limit: int | None = None
    full: bool = False
    card_cap: int = 2000
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
    return {"endpoint": endpoint, "query": config.query()}


def _cards_in_lake(settings: Settings) -> set[tuple[str, str]]:
    """(repo id, sha) of every card the lake holds (fetched, or known absent)."""
    files = lake.raw_files(settings, SOURCE)
    if not files:
        return set()
    frame = (
        pl.scan_parquet(files, hive_partitioning=False)
        .select("native_id", "request_url")
        .filter(pl.col("request_url").str.contains("/resolve/", literal=True))
        .collect()
    )
    return {(repo, _card_sha(url)) for repo, url in frame.iter_rows()}


def _listed_in_crawl(settings: Settings, crawl_id: str) -> list[dict]:
    """The model objects this crawl's listing pages hold (latest copy of each model)."""
    files = sorted(lake.crawl_dir(settings, SOURCE, crawl_id).glob("step-*.parquet"))
    if not files:
        return []
    frame = pl.read_parquet(files, hive_partitioning=False).filter(~pl.col("request_url").str.contains("/resolve/", literal=True))
    latest: dict[str, dict] = {}
    for native_id, payload in frame.sort("step").select("native_id", "payload").iter_rows():
        latest[native_id] = json.loads(payload)
    return list(latest.values())


def card_plan(listed: list[dict], have: set[tuple[str, str]], *, full: bool, cap: int) -> tuple[list[tuple[str, str]], int]:
    """Which cards to fetch: ``(repo id, sha)`` most-downloaded first, at most ``cap``; and how many wait."""
    wanted = [
        m for m in listed
        if m.get("sha") and needs_card(m) and (full or (m["id"], m["sha"]) not in have)
    ]  # fmt: skip
    wanted.sort(key=lambda m: (-(m.get("downloads") or 0), m["id"]))
    return [(m["id"], m["sha"]) for m in wanted[:cap]], max(0, len(wanted) - cap)


def hub_token(settings: Settings) -> str | None:
    """``HF_TOKEN``, else the token ``hf auth login`` stored (huggingface_hub's own lookup), else None."""
    if settings.hf_token:
        return settings.hf_token
    from huggingface_hub import get_token  # imported here: only a crawl needs it

    return get_token()


def crawl(settings: Settings, config: CrawlConfig = CrawlConfig(), *, logger: Logger | None = None, client: PoliteClient | None = None) -> dict:
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
    )
    started = time.monotonic()
    try:
        state = _start_or_resume(settings, endpoint, config, out)
        state["requests_at_start"] = state.get("requests_total", 0)  # of earlier, killed runs of this crawl
        if state["phase"] == "listing":
            _sweep(settings, client, endpoint, config, state, out)
        if state["phase"] == "cards":
            _card_pass(settings, client, endpoint, config, state, out)
    finally:
        if own_client:
            client.close()
    stats = client.stats
    summary = {
        "records": state["records"],
        "steps": state["step"],
        "pages": state["pages"],
        "models_listed": state["listed"],
        "cards_fetched": state["cards_done"] - state["card_errors"],
        "cards_deferred": state["cards_deferred"],
        "card_errors": state["card_errors"],
        "resumed": state["resumed"],
        "requests": int(stats.get("requests", 0)),
        "requests_total": state["requests_at_start"] + int(stats.get("requests", 0)),
        "retries": int(stats.get("retries", 0)),
        "waited_s": round(stats.get("waited_s", 0.0), 3),
        "seconds": round(time.monotonic() - started, 3),
        "endpoint": endpoint,
    }
    lake.finish_crawl(settings, SOURCE, state["crawl_id"], summary)
    lake.save_state(settings, SOURCE, {"phase": "done", "crawl_id": state["crawl_id"], "finished_at": lake.utcnow().isoformat()})
    out.info(
        f"huggingface crawl {state['crawl_id']} finished: {state['listed']} models listed in {state['pages']} pages, "
        f"{state['cards_done']} cards, {summary['requests']} requests this run ({summary['retries']} retries)"
    )
    return {"crawl_id": state["crawl_id"], **summary}


def _start_or_resume(settings: Settings, endpoint: str, config: CrawlConfig, out: Logger) -> dict:
    previous = lake.load_state(settings, SOURCE)
    key = _sweep_key(endpoint, config)
    if previous.get("phase") in ("listing", "cards") and previous.get("key") == json.loads(json.dumps(key)) and not config.full:
        previous["resumed"] = True
        out.info(
            f"resuming huggingface crawl {previous['crawl_id']} in its {previous['phase']} phase after step {previous['step']} "
            f"({previous['listed']} models listed, {previous['cards_done']} cards)"
        )
        return previous
    state = {
        "crawl_id": lake.new_crawl_id(),
        "key": key,
        "phase": "listing",
        "next_url": None,
        "step": 0,
        "pages": 0,
        "listed": 0,
        "records": 0,
        "card_plan": [],
        "cards_done": 0,
        "cards_deferred": 0,
        "card_errors": 0,
        "resumed": False,
        "started_at": lake.utcnow().isoformat(),
    }
    lake.save_state(settings, SOURCE, state)
    out.info(f"huggingface crawl {state['crawl_id']} started: {endpoint}/api/models {dict(config.query()[:-len(EXPAND)])}")
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


def _card_pass(settings: Settings, client: PoliteClient, endpoint: str, config: CrawlConfig, state: dict, out: Logger) -> None:
    if not state["card_plan"] and not state.get("planned"):
        listed = _listed_in_crawl(settings, state["crawl_id"])
        plan, deferred = card_plan(listed, _cards_in_lake(settings), full=config.full, cap=config.card_cap)
        state.update(card_plan=plan, cards_deferred=deferred, planned=True)
        lake.save_state(settings, SOURCE, state)
        out.info(f"huggingface cards: {len(plan)} to fetch, {deferred} deferred to the next run (cap {config.card_cap})")
    plan = [tuple(p) for p in state["card_plan"]]

    def fetch(item: tuple[str, str]) -> tuple[str, str, str | None]:
        repo_id, sha = item
        url = card_url(endpoint, repo_id, sha)
        try:
            answer = client.fetch("GET", url, parse="text", ok_statuses=CARD_ABSENT)
        except HttpError as exc:
            out.warning(f"card of {repo_id}@{sha} not fetched ({exc}); it is retried next run")
            return repo_id, url, None
        return repo_id, url, answer.data if answer.status == 200 else ""  # "" = no card we may read at this revision

    bar = progress.Progress("huggingface cards", total=len(plan), unit="cards", initial=state["cards_done"], log=out.info)
    with ThreadPoolExecutor(max_workers=config.card_concurrency) as pool:
        while state["cards_done"] < len(plan):
            batch = plan[state["cards_done"] : state["cards_done"] + CARD_BATCH]
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
            state.update(
                step=step,
                records=state["records"] + len(records),
                cards_done=state["cards_done"] + len(batch),
                card_errors=state["card_errors"] + len(batch) - len(records),
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
    siblings = model.get("siblings") or []
    return any(isinstance(s, dict) and str(s.get("rfilename", "")).endswith(".safetensors") for s in siblings)


def model_row(model: dict, card_text: str | None, origin: str) -> dict:
    """One catalog row (without the seen-at times) from a listing object and its card (if fetched)."""
    facts = card_summary(model, card_text)
    repo_id = model["id"]
    return {
        "model_id": f"{SOURCE}:{repo_id}",
        "source": SOURCE,
        "name": repo_id,
        "revision": model.get("sha"),
        "architecture": facts["architecture"],
        "model_type": facts["model_type"],
        "dataset": facts["dataset"],
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
        "downloads": model.get("downloads"),
        "likes": model.get("likes"),
        "reported_accuracy": facts["accuracy"],
        "base_model": facts["base_model"],
        "has_safetensors": _has_safetensors(model),
    }


CATALOG_SCHEMA = {
    "model_id": pl.String, "source": pl.String, "name": pl.String, "revision": pl.String,
    "architecture": pl.String, "model_type": pl.String, "dataset": pl.String, "data_category": pl.String,
    "num_classes": pl.Int32, "input_size": pl.Int32, "library": pl.String, "license": pl.String,
    "paper_id": pl.String, "purpose": pl.String, "weights_url": pl.String,
    "created_at": pl.Datetime("us", "UTC"), "last_modified": pl.Datetime("us", "UTC"),
    "downloads": pl.Int64, "likes": pl.Int64, "reported_accuracy": pl.Float64,
    "base_model": pl.String, "has_safetensors": pl.Boolean,
}  # fmt: skip


def _split(raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    is_card = pl.col("request_url").str.contains("/resolve/", literal=True)
    return raw.filter(~is_card), raw.filter(is_card)


def catalog_rows(raw: pl.DataFrame) -> pl.DataFrame:
    """Catalog rows for every listed model: its latest listing, its card at that sha (else its latest card), seen-at times."""
    listings, cards = _split(raw)
    if listings.is_empty():
        return pl.DataFrame(schema={**CATALOG_SCHEMA, "first_seen_at": pl.Datetime("us", "UTC"), "last_seen_at": pl.Datetime("us", "UTC")})
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
    rows = []
    for repo_id, payload, url in latest.select("native_id", "payload", "request_url").iter_rows():
        model = json.loads(payload)
        parts = urlsplit(url)
        card = card_by_sha.get((repo_id, model.get("sha") or ""))
        rows.append(model_row(model, card if card else latest_card.get(repo_id), f"{parts.scheme}://{parts.netloc}"))
    frame = pl.DataFrame(rows, schema=CATALOG_SCHEMA)
    return frame.with_columns(latest["first_seen_at"], latest["last_seen_at"])


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
