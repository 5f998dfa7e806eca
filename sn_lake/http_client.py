"""The polite HTTP client every sn_lake source uses (and the evaluation, for its downloads).

It sits below the sources so that ``sn_lake.evaluate`` can use it without importing a crawler.

A crawler a site maintainer is glad to see: few requests, honest pacing, nothing lost when a
request fails. :class:`PoliteClient` wraps :class:`httpx.Client` and

* paces requests below the server's quota, read from the IETF ``RateLimit`` /
  ``RateLimit-Policy`` headers (``"api";r=499;t=120`` / ``"fixed window";"api";q=500;w=300``):
  the remaining requests of a window are spread evenly over what is left of it, and when only a
  small reserve is left it waits for the window to reset;
* on ``429`` waits what ``Retry-After`` (seconds or an HTTP date) or ``RateLimit``'s ``t=`` says,
  then retries;
* retries ``408``/``5xx`` answers, timeouts, refused or broken connections, truncated bodies and
  bodies that do not parse, with exponential backoff and jitter (:class:`RetryPolicy`); a body is
  only handed back once it was read completely and parsed, so a caller never sees half a page;
* sends a descriptive ``User-Agent``, and the token only in the ``Authorization`` header (never
  in a URL, a log line or an error message);
* keeps credentials written into an endpoint URL (``HF_ENDPOINT=http://user:pass@host``) out of
  everything it hands back or logs (httpx's own log included: the URL it sends has no userinfo): URLs
  in logs, errors and :class:`Fetched` show ``http://***@host``, and ``next`` links carry no userinfo.
  The client still sends them (HTTP Basic) to that origin, on every request, including the ``next``
  pages and those of a resumed crawl (``credentials=``).

Public API (kept small; other sources import it)::

    client = PoliteClient(token=..., user_agent=...)
    client.get_json(url, params=...)        # parsed JSON
    client.get_text(url, params=...)        # decoded text
    client.post_json(url, json=...)         # parsed JSON answer of a POST
    client.fetch("GET", url, parse="json")  # a Fetched: data, status, headers, url, next_link
    client.stats                            # requests sent, retries, seconds waited, by status

    call_with_retries(fn, retryable=..., describe="kaggle models.list")  # wrap any SDK call

Every failure that survives the retries raises :class:`HttpError` naming the URL.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from sn_lake import __version__
from sn_lake.config import redact_userinfo

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = f"sn-lake/{__version__} (model-catalog crawler; python-httpx/{httpx.__version__})"

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

T = TypeVar("T")


class HttpError(RuntimeError):
    """A request that failed for good: a status that is not retried, or retries used up.

    ``status`` is the last HTTP status (``None`` when no answer came), ``url`` the request URL
    (never carrying a token), ``attempts`` how many times it was sent.
    """

    def __init__(self, message: str, *, url: str, status: int | None = None, attempts: int = 1):
        super().__init__(message)
        self.url = url
        self.status = status
        self.attempts = attempts


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry.

    ``attempts`` counts every try including the first; backoff before try *n* + 1 is
    ``min(backoff_max, backoff_base * 2 ** (n - 1))`` scaled by a random factor in [0.5, 1]
    (jitter, so parallel clients do not retry in lockstep). A server-requested wait
    (``Retry-After``) is honoured up to ``max_wait`` seconds; a longer one fails the request.
    """

    attempts: int = 6
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_wait: float = 600.0
    seed: int | None = None

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        base = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return base * (rng or random).uniform(0.5, 1.0)


def call_with_retries(
    fn: Callable[[], T],
    *,
    retryable: Callable[[BaseException], bool],
    describe: str,
    policy: RetryPolicy = RetryPolicy(),
    wait_hint: Callable[[BaseException], float | None] = lambda exc: None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn`` until it succeeds, retrying the exceptions ``retryable`` accepts.

    For SDKs that do their own HTTP (kagglesdk, huggingface_hub): ``wait_hint`` may return the
    seconds a failure asks to wait (a 429's ``Retry-After``), otherwise the policy's backoff is
    used. The last exception is re-raised as :class:`HttpError` (``describe`` names the call).
    """
    rng = random.Random(policy.seed)
    for attempt in range(1, policy.attempts + 1):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - classified by `retryable`
            if not retryable(exc):
                raise
            if attempt == policy.attempts:
                raise HttpError(
                    f"{describe} failed after {attempt} attempts ({exc!r}); expected it to succeed within "
                    f"the retry policy: check the service's status and run the crawl again (it resumes).",
                    url=describe,
                    attempts=attempt,
                ) from exc
            hinted = wait_hint(exc)
            if hinted is not None and hinted > policy.max_wait:
                raise HttpError(
                    f"{describe} asked to wait {hinted:.0f}s, more than the {policy.max_wait:.0f}s the policy allows; "
                    "run the crawl again later (it resumes).",
                    url=describe,
                    attempts=attempt,
                ) from exc
            delay = hinted if hinted is not None else policy.backoff(attempt, rng)
            log.warning("%s: attempt %d failed (%s); retrying in %.2fs", describe, attempt, type(exc).__name__, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


# --- RateLimit headers (IETF draft-ietf-httpapi-ratelimit-headers, as the Hugging Face Hub sends them)

_RATELIMIT = re.compile(r'(?:"(?P<name>[^"]*)"\s*;)?.*?\br=(?P<r>\d+).*?\bt=(?P<t>\d+)', re.S)
_POLICY_Q = re.compile(r"\bq=(\d+)")
_POLICY_W = re.compile(r"\bw=(\d+)")


@dataclass(frozen=True)
class RateLimit:
    """One ``RateLimit`` header: ``remaining`` requests in the next ``reset_s`` seconds."""

    name: str
    remaining: int
    reset_s: float
    quota: int | None = None
    window_s: float | None = None


def parse_ratelimit(headers: Mapping[str, str]) -> RateLimit | None:
    """The ``RateLimit`` (and ``RateLimit-Policy``) headers of a response, or None when absent/unreadable."""
    value = headers.get("ratelimit") or headers.get("RateLimit")
    if not value:
        return None
    match = _RATELIMIT.search(value)
    if not match:
        return None
    policy = headers.get("ratelimit-policy") or headers.get("RateLimit-Policy") or ""
    quota = _POLICY_Q.search(policy)
    window = _POLICY_W.search(policy)
    return RateLimit(
        name=match.group("name") or "",
        remaining=int(match.group("r")),
        reset_s=float(match.group("t")),
        quota=int(quota.group(1)) if quota else None,
        window_s=float(window.group(1)) if window else None,
    )


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds a 429/503 asks to wait: ``Retry-After`` (seconds or HTTP date), else ``RateLimit``'s ``t=``."""
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(0.0, when.timestamp() - time.time())
    limit = parse_ratelimit(headers)
    return limit.reset_s if limit else None


def route_of(url: str) -> str:
    """The rate-limit route of a URL: host plus ``/resolve/`` for file downloads, else its first path segment."""
    parts = urlsplit(url)
    path = parts.path
    segment = "resolve" if "/resolve/" in path else (path.strip("/").split("/", 1)[0] or "")
    return f"{parts.netloc}/{segment}"


class Pacer:
    """Spaces requests so a route never uses more than its quota (thread-safe).

    After each answer carrying ``RateLimit``, the next request on that route may start no sooner
    than ``reset_s / (remaining - reserve)`` after the previous one; at or below the reserve it waits
    for the window to reset. ``min_interval`` adds a fixed floor for servers that send no headers.
    """

    def __init__(
        self, *, reserve_fraction: float = 0.05, min_interval: float = 0.0, clock: Callable[[], float] = time.monotonic
    ):
        self.reserve_fraction = reserve_fraction
        self.min_interval = min_interval
        self.clock = clock
        self._lock = threading.Lock()
        self._next_at: dict[str, float] = {}
        self._interval: dict[str, float] = {}

    def reserve(self, route: str) -> float:
        """Claim the next slot on ``route``; returns the seconds to sleep before sending."""
        with self._lock:
            now = self.clock()
            start = max(now, self._next_at.get(route, now))
            self._next_at[route] = start + max(self.min_interval, self._interval.get(route, 0.0))
            return start - now

    def observe(self, route: str, limit: RateLimit | None) -> None:
        """Learn the pace of ``route`` from an answer's ``RateLimit`` header."""
        if limit is None:
            return
        reserve = max(1, round((limit.quota or limit.remaining) * self.reserve_fraction))
        with self._lock:
            now = self.clock()
            if limit.remaining <= reserve:
                self._interval[route] = 0.0
                self._next_at[route] = max(self._next_at.get(route, now), now + limit.reset_s)
            else:
                self._interval[route] = limit.reset_s / (limit.remaining - reserve)

    def hold(self, route: str, seconds: float) -> None:
        """Let nothing start on ``route`` for ``seconds`` (a 429's Retry-After)."""
        with self._lock:
            now = self.clock()
            self._next_at[route] = max(self._next_at.get(route, now), now + seconds)


@dataclass
class Fetched:
    """One successful answer: the parsed body and what a caller may need from the response."""

    url: str
    status: int
    headers: httpx.Headers
    data: Any
    links: dict[str, str] = field(default_factory=dict)

    @property
    def next_link(self) -> str | None:
        """The ``Link: <...>; rel="next"`` URL, or None on the last page."""
        return self.links.get("next")


def _parse_body(response: httpx.Response, parse: str) -> Any:
    if parse == "json":
        return json.loads(response.content)  # ValueError on a malformed or truncated body: retried
    if parse == "text":
        return response.content.decode(response.encoding or "utf-8")
    if parse == "bytes":
        return response.content
    raise ValueError(f"parse must be 'json', 'text' or 'bytes', found {parse!r}.")


class PoliteClient:
    """A paced, retrying, token-safe HTTP client (see the module docstring); thread-safe.

    ``token`` goes only into the ``Authorization: Bearer`` header. ``credentials`` are URLs whose
    ``user:password`` the client sends (HTTP Basic) to their origin on every request, also to URLs
    that carry none (a ``next`` link, a resumed cursor); a URL passed to :meth:`fetch` with userinfo
    adds its origin too. ``sleep`` and ``clock`` are injectable so tests can run the pacing on a fake
    clock.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        timeout: float = 30.0,
        policy: RetryPolicy = RetryPolicy(),
        max_connections: int = 16,
        reserve_fraction: float = 0.05,
        min_interval: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        name: str = "http",
        credentials: Iterable[str] = (),
    ):
        headers = {"User-Agent": user_agent, "Accept-Encoding": "gzip"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            follow_redirects=True,
            trust_env=False,
        )
        self.policy = policy
        self.pacer = Pacer(reserve_fraction=reserve_fraction, min_interval=min_interval, clock=clock)
        self.sleep = sleep
        self.name = name
        self._rng = random.Random(policy.seed)
        self._stats_lock = threading.Lock()
        self._stats: Counter = Counter()
        self._basic_auth: dict[tuple[str, str, int | None], httpx.BasicAuth] = {}  # origin -> its credentials
        for url in credentials:
            self._remember_credentials(httpx.URL(url))

    # -- context manager
    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    @property
    def stats(self) -> dict[str, float]:
        """``requests`` sent (every try), ``retries``, ``waited_s`` (pacing and retry waits), ``status_<code>``
        counts."""
        with self._stats_lock:
            return dict(self._stats)

    def _count(self, key: str, n: float = 1) -> None:
        with self._stats_lock:
            self._stats[key] += n

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._count("waited_s", seconds)
            self.sleep(seconds)

    def _remember_credentials(self, url: httpx.URL) -> None:
        if url.userinfo:
            self._basic_auth[(url.scheme, url.host, url.port)] = httpx.BasicAuth(url.username, url.password)

    def _without_credentials(self, url: str | httpx.URL) -> tuple[httpx.URL, httpx.BasicAuth | None]:
        """``url`` without its userinfo (httpx logs the URLs it sends), and the Basic credentials of its origin."""
        target = httpx.URL(url)
        self._remember_credentials(target)
        if target.userinfo:
            target = target.copy_with(userinfo=b"")
        return target, self._basic_auth.get((target.scheme, target.host, target.port))

    # -- the one request loop
    def fetch(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        parse: str = "json",
        ok_statuses: frozenset[int] = frozenset(),
    ) -> Fetched:
        """Send one request with pacing and retries; return the parsed answer.

        ``parse`` is ``json``, ``text`` or ``bytes``. Statuses below 300, and those in
        ``ok_statuses`` (say ``{404}`` when "absent" is an answer), are returned; any other status
        that is not retried raises :class:`HttpError` at once.
        """
        target, auth = self._without_credentials(url)
        request = self._client.build_request(method, target, params=params, json=json_body, headers=headers)
        shown = str(request.url)  # what logs, errors and Fetched.url show: ***@ where credentials are sent
        if auth is not None:
            shown = shown.replace("://", "://***@", 1)
        route = route_of(shown)
        last_problem = "no attempt made"
        status: int | None = None
        for attempt in range(1, self.policy.attempts + 1):
            self._wait(self.pacer.reserve(route))
            self._count("requests")
            hinted: float | None = None
            try:
                response = self._client.send(request, auth=auth) if auth else self._client.send(request)
                try:
                    response.read()  # the whole body, or an exception (short read, reset)
                finally:
                    response.close()
                status = response.status_code
                self._count(f"status_{status}")
                log.debug("%s %s -> %s (%d bytes)", method, shown, status, len(response.content))
                self.pacer.observe(route, parse_ratelimit(response.headers))
                if status < 300 or status in ok_statuses:
                    data = _parse_body(response, parse) if status < 300 else None
                    links = {
                        link["rel"]: str(response.url.join(link["url"]).copy_with(userinfo=b""))  # fetchable, no secret
                        for link in response.links.values()
                        if "rel" in link and "url" in link
                    }
                    answered = str(response.url) if response.url != request.url else shown  # after a redirect
                    return Fetched(
                        url=redact_userinfo(answered), status=status, headers=response.headers, data=data, links=links
                    )
                if status not in RETRY_STATUSES:
                    raise HttpError(
                        f"{method} {shown} answered {status} {response.reason_phrase}; expected a 2xx answer: "
                        f"check the URL, the filters and the token's permissions ({response.text[:200]!r}).",
                        url=shown,
                        status=status,
                        attempts=attempt,
                    )
                last_problem = f"status {status}"
                if status in (429, 503):
                    hinted = retry_after_seconds(response.headers)
            except httpx.TimeoutException as exc:
                last_problem = f"timeout ({type(exc).__name__})"
                self._count("timeouts")
            except httpx.RequestError as exc:  # refused, reset, short read, protocol or decoding error
                last_problem = redact_userinfo(f"transport error ({type(exc).__name__}: {exc})")
                self._count("transport_errors")
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # malformed, truncated or too deep
                last_problem = f"unparseable {parse} body ({exc})"
                self._count("bad_bodies")
            if attempt == self.policy.attempts:
                break
            if hinted is not None and hinted > self.policy.max_wait:
                raise HttpError(
                    f"{method} {shown} asked to wait {hinted:.0f}s, more than the {self.policy.max_wait:.0f}s allowed; "
                    "run again after the rate-limit window resets (the crawl resumes).",
                    url=shown,
                    status=status,
                    attempts=attempt,
                )
            delay = hinted if hinted is not None else self.policy.backoff(attempt, self._rng)
            if hinted is not None:
                self.pacer.hold(route, delay)
                delay = 0.0  # the pacer makes the next try wait
            self._count("retries")
            log.warning(
                "%s %s: %s on attempt %d; retrying in %.2fs", method, shown, last_problem, attempt, delay or hinted or 0
            )
            self._wait(delay)
        raise HttpError(
            f"{method} {shown} failed after {self.policy.attempts} attempts (last: {last_problem}); expected a "
            "complete answer: check the server and run again (crawls resume where they stopped).",
            url=shown,
            status=status,
            attempts=self.policy.attempts,
        )

    # -- conveniences
    def get_json(
        self,
        url: str,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """GET ``url`` and return its parsed JSON body."""
        return self.fetch("GET", url, params=params, headers=headers, parse="json").data

    def get_text(
        self,
        url: str,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """GET ``url`` and return its body as text."""
        return self.fetch("GET", url, params=params, headers=headers, parse="text").data

    def post_json(
        self,
        url: str,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """POST ``json`` to ``url`` and return the parsed JSON answer."""
        return self.fetch("POST", url, params=params, json_body=json, headers=headers, parse="json").data
