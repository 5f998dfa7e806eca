"""The shared polite HTTP client, against a real loopback server (the fake Hub) with injected faults."""

import logging
import threading

import pytest
from fake_hub import FakeHub

from sn_lake.http_client import (
    HttpError,
    PoliteClient,
    RetryPolicy,
    call_with_retries,
    parse_ratelimit,
    retry_after_seconds,
    route_of,
)

FAST = RetryPolicy(attempts=4, backoff_base=0.01, backoff_max=0.05, seed=1)
MODELS = [{"id": f"org/m{i}", "pipeline_tag": "image-classification", "downloads": i} for i in range(5)]


class FakeClock:
    """A clock that only moves when someone sleeps on it (shared by client and server)."""

    def __init__(self):
        self.t = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.t += seconds


@pytest.fixture
def hub():
    with FakeHub(MODELS) as server:
        yield server


def listing(hub: FakeHub) -> str:
    return f"{hub.url}/api/models"


def test_parse_ratelimit_reads_the_hub_headers():
    info = parse_ratelimit({"ratelimit": '"api";r=499;t=120', "ratelimit-policy": '"fixed window";"api";q=500;w=300'})
    assert (info.name, info.remaining, info.reset_s, info.quota, info.window_s) == ("api", 499, 120.0, 500, 300.0)
    assert parse_ratelimit({}) is None
    assert parse_ratelimit({"ratelimit": "garbage"}) is None


def test_retry_after_prefers_the_header_then_ratelimit_reset():
    assert retry_after_seconds({"retry-after": "7"}) == 7.0
    assert retry_after_seconds({"ratelimit": '"api";r=0;t=42'}) == 42.0
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # a date in the past
    assert retry_after_seconds({}) is None


def test_route_separates_file_downloads_from_api_calls():
    assert route_of("http://h:1/org/m/resolve/abc/README.md") == "h:1/resolve"
    assert route_of("http://h:1/api/models?limit=5") == "h:1/api"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried(hub, status):
    hub.inject("status", path_contains="/api/models", times=2, status=status, retry_after=0)
    with PoliteClient(policy=FAST) as client:
        data = client.get_json(listing(hub))
        assert [m["id"] for m in data] == [m["id"] for m in MODELS]
        assert client.stats["retries"] == 2
    assert [r.status for r in hub.request_log] == [status, status, 200]


def test_429_waits_what_retry_after_says():
    clock = FakeClock()
    with (
        FakeHub(MODELS, clock=clock.now) as hub,
        PoliteClient(policy=FAST, sleep=clock.sleep, clock=clock.now) as client,
    ):
        hub.inject("status", path_contains="/api/models", status=429, retry_after=37)
        assert len(client.get_json(listing(hub))) == 5
    assert [r.status for r in hub.request_log] == [429, 200]
    assert pytest.approx(sum(clock.sleeps), abs=1) == 37


def test_a_retry_after_longer_than_the_policy_allows_fails_clearly(hub):
    hub.inject("status", path_contains="/api/models", status=429, retry_after=5000)
    with PoliteClient(policy=FAST) as client, pytest.raises(HttpError, match="asked to wait 5000s") as info:
        client.get_json(listing(hub))
    assert info.value.status == 429


@pytest.mark.parametrize("kind", ["truncate", "reset", "bad_json"])
def test_broken_bodies_are_retried_never_returned(hub, kind):
    hub.inject(kind, path_contains="/api/models", times=2)
    with PoliteClient(policy=FAST) as client:
        data = client.get_json(listing(hub))
    assert len(data) == 5
    assert [r.status for r in hub.request_log] == [f"fault:{kind}", f"fault:{kind}", 200]


def test_a_slow_response_times_out_and_is_retried(hub):
    hub.inject("slow", path_contains="/api/models", seconds=2.0)
    with PoliteClient(policy=FAST, timeout=0.3) as client:
        assert len(client.get_json(listing(hub))) == 5
        assert client.stats["timeouts"] == 1


def test_retries_used_up_raise_an_error_naming_the_url(hub, caplog):
    hub.inject("status", path_contains="/api/models", times=10, status=503, retry_after=0)
    with PoliteClient(policy=FAST) as client, pytest.raises(HttpError) as info:
        client.get_json(listing(hub), params={"limit": 2})
    assert info.value.status == 503 and info.value.attempts == 4
    assert "/api/models?limit=2" in str(info.value) and "run again" in str(info.value)
    assert len(hub.request_log) == 4


def test_client_errors_are_not_retried(hub):
    with PoliteClient(policy=FAST) as client, pytest.raises(HttpError, match="answered 404"):
        client.get_json(f"{hub.url}/api/models/nobody/nothing")
    assert len(hub.request_log) == 1


def test_absent_can_be_an_answer(hub):
    with PoliteClient(policy=FAST) as client:
        answer = client.fetch(
            "GET", f"{hub.url}/org/m1/resolve/main/README.md", parse="text", ok_statuses=frozenset({404})
        )
    assert answer.status == 404 and answer.data is None


def test_token_only_in_the_authorization_header(hub, caplog):
    caplog.set_level(logging.DEBUG)
    token = "hf_tok_only_in_header_123"
    hub.inject("status", path_contains="/api/models", status=500)
    with PoliteClient(token=token, policy=FAST, user_agent="sn-lake-test/1 (crawler)") as client:
        client.get_json(listing(hub))
    assert all(r.authorization == f"Bearer {token}" for r in hub.request_log)
    assert all(r.user_agent == "sn-lake-test/1 (crawler)" for r in hub.request_log)
    assert all(token not in r.url_path_and_query for r in hub.request_log)
    assert token not in caplog.text
    assert "retrying" in caplog.text  # the retry was logged, without the token


def test_pacing_keeps_below_the_quota_on_a_fake_clock():
    """A quota of 10 requests per 60 s window: 25 requests spread over windows and never draw a 429."""
    clock = FakeClock()
    with FakeHub(MODELS, clock=clock.now, api_quota=(10, 60)) as hub:
        with PoliteClient(policy=FAST, sleep=clock.sleep, clock=clock.now, reserve_fraction=0.1) as client:
            for _ in range(25):
                client.get_json(listing(hub), params={"limit": 1})
    assert [r.status for r in hub.request_log] == [200] * 25
    assert clock.t - 1000.0 >= 120  # 25 requests at <= 10 per minute need at least two more windows


def test_429s_from_an_exhausted_quota_are_waited_out():
    clock = FakeClock()
    with FakeHub(MODELS, clock=clock.now, api_quota=(3, 30)) as hub:
        # a client that ignores RateLimit headers until it is told off: no reserve
        with PoliteClient(
            policy=RetryPolicy(attempts=3, backoff_base=0.01), sleep=clock.sleep, clock=clock.now, reserve_fraction=0
        ) as client:
            client.pacer.observe = lambda route, limit: None
            for _ in range(5):
                client.get_json(listing(hub))
    statuses = [r.status for r in hub.request_log]
    assert statuses.count(200) == 5 and 429 in statuses


def test_call_with_retries_wraps_any_sdk():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("reset by peer")
        return "ok"

    waits = []
    assert (
        call_with_retries(
            flaky,
            retryable=lambda e: isinstance(e, ConnectionError),
            describe="sdk.list",
            policy=FAST,
            sleep=waits.append,
        )
        == "ok"
    )
    assert len(calls) == 3 and len(waits) == 2

    with pytest.raises(ValueError):  # not retryable: raised as is, once
        call_with_retries(
            lambda: int("x"), retryable=lambda e: isinstance(e, ConnectionError), describe="sdk.parse", policy=FAST
        )

    def always():
        raise ConnectionError("down")

    with pytest.raises(HttpError, match="sdk.down failed after 4 attempts"):
        call_with_retries(always, retryable=lambda e: True, describe="sdk.down", policy=FAST, sleep=lambda s: None)

    hinted = []
    call_with_retries(
        lambda: hinted.append(1) or (len(hinted) > 1 or (_ for _ in ()).throw(ConnectionError())),
        retryable=lambda e: True,
        wait_hint=lambda e: 12.0,
        describe="sdk.hint",
        policy=FAST,
        sleep=waits.append,
    )
    assert waits[-1] == 12.0
