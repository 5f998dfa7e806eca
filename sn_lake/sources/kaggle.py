"""Kaggle Models through kagglesdk: the image classifiers, one raw record per framework variation.

A crawl pages through ``ListModels`` (``pageToken``), keeps the models whose tags or title say
*image classification*, and fetches ``GetModel`` (description, dates, votes) and every page of
``ListModelInstances`` (framework, licence, training data, variation) for each. Each listing page
is one lake step, and the next page token is persisted after every page, so a killed crawl resumes
at the page it stopped on; a re-fetched page overwrites its own step file, so nothing is duplicated.

kagglesdk is imported, never the ``kaggle`` package (which authenticates at import). kagglesdk has
no retries and no timeouts: every call goes through :func:`sn_lake.sources.http.call_with_retries` and
the SDK's ``requests`` session gets a default timeout. The token (``KAGGLE_API_TOKEN``) goes to
kagglesdk only; it never reaches a log, the lake or the warehouse.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import polars as pl
import requests
from requests.adapters import HTTPAdapter

from sn_lake import lake, progress
from sn_lake.annotate import numbers
from sn_lake.annotate.architectures import model_family
from sn_lake.annotate.datasets import canonical_dataset, data_category
from sn_lake.annotate.papers import arxiv_ids
from sn_lake.config import Settings
from sn_lake.sources import http

SOURCE = "kaggle"
DEFAULT_SEARCH = "image classification"
IMAGE_CLASSIFICATION = "image classification"
WEB_URL = "https://www.kaggle.com/models"
RETRYABLE_STATUS = {429, 500, 502, 503, 504}

log = logging.getLogger(__name__)

# kagglesdk's names for KAGGLE_API_ENVIRONMENT values (kagglesdk.kaggle_env.get_env)
_ENVIRONMENTS = {"PROD": "PROD", "LOCALHOST": "LOCAL", "STAGING": "STAGING", "ADMIN": "ADMIN", "QA": "QA", "TEST": "TEST"}


class KaggleError(RuntimeError):
    """The Kaggle API refused a request or could not be reached (``status`` None: no answer came)."""

    def __init__(self, message: str, status: int | None = None, connection_failed: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.connection_failed = connection_failed


def framework_handle(framework: Any) -> str:
    """Kaggle's spelling of a framework in model handles: ``MODEL_FRAMEWORK_PY_TORCH`` -> ``pyTorch``.

    Accepts kagglesdk's ``ModelFramework`` enum or its JSON name; ``TENSOR_FLOW_2`` -> ``tensorFlow2``,
    ``KERAS`` -> ``keras``, ``TF_LITE`` -> ``tfLite``.
    """
    name = getattr(framework, "name", None) or str(framework or "MODEL_FRAMEWORK_UNSPECIFIED")
    if not name.isupper():  # already a handle spelling such as "pyTorch"
        return name
    words = name.removeprefix("MODEL_FRAMEWORK_").lower().split("_")
    return words[0] + "".join(w.capitalize() for w in words[1:])


def is_image_classifier(model: dict) -> bool:
    """True when a ListModels entry is tagged, titled or subtitled as image classification."""
    tags = [str(t.get(k) or "") for t in model.get("tags") or [] for k in ("name", "ref", "fullPath")]
    texts = [model.get("title") or "", model.get("subtitle") or "", *tags]
    return any(IMAGE_CLASSIFICATION in t.lower().replace("-", " ") for t in texts)


def environment(settings: Settings):
    """kagglesdk's ``KaggleEnv`` for ``KAGGLE_API_ENVIRONMENT`` (``PROD``, ``TEST`` -> localhost:7777, ...)."""
    from kagglesdk.kaggle_env import KaggleEnv

    name = (settings.kaggle_environment or "PROD").upper()
    if name not in _ENVIRONMENTS:
        raise KaggleError(
            f"KAGGLE_API_ENVIRONMENT must be one of {sorted(_ENVIRONMENTS)}, found {settings.kaggle_environment!r}: "
            "unset it for the public API."
        )
    return KaggleEnv[_ENVIRONMENTS[name]]


class _DefaultTimeout(HTTPAdapter):
    """A requests adapter that applies a timeout to every request that sets none (kagglesdk sets none)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self.timeout_s = timeout_s

    def send(self, request, timeout=None, **kwargs):
        return super().send(request, timeout=timeout if timeout is not None else self.timeout_s, **kwargs)


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, (requests.exceptions.Timeout, requests.exceptions.ConnectionError)):
        return True
    response = getattr(exc, "response", None)
    return isinstance(exc, requests.exceptions.HTTPError) and response is not None and response.status_code in RETRYABLE_STATUS


def _wait_hint(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    return http.retry_after_seconds(response.headers) if response is not None else None


class KaggleModels:
    """The three Models API calls the crawl needs, each retried, each returning the JSON as received."""

    def __init__(self, settings: Settings, policy: http.RetryPolicy | None = None, timeout_s: float = 30.0) -> None:
        from kagglesdk import KaggleClient

        self.env = environment(settings)
        self.policy = policy or http.RetryPolicy()
        self._last: requests.Response | None = None
        self.requests = 0
        self.client = KaggleClient(
            env=self.env, api_token=settings.kaggle_token, user_agent=http.DEFAULT_USER_AGENT, response_processor=self._keep
        )
        self.client.__enter__()  # opens kagglesdk's requests session, which gets our default timeout
        session = self.client.http_client()._session
        adapter = _DefaultTimeout(timeout_s)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        self.endpoint = self.client.http_client()._endpoint

    def close(self) -> None:
        self.client.__exit__(None, None, None)

    def _keep(self, response: requests.Response) -> None:
        self._last = response

    def url(self, method: str) -> str:
        base = self.endpoint if self.env.name == "PROD" else f"{self.endpoint}/api"
        return f"{base}/v1/models.ModelApiService/{method}"

    def _call(self, method: str, request: Any, attempts: int | None = None) -> dict:
        api = self.client.models.model_api_client
        call = {"ListModels": api.list_models, "GetModel": api.get_model, "ListModelInstances": api.list_model_instances}[method]

        def once() -> dict:
            self.requests += 1
            call(request)
            return self._last.json()

        policy = self.policy if attempts is None else dataclasses.replace(self.policy, attempts=attempts)
        url = self.url(method)
        try:
            return http.call_with_retries(once, retryable=_is_retryable, wait_hint=_wait_hint, policy=policy, describe=f"POST {url}")
        except (requests.exceptions.RequestException, http.HttpError) as exc:
            last = exc.__cause__ if isinstance(exc, http.HttpError) else exc
            response = getattr(last, "response", None)
            status = response.status_code if response is not None else None
            if status is None:
                hint = "check the network or KAGGLE_API_ENVIRONMENT"
            elif status in (401, 403):
                hint = "check KAGGLE_API_TOKEN"
            else:
                hint = "run the crawl again to resume from the persisted page token"
            raise KaggleError(
                f"Kaggle {method} at {url} failed ({status or type(last).__name__}: {last}); expected an answer: {hint}.",
                status=status,
                connection_failed=isinstance(last, requests.exceptions.ConnectionError),
            ) from exc

    def list_models(self, search: str | None, page_size: int, page_token: str | None, attempts: int | None = None) -> dict:
        from kagglesdk.models.types.model_api_service import ApiListModelsRequest

        request = ApiListModelsRequest()
        request.search = search
        request.page_size = page_size
        request.page_token = page_token or None
        return self._call("ListModels", request, attempts)

    def get_model(self, owner: str, slug: str) -> dict | None:
        """The model, or None when Kaggle answers 404 (deleted since it was listed)."""
        from kagglesdk.models.types.model_api_service import ApiGetModelRequest

        request = ApiGetModelRequest()
        request.owner_slug, request.model_slug = owner, slug
        try:
            return self._call("GetModel", request)
        except KaggleError as exc:
            if exc.status == 404:
                return None
            raise

    def list_instances(self, owner: str, slug: str) -> list[dict] | None:
        """Every instance (framework + variation) of a model, across all pages; None when Kaggle answers 404."""
        from kagglesdk.models.types.model_api_service import ApiListModelInstancesRequest

        instances, token = [], None
        while True:
            request = ApiListModelInstancesRequest()
            request.owner_slug, request.model_slug = owner, slug
            request.page_size = 50
            request.page_token = token
            try:
                page = self._call("ListModelInstances", request)
            except KaggleError as exc:
                if exc.status == 404:
                    return None
                raise
            instances.extend(page.get("instances") or [])
            token = page.get("nextPageToken") or None
            if not token:
                return instances


def native_id(owner: str, model: str, instance: dict) -> str:
    """``owner/model/framework/variation``, the handle Kaggle itself shows."""
    return f"{owner}/{model}/{framework_handle(instance.get('framework'))}/{instance['slug']}"


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
    policy: http.RetryPolicy | None = None,
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
                    log.warning("Kaggle's public API at %s cannot be reached; the crawl is skipped: %s", api.endpoint, exc)
                    return {"status": "unreachable", "endpoint": api.endpoint, "records": 0, "detail": str(exc)}
                if not (probe and exc.status in RETRYABLE_STATUS):
                    raise
                page = api.list_models(search, page_size, state["page_token"])  # it answered: online, so the full policy
            records = _page_records(api, page, summary)
            if records:
                lake.write_raw(settings, SOURCE, state["crawl_id"], state["step"], records)
            state.update(page_token=page.get("nextPageToken") or None, step=state["step"] + 1, records=state["records"] + len(records))
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


CATALOG_SCHEMA = {
    "model_id": pl.String, "source": pl.String, "name": pl.String, "revision": pl.String,
    "architecture": pl.String, "model_type": pl.String, "dataset": pl.String, "data_category": pl.String,
    "num_classes": pl.Int32, "input_size": pl.Int32, "library": pl.String, "license": pl.String,
    "paper_id": pl.String, "purpose": pl.String, "weights_url": pl.String,
    "created_at": pl.String, "last_modified": pl.String, "likes": pl.Int64,
}  # fmt: skip


def _license(instance: dict, model: dict) -> str | None:
    name = (instance.get("license") or {}).get("name")
    if not name:  # ListModelInstances left it out: GetModel's copy of the instance may have it
        same = [i for i in model.get("instances") or [] if i.get("slug") == instance.get("slug")]
        name = same[0].get("licenseName") if same else None
    return name or None


def model_row(payload: dict, problems: list[numbers.Problem] | None = None) -> dict:
    """One catalog row (without the seen-at times) from one raw Kaggle record; ``likes`` (the vote count)
    passes its range rule, and a refused value's problem is appended to ``problems``."""
    model, instance = payload["model"], payload["instance"]
    likes, bad_likes = numbers.whole_number("likes", model.get("voteCount"))
    if bad_likes and problems is not None:
        problems.append(bad_likes)
    handle = native_id(payload["owner"], payload["model_slug"], instance)
    datasets = [d for d in (canonical_dataset(t) for t in instance.get("trainingData") or []) if d]
    dataset = datasets[-1] if datasets else None  # the last one named is what it was fine-tuned on
    papers = arxiv_ids(" ".join([model.get("description") or "", instance.get("overview") or ""]))
    return {
        "model_id": f"{SOURCE}:{handle}",
        "source": SOURCE,
        "name": handle,
        "revision": str(instance["versionNumber"]) if instance.get("versionNumber") else None,
        "architecture": payload["model_slug"],
        "model_type": model_family(payload["model_slug"]),
        "dataset": dataset,
        "data_category": data_category(dataset),
        "num_classes": None,
        "input_size": None,
        "library": framework_handle(instance.get("framework")),
        "license": _license(instance, model),
        "paper_id": papers[0] if papers else None,
        "purpose": None,
        "weights_url": f"{WEB_URL}/{handle}",
        "created_at": model.get("publishTime"),
        "last_modified": model.get("updateTime"),
        "likes": likes,
    }


def catalog_rows(raw: pl.DataFrame, issues: list[dict] | None = None) -> pl.DataFrame:
    """Catalog rows for every Kaggle variation in the raw records: its latest record plus first/last seen.

    A record no row can be made of, and every value a rule refused, goes to ``issues`` as a quarantine entry
    (:func:`sn_lake.annotate.numbers.rows_from_records`).
    """
    rows = numbers.rows_from_records(lake.latest_records(raw), model_row, CATALOG_SCHEMA, SOURCE, issues)
    return rows.with_columns(
        pl.col("created_at").str.to_datetime(time_zone="UTC", strict=False),
        pl.col("last_modified").str.to_datetime(time_zone="UTC", strict=False),
    )
