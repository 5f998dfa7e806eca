"""Kaggle's image classifiers -> ``lake/raw/kaggle/``, one step per listing page, resumable (see the package)."""

from __future__ import annotations

import logging
import time

from sn_lake import lake, progress
from sn_lake.config import Settings
from sn_lake.http_client import RetryPolicy
from sn_lake.kaggle_client import RETRYABLE_STATUS, KaggleError, KaggleModels
from sn_lake.sources.kaggle import SOURCE
from sn_lake.sources.kaggle.parse import is_image_classifier, native_id

DEFAULT_SEARCH = "image classification"

log = logging.getLogger(__name__)


def _page_records(api: KaggleModels, page: dict, summary: dict) -> list[dict]:
    records = []
    for listed in page.get("models") or []:
        if not is_image_classifier(listed):
            summary["skipped_other_task"] += 1
            continue
        owner = listed["ref"].split("/")[0] if listed.get("ref") else listed.get("author")
        slug = listed.get("slug") or listed["ref"].split("/")[1]
        model = api.get_model(owner, slug)
        instances = api.list_instances(owner, slug) if model is not None else None
        if model is None or instances is None:
            summary["gone"].append(f"{owner}/{slug}")
            log.warning("Kaggle model %s/%s was listed but is gone (404); skipped.", owner, slug)
            continue
        for instance in instances:
            records.append(
                {
                    "native_id": native_id(owner, slug, instance),
                    "request_url": api.url("ListModelInstances") + f"#{owner}/{slug}",
                    "payload": {"owner": owner, "model_slug": slug, "model": model, "instance": instance},
                }
            )
    return records


def crawl(
    settings: Settings,
    search: str | None = DEFAULT_SEARCH,
    page_size: int = 50,
    policy: RetryPolicy | None = None,
    timeout_s: float = 30.0,
    skip_if_unreachable: bool | None = None,
) -> dict:
    """Crawl Kaggle's image classifiers into ``lake/raw/kaggle/``, resuming an unfinished crawl.

    Returns the crawl summary. When the endpoint cannot be connected to at all on this run's first request
    and ``skip_if_unreachable`` (default: only for the public PROD endpoint, i.e. offline), returns
    ``{"status": "unreachable", ...}`` after one try instead of failing, so the rest of the graph
    runs on what the lake holds; any other failure raises :class:`KaggleError` and keeps the state
    for a resume.
    """
    started = time.monotonic()
    state = lake.load_state(settings, SOURCE)
    resuming = bool(state.get("crawl_id")) and not state.get("finished")
    if not resuming:
        state = {"crawl_id": lake.new_crawl_id(), "page_token": None, "step": 1, "records": 0, "finished": False}
    summary = {"records": state["records"], "skipped_other_task": 0, "gone": [], "resumed": resuming}
    api = KaggleModels(settings, policy, timeout_s)
    if skip_if_unreachable is None:
        skip_if_unreachable = api.env.name == "PROD"
    first_request = True
    bar = progress.Progress("kaggle listing", unit="models", initial=state["records"])
    try:
        while True:
            probe = 1 if first_request and skip_if_unreachable else None  # offline: one try, then skip
            first_request = False
            try:
                page = api.list_models(search, page_size, state["page_token"], attempts=probe)
            except KaggleError as exc:
                if probe and exc.connection_failed:
                    log.warning(
                        "Kaggle's public API at %s cannot be reached; the crawl is skipped: %s", api.endpoint, exc
                    )
                    return {"status": "unreachable", "endpoint": api.endpoint, "records": 0, "detail": str(exc)}
                if not (probe and exc.status in RETRYABLE_STATUS):
                    raise
                page = api.list_models(
                    search, page_size, state["page_token"]
                )  # it answered: online, so the full policy
            records = _page_records(api, page, summary)
            if records:
                lake.write_raw(settings, SOURCE, state["crawl_id"], state["step"], records)
            state.update(
                page_token=page.get("nextPageToken") or None,
                step=state["step"] + 1,
                records=state["records"] + len(records),
            )
            lake.save_state(settings, SOURCE, state)
            bar.update(len(records))
            if not state["page_token"]:
                break
        bar.close()
    finally:
        api.close()
    finished = {
        "records": state["records"],
        "steps": state["step"] - 1,
        "requests": api.requests,
        "skipped_other_task": summary["skipped_other_task"],
        "gone": summary["gone"],
        "resumed": resuming,
        "seconds": round(time.monotonic() - started, 3),
    }
    lake.finish_crawl(settings, SOURCE, state["crawl_id"], finished)
    lake.save_state(settings, SOURCE, {"crawl_id": state["crawl_id"], "finished": True})
    return {"status": "ok", "crawl_id": state["crawl_id"], **finished}
