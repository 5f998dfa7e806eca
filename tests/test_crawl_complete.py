"""Complete first crawls: the card pass runs until every needed card is in the lake, paced by the Hub's quota; an
opt-in budget stops it early, says how many cards are pending (summary, CLI, status, asset metadata) and the next run
takes those first; `sn-lake crawl` rebuilds the catalog as the schedule does; a kill in the card pass loses nothing."""

import os
import signal
import subprocess
import sys
import threading

import polars as pl
import pytest
from fake_hub import FakeHub, synthetic_models

from sn_lake import cli, config, lake, progress
from sn_lake.annotate.model_cards import needs_card
from sn_lake.http_client import PoliteClient, RetryPolicy
from sn_lake.sources.huggingface import crawl as hf

FAST = RetryPolicy(attempts=6, backoff_base=0.01, backoff_max=0.05, seed=0)


def card_requests(hub: FakeHub, since: int = 0) -> list[tuple[str, str]]:
    found = []
    for r in hub.request_log[since:]:
        if "/resolve/" in r.path and r.path.endswith("/README.md"):
            repo, rest = r.path.lstrip("/").split("/resolve/")
            found.append((repo, rest.split("/")[0]))
    return found


def wanted_cards(hub: FakeHub) -> list[dict]:
    """The image classifiers whose listing lacks a fact, most downloaded first (the plan's order)."""
    models = [m for m in hub.models() if m.get("pipeline_tag") == "image-classification" and needs_card(m)]
    return sorted(models, key=lambda m: (-m["downloads"], m["id"]))


def lake_cards(settings) -> pl.DataFrame:
    return lake.read_raw(settings, hf.SOURCE).filter(pl.col("request_url").str.contains("/resolve/"))


@pytest.fixture
def home(sn_home, monkeypatch):
    def settings_for(hub: FakeHub) -> config.Settings:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        return config.load()

    return settings_for


def test_first_crawl_fetches_every_needed_card_beyond_the_old_cap(home):
    """2,100 cards needed (the old fixed cap was 2,000): one crawl fetches them all, each once, no config.json."""
    with FakeHub(synthetic_models(2100, seed=2, image_share=1.0, bare_share=1.0)) as hub:
        settings = home(hub)
        summary = hf.crawl(settings, hf.CrawlConfig(retry=FAST, card_concurrency=16))
        wanted = {(m["id"], m["sha"]) for m in wanted_cards(hub)}
        assert len(wanted) > 2000
        counts = (summary["cards_needed"], summary["cards_fetched"], summary["cards_pending"])
        assert counts == (len(wanted), len(wanted), 0)
        assert summary["stopped_by"] is None and hf.pending_cards(settings)["pending"] == 0
        assert sorted(card_requests(hub)) == sorted(wanted)  # each card asked for exactly once
        assert not [r for r in hub.request_log if r.path.endswith("config.json") or r.status == 429]
        cards = lake_cards(settings)
        assert cards.height == len(wanted) and cards["native_id"].n_unique() == len(wanted)


def test_the_card_pass_keeps_to_the_quota_the_hub_announces(home):
    """A Hub allowing 40 file requests a minute: 150 cards take the minutes the quota implies, and never a 429."""
    clock = FakeClock()
    models = synthetic_models(300, seed=4, image_share=1.0, bare_share=0.5)
    with FakeHub(models, clock=clock.now, resolvers_quota=(40, 60)) as hub:
        client = PoliteClient(policy=FAST, clock=clock.now, sleep=clock.sleep)
        try:
            settings = home(hub)
            start = clock.t
            summary = hf.crawl(settings, hf.CrawlConfig(retry=FAST, card_concurrency=1), client=client)
        finally:
            client.close()
        cards = summary["cards_needed"]
        assert cards > 100 and summary["cards_pending"] == 0
        assert not [r for r in hub.request_log if r.status == 429]
        implied = progress.quota_eta_s(cards - 1, remaining=39, reset_s=60, quota=40, window_s=60)
        assert implied * 0.9 <= clock.t - start <= implied * 1.3, (clock.t - start, implied)


def test_quota_eta_and_the_progress_line():
    # 94 usable of the 99 left in this window's 10 s, then 95 a window of 60 s
    assert progress.quota_eta_s(50, remaining=99, reset_s=10, quota=100, window_s=60) == pytest.approx(50 * 10 / 94)
    later = progress.quota_eta_s(250, remaining=99, reset_s=10, quota=100, window_s=60)
    assert later == pytest.approx(10 + 156 / 95 * 60)
    assert progress.quota_eta_s(0, remaining=0, reset_s=10) == 0
    line = progress.describe("cards", 100, 1000, "cards", 10.0, quota_eta_s=3600.0)
    assert line == "cards: 100/1000 cards (10%), 10 cards/s, ETA 1:00:00 at the quota, elapsed 0:00:10"
    faster = progress.describe("cards", 100, 1000, "cards", 10.0, quota_eta_s=5.0)  # the observed rate decides
    assert faster.endswith("ETA 0:01:30, elapsed 0:00:10")
    bar = progress.Progress("cards", total=10, unit="cards", mode="off", quota_eta=lambda left: left * 60.0)
    assert "ETA 0:10:00 at the quota" in bar.line()


def test_a_request_budget_stops_early_reports_pending_and_the_next_run_takes_those_first(home):
    with FakeHub(synthetic_models(600, seed=3), max_page_size=100) as hub:
        settings = home(hub)
        images = [m for m in hub.models() if m.get("pipeline_tag") == "image-classification"]
        pages = -(-len(images) // 100)
        first = hf.crawl(settings, hf.CrawlConfig(retry=FAST, max_requests=pages + 20))
        wanted = wanted_cards(hub)
        assert first["requests"] == pages + 20 and first["cards_fetched"] == 20
        assert (first["cards_pending"], first["stopped_by"]) == (len(wanted) - 20, "max_requests")
        assert {r for r, _ in card_requests(hub)} == {m["id"] for m in wanted[:20]}  # most downloaded first
        assert hf.pending_cards(settings) | {"crawl_id": None} == {
            "pending": len(wanted) - 20,
            "crawl_id": None,
            "phase": "done",
            "stopped_by": "max_requests",
        }
        pending = [m["id"] for m in wanted[20:]]

        # new models, more downloaded than any pending one, arrive before the next run: they wait their turn
        for i in range(3):
            hub.add_model(
                {
                    "id": f"new/popular-{i}",
                    "pipeline_tag": "image-classification",
                    "downloads": 10**7,
                    "library_name": "transformers",
                    "card": "# a card without facts\n",
                }
            )
        mark = len(hub.request_log)
        second = hf.crawl(settings, hf.CrawlConfig(retry=FAST, card_concurrency=1))
        order = [r for r, _ in card_requests(hub, mark)]
        assert order == pending + [f"new/popular-{i}" for i in range(3)]
        assert second["cards_pending"] == 0 and second["stopped_by"] is None
        cards = lake_cards(settings)
        assert cards.height == len(wanted) + 3 and cards["native_id"].n_unique() == cards.height


def test_a_time_budget_stops_between_batches_and_a_card_cap_too(home):
    with FakeHub(synthetic_models(1200, seed=8, image_share=1.0, bare_share=1.0)) as hub:
        settings = home(hub)
        hub.inject("slow", path_contains="/resolve/", times=10_000, seconds=0.04)  # a batch of 100 takes about 1 s
        timed = hf.crawl(settings, hf.CrawlConfig(retry=FAST, max_seconds=0.8, card_concurrency=4))
        assert timed["stopped_by"] == "max_seconds" and 0 < timed["cards_pending"] < timed["cards_needed"]
        assert timed["cards_fetched"] % hf.CARD_BATCH == 0  # whole batches: each one is a resumable step
        capped = hf.crawl(settings, hf.CrawlConfig(retry=FAST, card_cap=150))
        assert (capped["stopped_by"], capped["cards_fetched"]) == ("card_cap", 150)
        assert capped["cards_pending"] == timed["cards_pending"] - 150


def test_sn_lake_crawl_builds_the_catalog_and_reports_budget_and_changes(home, capsys):
    """`sn-lake crawl huggingface --max-requests N` (in process): crawl, catalog, checks and views; the output,
    `sn-lake status` and the asset's metadata say how many cards are pending; the next crawl fetches them."""
    import dagster as dg

    with FakeHub(synthetic_models(400, seed=6), max_page_size=50) as hub:
        home(hub)
        images = sum(m.get("pipeline_tag") == "image-classification" for m in hub.models())
        pages = -(-images // 50)
        assert cli.main(["crawl", "huggingface", "--max-requests", str(pages + 10)]) == 0
        out = capsys.readouterr().out
        wanted = wanted_cards(hub)
        assert "materialized catalog_models" in out and "materialized analytics_views" in out
        assert f"catalog: {images} models entered, 0 changed, 0 left" in out
        assert f"huggingface: {len(wanted) - 10} cards pending (the max_requests budget stopped the card pass)" in out
        assert "materialized eval_" not in out and "materialized raw_papers" not in out

        assert cli.main(["status"]) == 0
        assert f"huggingface: {len(wanted) - 10} cards pending" in capsys.readouterr().out
        with dg.DagsterInstance.get() as instance:
            event = instance.get_latest_materialization_event(dg.AssetKey("raw_huggingface"))
        metadata = event.asset_materialization.metadata
        assert metadata["cards_pending"].value == len(wanted) - 10 and metadata["stopped_by"].value == "max_requests"

        assert cli.main(["crawl", "huggingface"]) == 0
        out = capsys.readouterr().out
        assert "huggingface: every card the catalog needs is in the lake (0 pending)." in out
        assert "catalog: 0 models entered," in out and ", 0 left" in out
        changed = int(out.split("catalog: 0 models entered, ")[1].split(" changed")[0])
        assert 0 < changed <= len(wanted) - 10  # the models whose cards came in this run gained facts

        assert cli.main(["crawl", "huggingface", "--max-minutes", "5", "--lake-only"]) == 0
        out = capsys.readouterr().out
        assert "materialized raw_huggingface" in out
        assert "materialized catalog_models" not in out and "catalog:" not in out
        assert cli.main(["crawl", "kaggle", "--max-requests", "5"]) == 2


@pytest.mark.slow
def test_sigkill_in_the_card_pass_of_sn_lake_crawl_then_the_rerun_fetches_only_the_rest(home, capsys):
    with FakeHub(synthetic_models(1600, seed=11), max_page_size=200) as hub:
        settings = home(hub)
        held = hub.stall("/resolve/", after=hf.CARD_BATCH + 10)
        first = subprocess.Popen(
            [sys.executable, "-m", "sn_lake.cli", "crawl", "huggingface"],
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert held.reached.wait(180), "the crawl never reached its second batch of cards"
        os.kill(first.pid, signal.SIGKILL)
        first.communicate()
        held.release.set()
        state = lake.load_state(settings, hf.SOURCE)
        plan = [tuple(p) for p in state["card_plan"]]
        assert (state["phase"], state["cards_done"]) == ("cards", hf.CARD_BATCH)

        assert cli.main(["status"]) == 0
        shown = capsys.readouterr().out
        assert f"huggingface: {len(plan) - hf.CARD_BATCH} cards pending in crawl {state['crawl_id']}" in shown
        mark = len(hub.request_log)
        assert cli.main(["crawl", "huggingface"]) == 0
        captured = capsys.readouterr()
        out = captured.out
        assert "resuming huggingface crawl" in captured.out + captured.err
        assert not [r for r in hub.request_log[mark:] if r.path == "/api/models"]  # no listing page again
        assert sorted(card_requests(hub, mark)) == sorted(plan[hf.CARD_BATCH :])
        cards = lake_cards(settings)
        assert cards.height == len(plan) and cards["native_id"].n_unique() == len(plan)
        images = sum(m.get("pipeline_tag") == "image-classification" for m in hub.models())
        assert f"catalog: {images} models entered, 0 changed, 0 left" in out


class FakeClock:
    """A clock that moves only when someone sleeps on it (shared by the client and the fake Hub)."""

    def __init__(self):
        self.t = 1000.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.t += seconds
