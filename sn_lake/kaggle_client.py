"""The Kaggle Models API through kagglesdk, retried and with timeouts: the client the Kaggle crawl lists with
and the evaluation downloads with (it sits below both, so the evaluation imports no crawler).

kagglesdk is imported, never the ``kaggle`` package (which authenticates at import). kagglesdk has no retries and
no timeouts: every call goes through :func:`sn_lake.http_client.call_with_retries` and the SDK's ``requests``
session gets a default timeout. The token (``KAGGLE_API_TOKEN``) goes to kagglesdk only; it never reaches a log,
the lake or the warehouse.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from sn_lake import http_client as http
from sn_lake.config import Settings

RETRYABLE_STATUS = {429, 500, 502, 503, 504}

# kagglesdk's names for KAGGLE_API_ENVIRONMENT values (kagglesdk.kaggle_env.get_env)
_ENVIRONMENTS = {
    "PROD": "PROD",
    "LOCALHOST": "LOCAL",
    "STAGING": "STAGING",
    "ADMIN": "ADMIN",
    "QA": "QA",
    "TEST": "TEST",
}


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
    return (
        isinstance(exc, requests.exceptions.HTTPError)
        and response is not None
        and response.status_code in RETRYABLE_STATUS
    )


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
            env=self.env,
            api_token=settings.kaggle_token,
            user_agent=http.DEFAULT_USER_AGENT,
            response_processor=self._keep,
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
        call = {
            "ListModels": api.list_models,
            "GetModel": api.get_model,
            "ListModelInstances": api.list_model_instances,
        }[method]

        def once() -> dict:
            self.requests += 1
            call(request)
            return self._last.json()

        policy = self.policy if attempts is None else dataclasses.replace(self.policy, attempts=attempts)
        url = self.url(method)
        try:
            return http.call_with_retries(
                once, retryable=_is_retryable, wait_hint=_wait_hint, policy=policy, describe=f"POST {url}"
            )
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
                f"Kaggle {method} at {url} failed ({status or type(last).__name__}: {last}); "
                f"expected an answer: {hint}.",
                status=status,
                connection_failed=isinstance(last, requests.exceptions.ConnectionError),
            ) from exc

    def list_models(
        self, search: str | None, page_size: int, page_token: str | None, attempts: int | None = None
    ) -> dict:
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
        from kagglesdk.models.types.model_api_service import (
            ApiListModelInstancesRequest,
        )

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
