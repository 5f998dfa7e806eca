"""Hostile public content against the catalog build: numbers out of range, billion-laughs cards, credentials in
an endpoint URL, corrupt lake files. Everything goes through the loopback fake Hub and a real DuckDB file."""

import base64
import json
import logging

import polars as pl
import pytest
from fake_hub import FakeHub, synthetic_models

from sn_lake import catalog, config, export, lake, warehouse
from sn_lake.annotate import model_cards, numbers
from sn_lake.catalog import papers as papers_resolve
from sn_lake.http_client import PoliteClient, RetryPolicy
from sn_lake.sources.huggingface import crawl as hf
from sn_lake.sources.papers import crawl as papers_crawl
from sn_lake.sources.robustbench import parse as robustbench_parse
from sn_lake.sources.securitynet import crawl as securitynet
from sn_lake.sources.timm_results import parse as timm_results_parse

FAST = RetryPolicy(attempts=3, backoff_base=0.01, backoff_max=0.05, seed=0)
LEVELS = "abcdefghi"
LAUGHS = "".join(f"{name}: &{name} [" + ",".join([f"*{LEVELS[i]}"] * 9) + "]\n" for i, name in enumerate(LEVELS[1:]))
BILLION_LAUGHS = '---\na: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + LAUGHS + "---\n# a card\n"


def hostile_model(repo_id: str, **fields) -> dict:
    return {
        "id": repo_id,
        "pipeline_tag": "image-classification",
        "library_name": "transformers",
        "tags": ["dataset:cifar10", "arxiv:2010.11929"],
        **fields,
    }


def quarantine(con, where: str = "true", params=()) -> list[tuple]:
    sql = f"SELECT row_key, rule, detail FROM catalog.quarantine WHERE {where} ORDER BY 1, 2"
    return con.execute(sql, list(params)).fetchall()


def accuracy_index(value) -> list[dict]:
    metrics = [{"type": "accuracy", "value": value}]
    return [{"name": "m", "results": [{"dataset": {"type": "cifar10"}, "metrics": metrics}]}]


@pytest.fixture
def settings_with(sn_home, monkeypatch, securitynet_table):
    def make(hub: FakeHub, endpoint: str | None = None) -> config.Settings:
        monkeypatch.setenv("HF_ENDPOINT", endpoint or hub.url)
        monkeypatch.setenv("SN_LAKE_SECURITYNET_URL", str(securitynet_table))
        return config.load()

    return make


def test_numbers_out_of_range_are_quarantined_and_every_source_still_builds(settings_with):
    models = [
        hostile_model("evil/ten-billion-classes", config={"num_classes": 10_000_000_000, "model_type": "vit"}),
        hostile_model(
            "evil/huge-input",
            config={"pretrained_cfg": {"input_size": [3, 100_000, 100_000]}},
            downloads=-5,
            likes="many",
        ),
        hostile_model("evil/true-accuracy", **{"model-index": accuracy_index(True)}),
        hostile_model("ok/percent-text", **{"model-index": accuracy_index("97.5%")}),
        hostile_model("ok/one-and-a-half", **{"model-index": accuracy_index(1.5)}),
        hostile_model("evil/nan-accuracy", **{"model-index": accuracy_index("NaN")}),
        hostile_model(
            "ok/plain",
            config={"num_classes": 10, "model_type": "vit"},
            downloads=7,
            likes=2,
            **{"model-index": accuracy_index(0.9)},
        ),
    ]
    with FakeHub(models) as hub:
        settings = settings_with(hub)
        hf.crawl(settings, hf.CrawlConfig(retry=FAST))
    securitynet.crawl(settings)
    con = warehouse.connect(settings)
    counts = catalog.build_models(settings, con)

    assert counts["huggingface"] == len(models) and counts["securitynet"] > 100  # the other source is built too
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT name, num_classes, input_size, downloads, likes, reported_accuracy FROM catalog.models "
            "WHERE source = 'huggingface'"
        ).fetchall()
    }
    assert rows["evil/ten-billion-classes"][0] is None
    assert rows["evil/huge-input"][1:4] == (None, None, None)
    assert rows["evil/true-accuracy"][4] is None and rows["evil/nan-accuracy"][4] is None
    assert rows["ok/percent-text"][4] == pytest.approx(0.975)
    assert rows["ok/one-and-a-half"][4] == pytest.approx(0.015)  # above 1: a percentage
    assert rows["ok/plain"] == (10, None, 7, 2, pytest.approx(0.9))

    found = {(key, rule): detail for key, rule, detail in quarantine(con, "starts_with(row_key, 'huggingface:')")}
    assert set(found) == {
        ("huggingface:evil/ten-billion-classes", "number.out_of_range"),
        ("huggingface:evil/huge-input", "number.out_of_range"),
        ("huggingface:evil/huge-input", "number.unparseable"),
        ("huggingface:evil/true-accuracy", "accuracy.unparseable"),
        ("huggingface:evil/nan-accuracy", "accuracy.unparseable"),
    }
    assert "num_classes" in found[("huggingface:evil/ten-billion-classes", "number.out_of_range")]
    assert "10000000000" in found[("huggingface:evil/ten-billion-classes", "number.out_of_range")]
    assert "True" in found[("huggingface:evil/true-accuracy", "accuracy.unparseable")]
    huge = [d for k, r, d in quarantine(con, "row_key = 'huggingface:evil/huge-input'")]
    assert any("input_size = 100000" in d for d in huge) and any("downloads = -5" in d for d in huge)
    assert any("likes = 'many'" in d for d in huge)

    # a rebuild replaces the build's entries instead of adding to them
    before = len(quarantine(con))
    catalog.build_models(settings, con)
    assert len(quarantine(con)) == before


def test_accuracy_rule():
    assert numbers.accuracy(True)[0] is None and numbers.accuracy(True)[1].rule == "accuracy.unparseable"
    assert numbers.accuracy("97.5%")[0] == pytest.approx(0.975)
    assert numbers.accuracy(97.5)[0] == pytest.approx(0.975)
    assert numbers.accuracy(1.5)[0] == pytest.approx(0.015)
    assert numbers.accuracy(1)[0] == 1.0 and numbers.accuracy(0)[0] == 0.0
    out, bad = "accuracy.out_of_range", "accuracy.unparseable"
    for value, rule in [
        (-0.1, out),
        (100.5, out),
        (float("inf"), out),
        (10**400, out),
        ("150%", out),
        (float("nan"), bad),
        ("high", bad),
        ([0.9], bad),
        (False, bad),
    ]:
        got, problem = numbers.accuracy(value)
        assert got is None and problem.rule == rule, value
    assert model_cards.model_index_accuracy(accuracy_index(True)) is None  # value: true is not 1.0


def test_billion_laughs_card_is_refused_and_the_model_keeps_its_listing_metadata(settings_with):
    assert len(BILLION_LAUGHS.encode()) < 600
    meta, body, problem = model_cards.read_card(BILLION_LAUGHS)
    assert meta == {} and problem.rule == "card.yaml_alias" and body.startswith("# a card")
    long_card = "---\n" + "".join(f"key{i}: value\n" for i in range(8000)) + "---\nbody\n"
    assert model_cards.read_card(long_card)[2].rule == "card.front_matter_too_long"
    assert model_cards.read_card("---\nx: " + "[" * 5000 + "\n---\n")[2].rule == "card.yaml_invalid"
    assert model_cards.read_card("---\n- a list\n---\n")[2].rule == "card.yaml_invalid"
    assert model_cards.read_card("---\nlicense: mit\n---\n")[:1] == ({"license": "mit"},)

    listing = {
        "pipeline_tag": "image-classification",
        "library_name": "timm",
        "downloads": 42,
        "likes": 3,
        "tags": ["dataset:cifar10", "license:apache-2.0"],
        "config": {"architecture": "resnet18", "num_classes": 10},
    }
    models = [
        {"id": "evil/laughs", **listing, "card": BILLION_LAUGHS},
        {"id": "evil/long-front-matter", **listing, "card": long_card},
    ]
    with FakeHub(models) as hub:
        settings = settings_with(hub)
        summary = hf.crawl(settings, hf.CrawlConfig(retry=FAST))
    assert summary["cards_fetched"] == 2  # the cards are in the lake: every catalog build reads them
    con = warehouse.connect(settings)
    catalog.build_models(settings, con)
    rows = con.execute(
        "SELECT name, dataset, license, architecture, num_classes, downloads FROM catalog.models "
        "WHERE source = 'huggingface' ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("evil/laughs", "cifar10", "apache-2.0", "resnet18", 10, 42),
        ("evil/long-front-matter", "cifar10", "apache-2.0", "resnet18", 10, 42),
    ]
    assert [(k, r) for k, r, _ in quarantine(con)] == [
        ("huggingface:evil/laughs", "card.yaml_alias"),
        ("huggingface:evil/long-front-matter", "card.front_matter_too_long"),
    ]


def test_credentials_in_the_endpoint_are_sent_but_never_written(settings_with, sn_home, caplog):
    user, password = "crawler-user", "pa55-W0rd-s3cr3t-4242"
    with FakeHub(synthetic_models(60, seed=3, image_share=1.0), max_page_size=10) as hub:
        host = hub.url.removeprefix("http://")
        settings = settings_with(hub, f"http://{user}:{password}@{host}")
        with caplog.at_level(logging.DEBUG):
            summary = hf.crawl(settings, hf.CrawlConfig(retry=FAST))
            con = warehouse.connect(settings)
            catalog.build_models(settings, con)
            export.export(con, sn_home / "export", "csv")
        expected_auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        assert len(hub.request_log) > 6  # pages and cards
        assert {r.authorization for r in hub.request_log} == {expected_auth}  # next pages (no userinfo in Link) too

        # a client given the endpoint sends its credentials to URLs without them (a resumed crawl's cursor)
        before = len(hub.request_log)
        with PoliteClient(policy=FAST, credentials=[settings.hf_endpoint]) as client:
            client.fetch("GET", f"{hub.url}/api/models", params={"limit": "1"})
        assert hub.request_log[before].authorization == expected_auth

    weights = {
        r[0] for r in con.execute("SELECT weights_url FROM catalog.models WHERE source = 'huggingface'").fetchall()
    }
    assert len(weights) == 60 and all(w.startswith(f"http://{host}/") for w in weights)
    requests = set(lake.read_raw(settings, hf.SOURCE)["request_url"])
    assert requests and all(url.startswith(f"http://***@{host}/") for url in requests)  # sent with credentials, masked
    con.close()

    secrets = (password, f"{user}:{password}", base64.b64encode(f"{user}:{password}".encode()).decode())
    shown = json.dumps(summary) + caplog.text
    files = [p for p in sn_home.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files) and any(p.suffix == ".csv" for p in files)
    assert (sn_home / "warehouse.duckdb") in files and lake.state_path(settings, hf.SOURCE) in files
    for path in files:
        data = path.read_bytes()
        assert not [s for s in secrets if s.encode() in data], path
        if path.suffix == ".parquet":  # compressed: look at the values too
            text = pl.read_parquet(path).select(pl.all().cast(pl.String)).write_csv()
            assert not [s for s in secrets if s in text], path
    with warehouse.connect(settings, read_only=True) as ro:  # the warehouse's values (DuckDB compresses strings)
        for schema, table, column in ro.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns WHERE data_type = 'VARCHAR'"
        ).fetchall():
            sql = f'SELECT count(*) FROM "{schema}"."{table}" WHERE contains("{column}", ?)'
            hit = ro.execute(sql, [password]).fetchone()[0]
            assert hit == 0, (schema, table, column)
    assert "***@" in shown and not [s for s in secrets if s in shown]
    assert config.redact(f"x http://{user}:{password}@h/y") == "x http://***@h/y"


def test_a_corrupt_step_file_is_named_quarantined_and_the_rest_builds(settings_with, caplog):
    with FakeHub(synthetic_models(90, seed=5, image_share=1.0), max_page_size=30) as hub:
        settings = settings_with(hub)
        hf.crawl(settings, hf.CrawlConfig(retry=FAST))
    con = warehouse.connect(settings)
    catalog.build_models(settings, con)
    all_models = con.execute("SELECT count(*) FROM catalog.models WHERE source = 'huggingface'").fetchone()[0]
    assert all_models == 90

    steps = lake.raw_files(settings, hf.SOURCE)
    listing_steps = [p for p in steps if not pl.read_parquet(p)["request_url"].str.contains("/resolve/").any()]
    truncated, garbage = listing_steps[0], listing_steps[1]
    lost = set(pl.read_parquet(truncated)["native_id"]) | set(pl.read_parquet(garbage)["native_id"])
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    garbage.write_bytes(b"\x00not parquet at all\xff" * 40)
    manifest = next(lake.raw_dir(settings, hf.SOURCE).glob("crawl_id=*/_crawl.json"))
    manifest.write_text("{ truncated")

    with caplog.at_level(logging.WARNING, logger="sn_lake.lake"):
        raw = lake.read_raw(settings, hf.SOURCE)
    relative = {p: p.relative_to(settings.lake_dir).as_posix() for p in (truncated, garbage)}
    assert all(str(p) in caplog.text for p in relative) and raw.height > 0
    assert not set(raw.filter(~pl.col("request_url").str.contains("/resolve/"))["native_id"]) & lost
    assert sum(1 for _ in lake.iter_steps(settings, hf.SOURCE)) == len(steps) - 2
    assert lake.summary(settings)[0]["raw_records"] == raw.height  # sn-lake status reads the rest

    catalog.build_models(settings, con)
    names = {r[0] for r in con.execute("SELECT name FROM catalog.models WHERE source = 'huggingface'").fetchall()}
    assert names and len(names) == 90 - len(lost) and not names & lost
    assert con.execute("SELECT count(*) FROM raw.crawls WHERE source = 'huggingface'").fetchone()[0] == 0
    lake_rows = quarantine(con, "rule LIKE 'lake.%'")
    assert [(k, r) for k, r, _ in lake_rows] == sorted(
        [
            (relative[truncated], "lake.unreadable_step"),
            (relative[garbage], "lake.unreadable_step"),
            (manifest.relative_to(settings.lake_dir).as_posix(), "lake.unreadable_manifest"),
        ]
    )
    assert all("the rest of the source was built without it" in d for _, _, d in lake_rows)

    garbage.unlink()  # the operator removes one file: its entry goes at the next build, the other stays
    catalog.build_models(settings, con)
    assert [k for k, r, _ in quarantine(con, "rule = 'lake.unreadable_step'")] == [relative[truncated]]


def test_published_results_and_paper_years_are_range_checked():
    record = {
        "name": "x",
        "eps": "1" + "0" * 400 + ".00",
        "clean_acc": "97.5%",
        "autoattack_acc": True,
        "number_forward_passes": 10_000_000_000,
    }
    entry = robustbench_parse.read_entry({"path": "cifar10/Linf/x.json", "status": 200, "text": json.dumps(record)})
    assert entry.excluded is None and entry.values["clean_accuracy"] == pytest.approx(0.975)
    assert entry.values["epsilon"] is None and entry.values["robust_accuracy"] is None
    assert entry.values["number_forward_passes"] is None
    rules = {n.field: n.rule for n in entry.notes}
    assert rules["eps"] == rules["autoattack_acc"] == rules["number_forward_passes"] == "robustbench.null.invalid_value"
    assert robustbench_parse.read_entry({"path": "cifar10/L2/x.json", "status": 200, "text": "[" * 100_000}).excluded

    text = "model,top1,top5,img_size,rank_diff,param_count\nm,80,95,10000000000,99999999999,1e999\n"
    table = timm_results_parse.read_table({"path": "results-imagenet.csv", "status": 200, "text": text})
    values = table.rows[0].values
    assert values["top1"] == pytest.approx(0.8)
    assert values["img_size"] is None and values["rank_diff"] is None and values["param_count"] is None
    assert {n.field for _, n in table.notes if n.rule == "timm_results.null.out_of_range"} >= {
        "img_size",
        "rank_diff",
        "param_count",
    }

    answers = [
        ("openalex", {"title": "A", "publication_year": 10_000_000_000}),
        ("semantic_scholar", {"title": {"no": "text"}, "year": 2021}),
        ("dblp", ["not", "an", "object"]),
    ]
    frame = pl.DataFrame(
        [
            {
                "api": api,
                "paper_id": "2010.00001",
                "record": json.dumps({"record": r}),
                "request_url": "test:",
                "fetched_at": lake.utcnow(),
            }
            for api, r in answers
        ],
        schema=papers_crawl.LATEST_SCHEMA,
    )
    issues: list[dict] = []
    _, papers = papers_resolve.build(frame, issues=issues)
    assert papers.select("title", "year").row(0) == ("A", 2021)  # the refused values let the next API's win
    assert {(i["row_key"], i["rule"]) for i in issues} == {
        ("papers:openalex:2010.00001", "number.out_of_range"),
        ("papers:semantic_scholar:2010.00001", "value.wrong_type"),
        ("papers:dblp:2010.00001", "record.unreadable"),
    }


def test_a_card_of_one_long_run_of_letters_is_read_in_linear_time():
    """The arXiv id reader once tried an archive name at every letter of a run (quadratic: a 100,000-letter card
    body took minutes on every catalog build). A 1,000,000-letter body is now read at once; the alarm only turns
    a regression into a failure instead of a hang (it is 600x the time the reader takes)."""
    import signal

    from sn_lake.annotate.papers import arxiv_ids

    def too_slow(signum, frame):
        raise AssertionError("arxiv_ids took over 120 s on a 1,000,000-letter text: the reader is quadratic again")

    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(120)
    try:
        for body in ("a" * 1_000_000, "hep-th" * 200_000, "x" * 500_000 + " arXiv:hep-th/9901001"):
            found = arxiv_ids(body)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert found == ["hep-th/9901001"]
