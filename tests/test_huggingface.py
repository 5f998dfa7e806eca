"""The Hugging Face crawler end to end, through the loopback fake Hub and a real DuckDB file."""

import json
import logging
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from fake_hub import FakeHub, synthetic_models

from sn_lake import catalog, config, lake, warehouse
from sn_lake.annotate.model_cards import needs_card
from sn_lake.http_client import HttpError, RetryPolicy
from sn_lake.sources.huggingface import crawl as hf
from sn_lake.sources.huggingface import parse as hf_parse

FAST = RetryPolicy(attempts=6, backoff_base=0.01, backoff_max=0.05, seed=0)
TOKEN = "hf_sEcReT_tOkEn_4242"


def image_models(hub: FakeHub) -> list[dict]:
    return [m for m in hub.models() if m.get("pipeline_tag") == "image-classification"]


def card_requests(hub: FakeHub, since: int = 0) -> list[tuple[str, str]]:
    """(repo id, sha) of every README.md fetched, in order."""
    found = []
    for r in hub.request_log[since:]:
        if "/resolve/" in r.path and r.path.endswith("/README.md"):
            repo, rest = r.path.lstrip("/").split("/resolve/")
            found.append((repo, rest.split("/")[0]))
    return found


def listing_requests(hub: FakeHub, since: int = 0) -> list:
    return [r for r in hub.request_log[since:] if r.path == "/api/models"]


@pytest.fixture
def hub():
    with FakeHub(synthetic_models(800, seed=7), max_page_size=40) as server:
        yield server


@pytest.fixture
def hub_settings(sn_home, hub, monkeypatch) -> config.Settings:
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    return config.load()


def build_catalog(settings: config.Settings):
    con = warehouse.connect(settings)
    catalog.build_models(settings, con)
    return con


def test_full_crawl_lands_every_matching_model_exactly_once(hub, hub_settings):
    hub.inject("status", path_contains="/api/models", status=429, retry_after=0)
    hub.inject("status", path_contains="cursor=", status=503, retry_after=0)
    hub.inject("truncate", path_contains="cursor=")
    hub.inject("reset", path_contains="cursor=")
    hub.inject("bad_json", path_contains="cursor=")
    hub.inject("status", path_contains="/resolve/", status=502)
    hub.inject("reset", path_contains="/resolve/")

    summary = hf.crawl(hub_settings, hf.CrawlConfig(retry=FAST))

    expected = {m["id"]: m for m in image_models(hub)}
    raw = lake.read_raw(hub_settings, hf.SOURCE)
    listings = raw.filter(~pl.col("request_url").str.contains("/resolve/"))
    assert listings.height == len(expected) == summary["models_listed"]
    assert set(listings["native_id"]) == set(expected)
    assert summary["pages"] == math.ceil(len(expected) / 40)

    # expand[] asked for everything the catalog needs; config came from expand, never from config.json
    first = listing_requests(hub)[0]
    assert first.query["pipeline_tag"] == ["image-classification"] and first.query["limit"] == ["1000"]
    assert set(first.query["expand[]"]) >= {
        "sha",
        "lastModified",
        "createdAt",
        "tags",
        "pipeline_tag",
        "library_name",
        "downloads",
        "likes",
        "cardData",
        "safetensors",
    }
    assert not [r for r in hub.request_log if r.path.endswith("config.json")]

    # cards only where the listing lacks a dataset, a paper or an accuracy
    wanted = {(m["id"], m["sha"]) for m in expected.values() if needs_card(m)}
    assert 0 < len(wanted) < len(expected)
    assert set(card_requests(hub)) == wanted and summary["cards_fetched"] == len(wanted)

    con = build_catalog(hub_settings)
    rows = con.execute(
        "SELECT model_id, count(*) FROM catalog.models WHERE source = 'huggingface' GROUP BY 1 HAVING count(*) > 1"
    ).fetchall()
    assert rows == []
    models = {
        r[0]: r
        for r in con.execute(
            "SELECT name, revision, dataset, paper_id, reported_accuracy, base_model, created_at, has_safetensors, "
            "model_type, downloads "
            "FROM catalog.models WHERE source = 'huggingface'"
        ).fetchall()
    }
    assert set(models) == set(expected)
    for repo_id, model in expected.items():
        name, revision, dataset, paper, accuracy, base, created, safetensors, family, downloads = models[repo_id]
        assert revision == model["sha"] and downloads == model["downloads"]
        assert dataset is not None and accuracy is not None and base is not None, repo_id  # from listing or card
        assert (created is None) == model["createdAt"].startswith("2022-03-02T23:29:04")
        assert safetensors == bool(model.get("safetensors"))
        assert family in {"vit", "convnext", "swin", "resnet", "efficientnet"}
    assert con.execute("SELECT count(*) FROM catalog.model_versions").fetchone()[0] == len(expected)
    assert con.execute("SELECT count(*) FROM catalog.model_stats").fetchone()[0] == len(expected)
    assert (
        con.execute("SELECT n_records FROM raw.crawls WHERE source = 'huggingface'").fetchone()[0] == summary["records"]
    )


def test_recrawl_after_one_percent_change_fetches_cards_for_exactly_those(hub, hub_settings):
    hf.crawl(hub_settings, hf.CrawlConfig(retry=FAST))
    images = sorted(image_models(hub), key=lambda m: m["id"])
    changed = images[::100][: max(2, len(images) // 100)]  # 1%
    changed += [next(m for m in images if needs_card(m) and m not in changed)]
    changed += [next(m for m in images if not needs_card(m) and m not in changed)]
    for m in changed:
        hub.update_model(m["id"], downloads=m["downloads"] + 1)
    bumped = images[-1]["id"]
    hub.update_model(bumped, downloads=999_999, sha=hub.model(bumped)["sha"])  # counters only, same sha
    mark = len(hub.request_log)

    summary = hf.crawl(hub_settings, hf.CrawlConfig(retry=FAST))

    now = {m["id"]: m for m in image_models(hub)}
    expected_cards = {(m["id"], now[m["id"]]["sha"]) for m in changed if needs_card(now[m["id"]])}
    assert expected_cards and set(card_requests(hub, mark)) == expected_cards
    assert len(listing_requests(hub, mark)) == summary["pages"]
    assert summary["requests"] == summary["pages"] + len(expected_cards)

    con = build_catalog(hub_settings)
    versions = con.execute(
        "SELECT model_id, count(*) FROM catalog.model_versions GROUP BY 1 HAVING count(*) = 2"
    ).fetchall()
    assert {v[0] for v in versions} == {f"huggingface:{m['id']}" for m in changed}
    assert con.execute("SELECT count(*) FROM catalog.model_stats").fetchone()[0] == 2 * len(now)
    stats = con.execute(
        "SELECT downloads FROM catalog.model_stats WHERE model_id = ? ORDER BY observed_at", [f"huggingface:{bumped}"]
    ).fetchall()
    assert stats[-1][0] == 999_999 and stats[0][0] != 999_999
    revision = con.execute(
        "SELECT revision FROM catalog.models WHERE model_id = ?", [f"huggingface:{changed[0]['id']}"]
    ).fetchone()[0]
    assert revision == now[changed[0]["id"]]["sha"]


def test_card_cap_takes_most_downloaded_first_and_leaves_the_rest_for_the_next_run(hub, hub_settings):
    first = hf.crawl(hub_settings, hf.CrawlConfig(retry=FAST, card_cap=5))
    wanted = sorted((m for m in image_models(hub) if needs_card(m)), key=lambda m: (-m["downloads"], m["id"]))
    assert card_requests(hub) and {r for r, _ in card_requests(hub)} == {m["id"] for m in wanted[:5]}
    assert first["cards_deferred"] == len(wanted) - 5
    mark = len(hub.request_log)
    second = hf.crawl(hub_settings, hf.CrawlConfig(retry=FAST, card_cap=5000))
    assert {r for r, _ in card_requests(hub, mark)} == {m["id"] for m in wanted[5:]}
    assert second["cards_deferred"] == 0


def test_limit_and_filters_are_sent_and_honoured(hub, hub_settings):
    summary = hf.crawl(hub_settings, hf.CrawlConfig(retry=FAST, limit=50, library="timm", card_cap=0))
    assert summary["models_listed"] == 50
    first = listing_requests(hub)[0]
    assert first.query["library"] == ["timm"] and first.query["limit"] == ["50"]
    raw = lake.read_raw(hub_settings, hf.SOURCE)
    assert raw.height == 50
    assert all(json.loads(p)["library_name"] == "timm" for p in raw["payload"])


def test_unreachable_hub_fails_clearly_and_keeps_the_crawl_resumable(sn_home, monkeypatch):
    with FakeHub([]) as gone:
        endpoint = gone.url  # the port is closed once the server stops
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    settings = config.load()
    with pytest.raises(HttpError, match="failed after 2 attempts") as info:
        hf.crawl(settings, hf.CrawlConfig(retry=RetryPolicy(attempts=2, backoff_base=0.01)))
    assert info.value.status is None
    assert lake.load_state(settings, hf.SOURCE)["phase"] == "listing"
    assert lake.finished_crawls(settings, hf.SOURCE) == []


def test_created_at_floor_date_is_not_a_creation_date():
    assert hf_parse.created_at("2022-03-02T23:29:04.000Z") is None
    assert hf_parse.created_at("2023-05-01T10:00:00.000Z").year == 2023
    assert hf_parse.created_at(None) is None


def _run_cli(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sn_lake.cli", "crawl", "huggingface", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_sigkill_mid_sweep_then_rerun_finishes_without_duplicates_or_refetching(sn_home, monkeypatch):
    """`sn-lake crawl huggingface` killed with SIGKILL while page 4 is in flight, then run again."""
    with FakeHub(synthetic_models(800, seed=7), max_page_size=25, required_token=TOKEN) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        env = {**os.environ, "HF_TOKEN": TOKEN}
        held = hub.stall("/api/models?", after=3)
        first = _run_cli(env)
        assert held.reached.wait(120), "the crawl never reached page 4"
        os.kill(first.pid, signal.SIGKILL)
        first_output = first.communicate()[0]
        assert first.returncode == -signal.SIGKILL
        held.release.set()

        settings = config.load()
        state = lake.load_state(settings, hf.SOURCE)
        assert (state["phase"], state["pages"]) == ("listing", 3)
        run1 = listing_requests(hub)
        cursors_done = [r.query.get("cursor", [None])[0] for r in run1[:3]]
        mark = len(hub.request_log)

        second = _run_cli(env)
        second_output = second.communicate(timeout=300)[0]
        assert second.returncode == 0, second_output
        assert "resuming huggingface crawl" in second_output

        run2 = listing_requests(hub, mark)
        assert run2[0].query["cursor"] == run1[3].query["cursor"]  # picks up the page that was in flight
        assert not {r.query.get("cursor", [None])[0] for r in run2} & set(cursors_done)
        assert all(r.authorization == f"Bearer {TOKEN}" for r in hub.request_log)

        raw = lake.read_raw(settings, hf.SOURCE)
        listings = raw.filter(~pl.col("request_url").str.contains("/resolve/"))
        expected = {m["id"] for m in image_models(hub)}
        assert listings.height == len(expected) and set(listings["native_id"]) == expected
        assert raw["crawl_id"].n_unique() == 1
        crawls = lake.finished_crawls(settings, hf.SOURCE)
        assert len(crawls) == 1 and crawls[0]["resumed"] is True
        # both runs; only the request in flight at the kill went unrecorded
        assert crawls[0]["requests_total"] == len(hub.request_log) - 1

        con = build_catalog(settings)
        assert con.execute(
            "SELECT count(*), count(DISTINCT model_id) FROM catalog.models WHERE source = 'huggingface'"
        ).fetchone() == (
            len(expected),
            len(expected),
        )
        con.close()

    # the token reached the Hub in the Authorization header and nowhere else
    assert TOKEN not in first_output and TOKEN not in second_output
    leaked = [
        p
        for root in (sn_home, Path(os.environ["DAGSTER_HOME"]))
        for p in root.rglob("*")
        if p.is_file() and TOKEN.encode() in p.read_bytes()
    ]
    assert leaked == []


def test_token_never_reaches_lake_warehouse_or_logs(sn_home, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    with FakeHub(synthetic_models(120, seed=3), required_token=TOKEN) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        settings = config.load()
        hub.inject("status", path_contains="/api/models", status=500)
        hf.crawl(settings, hf.CrawlConfig(retry=FAST))
        build_catalog(settings).close()
        assert hub.request_log and all(r.authorization == f"Bearer {TOKEN}" for r in hub.request_log)
    assert TOKEN not in caplog.text and TOKEN not in repr(settings)
    assert [p for p in sn_home.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()] == []


def test_fake_hub_serves_real_downloads_to_huggingface_hub(tmp_path):
    """The evaluation tests download model repos from the fake Hub with huggingface_hub itself."""
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "config.json").write_text('{"architecture": "resnet18", "num_classes": 10}')
    (repo / "model.safetensors").write_bytes(bytes(range(256)) * 40)
    (repo / "README.md").write_text("---\nlicense: mit\n---\n# net\n")
    with FakeHub() as hub:
        info = hub.add_repo("org/net", repo, sha="a" * 40)
        cache = tmp_path / "cache"
        path = hf_hub_download("org/net", "config.json", endpoint=hub.url, cache_dir=cache)
        assert json.loads(Path(path).read_text())["num_classes"] == 10
        folder = Path(snapshot_download("org/net", endpoint=hub.url, cache_dir=cache))
        assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
        assert (folder / "model.safetensors").read_bytes() == (repo / "model.safetensors").read_bytes()
        assert folder.name == info["sha"] == "a" * 40
        listed = HfApi(endpoint=hub.url).model_info("org/net")
        assert listed.sha == "a" * 40 and sorted(s.rfilename for s in listed.siblings) == [
            "README.md",
            "config.json",
            "model.safetensors",
        ]


def test_asset_reports_an_unreachable_hub_as_a_warning_and_succeeds(sn_home, monkeypatch):
    """Through Dagster: the crawl asset succeeds with a failed WARN check, so the rest of the graph still runs."""
    from sn_lake import cli

    with FakeHub([]) as gone:
        endpoint = gone.url
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    assert cli.materialize("key:raw_huggingface", {"raw_huggingface": {"config": {"retry_attempts": 1}}})
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("raw_huggingface"), "huggingface_reachable")]
        )
    evaluation = next(iter(check.values())).event.dagster_event.event_specific_data
    assert evaluation.passed is False and evaluation.severity == dg.AssetCheckSeverity.WARN


@pytest.mark.slow
def test_sigkill_in_the_card_pass_resumes_after_the_last_saved_batch(sn_home, monkeypatch):
    """A crawl killed while its second batch of cards is in flight fetches only the unsaved cards when run again."""
    with FakeHub(synthetic_models(1600, seed=11)) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        env = dict(os.environ)
        held = hub.stall("/resolve/", after=hf.CARD_BATCH + 10)
        code = (
            "from sn_lake import config; from sn_lake.sources.huggingface import crawl as hf; hf.crawl(config.load())"
        )
        first = subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert held.reached.wait(120), "the crawl never reached its second batch of cards"
        os.kill(first.pid, signal.SIGKILL)
        first.communicate()
        held.release.set()

        settings = config.load()
        state = lake.load_state(settings, hf.SOURCE)
        assert (state["phase"], state["cards_done"]) == ("cards", hf.CARD_BATCH)
        plan = [tuple(p) for p in state["card_plan"]]
        assert len(plan) > hf.CARD_BATCH + 10
        mark = len(hub.request_log)

        summary = hf.crawl(settings, hf.CrawlConfig(retry=FAST))

        assert summary["resumed"] and summary["requests"] == len(plan) - hf.CARD_BATCH
        assert listing_requests(hub, mark) == []
        assert card_requests(hub, mark) and set(card_requests(hub, mark)) == set(plan[hf.CARD_BATCH :])
        cards = lake.read_raw(settings, hf.SOURCE).filter(pl.col("request_url").str.contains("/resolve/"))
        assert cards.height == len(plan) and cards["native_id"].n_unique() == len(plan)


def test_an_unreadable_card_is_recorded_as_absent_and_not_asked_for_again(hub, hub_settings):
    hub.inject("status", path_contains="/resolve/", status=403)  # a gated repo
    first = hf.crawl(hub_settings, hf.CrawlConfig(retry=FAST, card_cap=3))
    (refused_path,) = [r.path for r in hub.request_log if r.status == 403]
    refused = next(c for c in card_requests(hub) if refused_path.startswith(f"/{c[0]}/resolve/{c[1]}/"))
    cards = lake.read_raw(hub_settings, hf.SOURCE).filter(pl.col("request_url").str.contains("/resolve/"))
    assert first["card_errors"] == 0 and cards.height == 3
    assert cards.filter(pl.col("native_id") == refused[0])["payload"].to_list() == [""]
    mark = len(hub.request_log)
    hf.crawl(hub_settings, hf.CrawlConfig(retry=FAST, card_cap=3))
    assert card_requests(hub, mark) and refused not in card_requests(hub, mark)
