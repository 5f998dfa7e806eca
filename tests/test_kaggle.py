"""Kaggle Models through kagglesdk against a loopback Kaggle on 127.0.0.1:7777 (KAGGLE_API_ENVIRONMENT=TEST)."""

import json

import polars as pl
import pytest

from sn_lake import config, kaggle_client, lake, warehouse
from sn_lake import http_client as http
from sn_lake.catalog import kaggle as kaggle_catalog
from sn_lake.sources.kaggle import crawl as kaggle
from tests.fake_kaggle import (
    PORT,
    TOKEN,
    FakeKaggle,
    decode_token,
    encode_token,
    image_classifier_handles,
    kaggle_error,
)
from tests.loopback_server import LoopbackServer, Response

FAST = http.RetryPolicy(attempts=4, backoff_base=0.0, seed=0)


@pytest.fixture
def fake_kaggle(sn_home, monkeypatch):
    api = FakeKaggle()
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "TEST")
    monkeypatch.setenv("KAGGLE_API_TOKEN", TOKEN)
    with LoopbackServer(api, port=PORT):
        yield api


def rows_by_id(settings):
    rows = kaggle_catalog.catalog_rows(lake.read_raw(settings, kaggle.SOURCE))
    return {r["model_id"]: r for r in rows.iter_rows(named=True)}


def listing_tokens(api):
    return [decode_token(r.json().get("pageToken")) for r in api.requests_to(api.path("ListModels"))]


@pytest.mark.parametrize(
    "framework, handle",
    [
        ("MODEL_FRAMEWORK_PY_TORCH", "pyTorch"),
        ("MODEL_FRAMEWORK_TENSOR_FLOW_2", "tensorFlow2"),
        ("MODEL_FRAMEWORK_TF_LITE", "tfLite"),
        ("MODEL_FRAMEWORK_KERAS", "keras"),
        ("pyTorch", "pyTorch"),
        (None, "unspecified"),
    ],
)
def test_framework_handle(framework, handle):
    assert kaggle_client.framework_handle(framework) == handle


def test_framework_handle_reads_kagglesdk_enums():
    from kagglesdk.models.types.model_enums import ModelFramework

    assert kaggle_client.framework_handle(ModelFramework.MODEL_FRAMEWORK_JAX) == "jax"


@pytest.mark.parametrize(
    "model, expected",
    [
        ({"title": "ResNet", "tags": [{"name": "Image Classification"}]}, True),
        ({"title": "X", "subtitle": "A CIFAR-10 image classification model", "tags": []}, True),
        ({"title": "X", "tags": [{"ref": "image-classification"}]}, True),
        ({"title": "BERT", "tags": [{"name": "Text Classification"}]}, False),
        ({"title": "Segmenter", "subtitle": "image segmentation"}, False),
    ],
)
def test_is_image_classifier(model, expected):
    assert kaggle.is_image_classifier(model) is expected


def test_crawl_keeps_every_variation_of_the_image_classifiers(fake_kaggle):
    settings = config.load()
    summary = kaggle.crawl(settings, page_size=2, policy=FAST)
    rows = rows_by_id(settings)
    assert set(rows) == {f"kaggle:{h}" for h in image_classifier_handles()}
    assert summary["status"] == "ok" and summary["records"] == len(rows) == 9
    assert summary["skipped_other_task"] == 2 and summary["gone"] == ["ghost/vanished"]
    assert listing_tokens(fake_kaggle) == [0, 2, 4, 6]  # every page once, following the tokens
    assert len(fake_kaggle.requests_to(fake_kaggle.path("ListModelInstances"))) == 6  # two models have two pages
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in fake_kaggle.requests)
    assert all(
        r.json()["search"] == kaggle.DEFAULT_SEARCH for r in fake_kaggle.requests_to(fake_kaggle.path("ListModels"))
    )

    effnet = rows["kaggle:google/efficientnet-v2/tensorFlow2/imagenet21k-ft1k-s-classification"]
    assert (effnet["dataset"], effnet["data_category"], effnet["license"]) == ("imagenet-1k", "natural", "Apache 2.0")
    assert (effnet["library"], effnet["paper_id"], effnet["revision"]) == ("tensorFlow2", "2104.00298", "1")
    assert effnet["model_type"] == "efficientnet" and effnet["likes"] == 3
    assert effnet["created_at"].isoformat() == "2023-05-02T10:00:00+00:00"
    assert (
        effnet["weights_url"]
        == "https://www.kaggle.com/models/google/efficientnet-v2/tensorFlow2/imagenet21k-ft1k-s-classification"
    )
    resnet = rows["kaggle:timm/resnet/pyTorch/resnet18-a1-in1k"]
    assert (resnet["paper_id"], resnet["library"], resnet["dataset"]) == ("1512.03385", "pyTorch", "imagenet-1k")
    cifar = rows["kaggle:someone/cifar-resnet/pyTorch/default"]
    assert (cifar["dataset"], cifar["license"], cifar["paper_id"]) == (
        "cifar10",
        None,
        None,
    )  # missing fields stay NULL
    jax = rows["kaggle:keras/vit/jax/vit_base_patch16_224_cifar"]
    assert (jax["dataset"], jax["library"], jax["paper_id"]) == (None, "jax", "2010.11929")


def test_errors_429_and_a_slow_page_are_retried(fake_kaggle):
    listing = fake_kaggle.path("ListModels")
    fake_kaggle.fail_next("POST", listing, kaggle_error(503, "Backend unavailable."))
    fake_kaggle.fail_next("POST", listing, kaggle_error(429, "Too many requests.", {"Retry-After": "0"}))
    fake_kaggle.slow_pages[2] = 1.0  # the second page answers after the client's timeout, once
    fake_kaggle.fail_next(
        "POST", fake_kaggle.path("GetModel"), Response(200, {"id": 1}, delay_s=1.0)
    )  # a slow GetModel too
    settings = config.load()
    summary = kaggle.crawl(settings, page_size=2, policy=FAST, timeout_s=0.3)
    assert summary["status"] == "ok"
    assert set(rows_by_id(settings)) == {f"kaggle:{h}" for h in image_classifier_handles()}
    assert listing_tokens(fake_kaggle) == [0, 0, 0, 2, 2, 4, 6]  # page 1 three times (503, 429), page 2 twice (timeout)
    assert summary["requests"] == len(fake_kaggle.requests)


def test_a_killed_crawl_resumes_from_the_persisted_page_token(fake_kaggle):
    settings = config.load()
    fake_kaggle.broken_pages[4] = kaggle_error(500, "Internal error.")
    with pytest.raises(kaggle.KaggleError, match="resume"):
        kaggle.crawl(settings, page_size=2, policy=FAST)
    state = lake.load_state(settings, kaggle.SOURCE)
    assert state["page_token"] == encode_token(4) and state["step"] == 3 and not state["finished"]
    assert lake.finished_crawls(settings, kaggle.SOURCE) == []
    first_part = set(rows_by_id(settings))

    del fake_kaggle.broken_pages[4]
    fake_kaggle.requests.clear()
    summary = kaggle.crawl(settings, page_size=2, policy=FAST)
    assert summary["resumed"] and summary["crawl_id"] == state["crawl_id"]
    assert listing_tokens(fake_kaggle) == [4, 6]  # nothing before the stop was fetched again
    raw = lake.read_raw(settings, kaggle.SOURCE)
    assert raw.height == raw["native_id"].n_unique() == 9  # no duplicates
    assert first_part < set(rows_by_id(settings))
    assert len(lake.finished_crawls(settings, kaggle.SOURCE)) == 1
    assert lake.load_state(settings, kaggle.SOURCE)["finished"]
    assert kaggle.crawl(settings, page_size=2, policy=FAST)["resumed"] is False  # the next crawl starts over


def test_a_refused_token_fails_clearly_and_never_leaks(fake_kaggle, monkeypatch, sn_home):
    monkeypatch.setenv("KAGGLE_API_TOKEN", "wrong-token-abcdef")
    with pytest.raises(kaggle.KaggleError) as error:
        kaggle.crawl(config.load(), policy=FAST)
    assert error.value.status == 401 and "KAGGLE_API_TOKEN" in str(error.value)
    assert "wrong-token-abcdef" not in str(error.value)
    assert len(fake_kaggle.requests) == 1  # a 401 is not retried
    for path in sn_home.rglob("*"):
        if path.is_file():
            assert b"wrong-token-abcdef" not in path.read_bytes()


def test_the_token_never_reaches_the_lake(fake_kaggle, sn_home):
    kaggle.crawl(config.load(), page_size=2, policy=FAST)
    for path in sn_home.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_an_unreachable_endpoint_is_skipped_only_when_asked(sn_home, monkeypatch):
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "TEST")  # nothing listens on localhost:7777 here
    settings = config.load()
    summary = kaggle.crawl(settings, policy=FAST, skip_if_unreachable=True)
    assert summary["status"] == "unreachable" and "localhost:7777" in summary["endpoint"]
    assert lake.raw_files(settings, kaggle.SOURCE) == []
    with pytest.raises(kaggle.KaggleError, match="check the network or KAGGLE_API_ENVIRONMENT"):
        kaggle.crawl(settings, policy=FAST)


def test_an_unknown_environment_is_refused(sn_home, monkeypatch):
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "MARS")
    with pytest.raises(kaggle.KaggleError, match="KAGGLE_API_ENVIRONMENT must be one of"):
        kaggle.crawl(config.load())


def test_raw_records_keep_the_json_as_received(fake_kaggle):
    settings = config.load()
    kaggle.crawl(settings, page_size=2, policy=FAST)
    raw = lake.read_raw(settings, kaggle.SOURCE).filter(native_id="keras/vit/keras/vit_base_patch16_224_imagenet")
    payload = json.loads(raw["payload"][0])
    assert payload["instance"]["framework"] == "MODEL_FRAMEWORK_KERAS"  # as Kaggle sent it
    assert payload["model"]["description"].startswith("An Image is Worth")
    assert raw["request_url"][0].startswith("http://localhost:7777/api/v1/models.ModelApiService/ListModelInstances")


def test_the_offline_probe_does_not_skip_a_server_that_answers(fake_kaggle):
    fake_kaggle.fail_next("POST", fake_kaggle.path("ListModels"), kaggle_error(503, "Backend unavailable."))
    summary = kaggle.crawl(config.load(), page_size=2, policy=FAST, skip_if_unreachable=True)
    assert summary["status"] == "ok" and summary["records"] == 9


def test_offline_public_defaults_warn_and_the_graph_still_runs(sn_home, monkeypatch):
    """`make run` offline: Kaggle, the paper APIs and GitHub/Zenodo at their public defaults cannot be reached."""
    import dagster as dg
    from kagglesdk.kaggle_env import KaggleEnv, _env_to_endpoint

    from sn_lake.cli import materialize

    dead = "http://127.0.0.1:9"  # the discard port: nothing listens, every connection is refused at once
    monkeypatch.setitem(_env_to_endpoint, KaggleEnv.PROD, dead)  # kagglesdk's PROD endpoint, offline
    for name in ("arxiv_url", "s2_url", "openalex_url", "dblp_url", "pwc_url", "github_url", "zenodo_url"):
        monkeypatch.setitem(config.PUBLIC_ENDPOINTS, name, f"{dead}/{name}")
        monkeypatch.setenv(f"SN_LAKE_{name.upper()}", f"{dead}/{name}")
    settings = config.load()
    con = warehouse.connect(settings)  # two catalog rows whose paper and weights link the crawls should ask about
    rows = [
        ("securitynet:a", "a", "2104.00298", "https://github.com/osmr/imgclsmob"),
        ("securitynet:b", "b", "1512.03385", "https://zenodo.org/records/1"),
    ]
    frame = pl.DataFrame(rows, schema=["model_id", "name", "paper_id", "weights_url"], orient="row")
    warehouse.replace_rows(
        con,
        "catalog.models",
        frame.with_columns(source=pl.lit("securitynet"), first_seen_at=lake.utcnow(), last_seen_at=lake.utcnow()),
        "true",
    )
    con.close()
    assert materialize(
        "key:raw_kaggle or key:raw_papers or key:catalog_papers or key:raw_weights or key:catalog_weight_files"
    )
    with dg.DagsterInstance.get() as instance:
        keys = [
            dg.AssetCheckKey(dg.AssetKey("raw_kaggle"), "kaggle_reachable"),
            dg.AssetCheckKey(dg.AssetKey("raw_papers"), "papers_reachable"),
        ]
        checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
        for key in keys:
            evaluation = checks[key].event.dagster_event.event_specific_data
            assert evaluation.passed is False and evaluation.severity == dg.AssetCheckSeverity.WARN, key
        kaggle_run = instance.get_latest_materialization_event(dg.AssetKey("raw_kaggle")).asset_materialization
        assert kaggle_run.metadata["status"].value == "unreachable"
        papers_run = instance.get_latest_materialization_event(dg.AssetKey("raw_papers")).asset_materialization
        assert (
            papers_run.metadata["unreachable"].value == "arxiv, semantic_scholar, paperswithcode, openalex"
        )  # DBLP: no title to ask with
        weights_run = instance.get_latest_materialization_event(dg.AssetKey("raw_weights")).asset_materialization
        assert weights_run.metadata["unreachable"].value == "github, zenodo"
    con = warehouse.connect(settings, read_only=True)
    statuses = con.execute("SELECT model_id, status FROM catalog.weight_files ORDER BY 1").fetchall()
    assert statuses == [
        ("securitynet:a", "not_fetched"),
        ("securitynet:b", "not_fetched"),
    ]  # said honestly, nothing guessed
    assert con.execute("SELECT count(*) FROM catalog.papers").fetchall() == [(0,)]
    con.close()


def test_a_model_deleted_between_get_and_list_instances_is_skipped(fake_kaggle):
    fake_kaggle.fail_next("POST", fake_kaggle.path("ListModelInstances"), kaggle_error(404, "Model not found."))
    summary = kaggle.crawl(config.load(), page_size=2, policy=FAST)
    assert summary["gone"] == ["google/efficientnet-v2", "ghost/vanished"] and summary["records"] == 6
