"""Paper metadata: five loopback APIs -> lake -> catalog.paper_candidates / catalog.papers, with the resolution
chain."""

import json

import pytest

from sn_lake import config, lake, warehouse
from sn_lake import http_client as http
from sn_lake.catalog import papers as resolve
from sn_lake.sources.papers import arxiv, crawl, dblp, openalex, semantic_scholar
from tests.fake_papers import PAPERS, PREFIX, FakePapers
from tests.loopback_server import LoopbackServer, Response

FAST = http.RetryPolicy(attempts=3, backoff_base=0.0, seed=0)
IDS = sorted(PAPERS)


@pytest.fixture
def fake_papers(sn_home, monkeypatch):
    api = FakePapers()
    with LoopbackServer(api) as server:
        for name, value in FakePapers.environment(server.url).items():
            monkeypatch.setenv(name, value)
        yield api


def papers_by_id(settings):
    _, papers = resolve.build(crawl.latest_records(settings))
    return {r["paper_id"]: r for r in papers.iter_rows(named=True)}


def test_every_paper_resolves_along_the_chain(fake_papers):
    settings = config.load()
    summary = crawl.crawl(settings, IDS, policy=FAST)
    assert summary["unreachable"] == [] and summary["papers"] == 7
    assert summary["found"] == {"arxiv": 6, "semantic_scholar": 5, "paperswithcode": 4, "openalex": 5, "dblp": 3}
    papers = papers_by_id(settings)
    assert set(papers) == set(IDS)

    resnet = papers["1512.03385"]
    assert (resnet["venue"], resnet["venue_type"], resnet["venue_source"], resnet["year"]) == (
        "CVPR",
        "CV",
        "dblp",
        2016,
    )
    assert (resnet["n_authors"], resnet["countries"], resnet["publisher_type"]) == (4, ["CN"], "industry")
    assert resnet["doi"] == "10.1109/CVPR.2016.90" and resnet["purpose"] == "benchmark"
    assert resnet["title"] == "Deep Residual Learning for Image Recognition"

    madry = papers["1706.06083"]  # DBLP has CoRR and ICLR (Poster): the non-CoRR one wins
    assert (madry["venue"], madry["venue_source"], madry["year"], madry["purpose"]) == (
        "ICLR",
        "dblp",
        2018,
        "security",
    )
    assert (madry["countries"], madry["publisher_type"], madry["n_authors"]) == (["US"], "academia", 5)

    vit = papers["2010.11929"]  # DBLP only CoRR, no S2 publicationVenue: Papers with Code's conference_name
    assert (vit["venue"], vit["venue_source"], vit["venue_type"], vit["year"]) == ("ICLR", "paperswithcode", "ML", 2020)
    assert (
        vit["n_authors"] == 12 and vit["countries"] is None and vit["publisher_type"] is None
    )  # OpenAlex has no record

    effnet = papers["2104.00298"]
    assert (effnet["venue"], effnet["venue_source"], effnet["countries"], effnet["publisher_type"]) == (
        "ICML",
        "dblp",
        ["US"],
        "industry",
    )

    rsb = papers["2110.00476"]  # S2 only says arXiv.org, nobody else places it: an arXiv paper
    assert (rsb["venue"], rsb["venue_type"]) == ("arXiv", "arXiv")
    assert (rsb["countries"], rsb["publisher_type"], rsb["n_authors"]) == (["FR"], "mixed", 3)

    croce = papers["2003.01690"]  # S2 null, no DBLP hit, PwC 404: arXiv's journal_ref
    assert (croce["venue"], croce["venue_source"], croce["year"]) == ("ICML", "arxiv", 2020)
    assert (croce["countries"], croce["publisher_type"], croce["purpose"]) == (["DE"], "academia", "security")

    unknown = papers["2401.99999"]
    assert (
        unknown["sources"] == [] and unknown["title"] is None and unknown["venue"] is None and unknown["year"] is None
    )


def test_candidates_keep_every_source_and_show_disagreements(fake_papers):
    settings = config.load()
    crawl.crawl(settings, IDS, policy=FAST)
    con = warehouse.connect(settings)
    counts = resolve.build_papers(settings, con)
    assert counts == {"paper_candidates": 23, "papers": 7}
    resnet = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT source, year, venue, venue_as_written, n_authors FROM catalog.paper_candidates "
            "WHERE paper_id = '1512.03385'"
        ).fetchall()
    }
    assert resnet == {
        "arxiv": (2015, None, None, 4),
        "semantic_scholar": (2015, "CVPR", "Computer Vision and Pattern Recognition", 4),
        "dblp": (2016, "CVPR", "CVPR", 4),
        "paperswithcode": (2015, "CVPR", "cvpr-2016-6", 4),
        "openalex": (2016, None, None, 4),
    }  # the years disagree; catalog.papers says which one it took
    ((year, provenance),) = con.execute(
        "SELECT year, provenance->>'year' FROM catalog.papers WHERE paper_id = '1512.03385'"
    ).fetchall()
    assert (year, provenance) == (2016, "dblp")
    n_authors = dict(
        con.execute(
            "SELECT source, n_authors FROM catalog.paper_candidates "
            "WHERE paper_id = '2010.11929' AND n_authors IS NOT NULL"
        ).fetchall()
    )
    assert n_authors == {"arxiv": 12, "semantic_scholar": 1}
    ((n_papers, n_countries),) = con.execute("SELECT count(*), count(countries) FROM catalog.papers").fetchall()
    assert (n_papers, n_countries) == (7, 5)
    assert resolve.build_papers(settings, con) == counts  # a rebuild replaces, never appends
    assert con.execute("SELECT count(*) FROM raw.crawls WHERE source = 'papers'").fetchall() == [(1,)]
    warehouse.apply_sql(con, "views")
    disputed = {
        (r[0], r[1]): r[2:]
        for r in con.execute(
            "SELECT paper_id, field, n_values, stated_by_source, resolved, resolved_from "
            "FROM analytics.paper_disagreements"
        ).fetchall()
    }
    assert disputed[("1512.03385", "year")] == (
        2,
        "arxiv = 2015; dblp = 2016; openalex = 2016; paperswithcode = 2015; semantic_scholar = 2015",
        "2016",
        "dblp",
    )
    assert disputed[("2010.11929", "n_authors")][2:] == ("12", "arxiv")
    assert ("2104.00298", "venue") not in disputed  # every source says ICML
    con.close()


def test_apis_are_asked_in_batches_within_their_limits(fake_papers):
    crawl.crawl(config.load(), IDS, policy=FAST)
    arxiv_calls = fake_papers.requests_to(PREFIX["arxiv"])
    assert len(arxiv_calls) == 1 and sorted(arxiv_calls[0].arg("id_list").split(",")) == IDS
    s2_calls = fake_papers.requests_to(PREFIX["s2"] + "/paper/batch")
    assert len(s2_calls) == 1 and sorted(s2_calls[0].json()["ids"]) == [f"ARXIV:{i}" for i in IDS]
    assert len(fake_papers.requests_to(PREFIX["openalex"] + "/works")) == 1
    assert len(fake_papers.requests_to(PREFIX["pwc"] + "/papers/")) == 7
    assert len(fake_papers.requests_to(PREFIX["dblp"])) == 6  # the unknown id has no title to search by


def test_semantic_scholar_batches_never_exceed_500_ids(fake_papers):
    ids = [f"2301.{n:05d}" for n in range(1201)]
    with http.PoliteClient(policy=FAST) as client:
        batches = list(semantic_scholar.fetch(client, config.load().s2_url, ids))
    assert [len(b.records) for b in batches] == [500, 500, 201]
    assert all(len(r.json()["ids"]) <= 500 for r in fake_papers.requests_to(PREFIX["s2"] + "/paper/batch"))


def test_the_crawl_is_incremental_unless_full(fake_papers):
    settings = config.load()
    crawl.crawl(settings, IDS[:4], policy=FAST)
    fake_papers.requests.clear()
    again = crawl.crawl(settings, IDS[:4], policy=FAST)
    assert fake_papers.requests == [] and again["records"] == 0 and again["crawl_id"] is None
    crawl.crawl(settings, IDS, policy=FAST)  # three new ids: only they are asked
    assert sorted(fake_papers.requests_to(PREFIX["arxiv"])[0].arg("id_list").split(",")) == IDS[4:]
    assert len(fake_papers.requests_to(PREFIX["pwc"] + "/papers/")) == 3
    fake_papers.requests.clear()
    crawl.crawl(settings, IDS, full=True, policy=FAST)
    assert len(fake_papers.requests_to(PREFIX["pwc"] + "/papers/")) == 7
    latest = crawl.latest_records(settings)
    assert latest.height == latest.select("api", "paper_id").n_unique()


def test_errors_are_retried_and_a_failed_crawl_resumes(fake_papers):
    settings = config.load()
    fake_papers.fail_next(
        "POST", PREFIX["s2"] + "/paper/batch", Response(429, {"message": "Too Many Requests"}, {"Retry-After": "0"})
    )
    fake_papers.fail_next("GET", PREFIX["openalex"] + "/works", Response(503, "Service Unavailable"))
    fake_papers.fail_next(
        "GET", PREFIX["pwc"] + "/papers/", *[Response(500, {"detail": "boom"})] * 3
    )  # more than 3 attempts allow
    with pytest.raises(crawl.PapersError, match="SN_LAKE_PWC_URL"):
        crawl.crawl(settings, IDS, policy=FAST)
    state = lake.load_state(settings, crawl.SOURCE)
    assert not state["finished"]
    assert crawl.answered(settings)["arxiv"] == set(IDS) and crawl.answered(settings)["paperswithcode"] == set()
    fake_papers.requests.clear()
    summary = crawl.crawl(settings, IDS, policy=FAST)
    assert summary["crawl_id"] == state["crawl_id"]  # the same crawl, finished now
    assert (
        fake_papers.requests_to(PREFIX["arxiv"]) == [] and fake_papers.requests_to(PREFIX["s2"] + "/paper/batch") == []
    )
    assert papers_by_id(settings)["2104.00298"]["countries"] == ["US"]  # OpenAlex succeeded on its retry
    assert len(lake.finished_crawls(settings, crawl.SOURCE)) == 1


def test_an_unreachable_public_endpoint_is_skipped_a_configured_one_fails(fake_papers, monkeypatch):
    dead = "http://127.0.0.1:9/arxiv"  # the discard port: nothing listens, the connection is refused
    monkeypatch.setenv("SN_LAKE_ARXIV_URL", dead)
    settings = config.load()
    with pytest.raises(crawl.PapersError, match="arxiv at http://127.0.0.1:9/arxiv failed"):
        crawl.crawl(settings, IDS, policy=FAST)
    monkeypatch.setitem(config.PUBLIC_ENDPOINTS, "arxiv_url", dead)  # now it is "the public default", offline
    summary = crawl.crawl(config.load(), IDS, policy=FAST)
    assert summary["unreachable"] == ["arxiv"] and summary["found"]["semantic_scholar"] == 5
    assert papers_by_id(settings)["1512.03385"]["venue"] == "CVPR"  # the other APIs still ran


def test_politeness_intervals_come_from_the_configuration(sn_home, monkeypatch):
    defaults = config.load()
    assert crawl._client(defaults, arxiv.NAME, FAST).pacer.min_interval == 3.0
    assert crawl._client(defaults, openalex.NAME, FAST).pacer.min_interval == 1.0
    monkeypatch.setenv("SN_LAKE_ARXIV_INTERVAL_S", "0.5")
    assert crawl._client(config.load(), arxiv.NAME, FAST).pacer.min_interval == 0.5


def test_raw_records_are_kept_as_received(fake_papers):
    settings = config.load()
    crawl.crawl(settings, IDS, policy=FAST)
    raw = lake.read_raw(settings, crawl.SOURCE)
    entry = json.loads(raw.filter(native_id="arxiv:2003.01690")["payload"][0])["record"]
    assert "<arxiv:journal_ref" in entry or "journal_ref" in entry
    missing = json.loads(raw.filter(native_id="semantic_scholar:2003.01690")["payload"][0])
    assert missing["record"] is None


@pytest.mark.parametrize(
    "info, venue",
    [
        ({"key": "conf/cvpr/X16", "venue": "CVPR", "title": "T."}, "CVPR"),
        ({"key": "conf/iclr/X18", "venue": "ICLR (Poster)", "title": "T."}, "ICLR"),
        ({"key": "conf/cvpr/X20w", "venue": ["CVPR Workshops", "x"], "title": "T."}, "CVPR Workshops"),
        ({"key": "journals/nature/X", "venue": "Nature", "title": "T."}, "Nature"),
    ],
)
def test_dblp_venues(info, venue):
    assert dblp.candidates(info)["venue"][0] == venue


def test_dblp_author_forms():
    one = dblp.candidates({"title": "T.", "authors": {"author": {"text": "Wei Liu 0002"}}})
    assert one["authors"][0] == ["Wei Liu"]
    assert dblp.is_corr({"key": "journals/corr/abs-1", "venue": "CoRR"}) and not dblp.is_corr(
        {"key": "conf/x/y", "venue": "X"}
    )


def test_openalex_publisher_types():
    assert openalex.publisher_type({"academia"}) == "academia"
    assert openalex.publisher_type({"academia", "industry"}) == "mixed"
    assert openalex.publisher_type(set()) is None
    record = {"authorships": [{"institutions": [{"country_code": "GB", "type": "government"}], "countries": []}]}
    assert openalex.candidates(record)["countries"][0] == ["GB"]
    assert openalex.candidates(record)["publisher_type"][0] == "academia"


def test_arxiv_comment_without_a_venue_names_none():
    entry = (
        '<entry xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">'
        "<id>http://arxiv.org/abs/1234.56789v1</id><published>2012-01-01T00:00:00Z</published>"
        "<title>A</title><arxiv:comment>10 pages, 5 figures</arxiv:comment></entry>"
    )
    values = arxiv.candidates(entry)
    assert "venue" not in values and values["year"][0] == 2012


def test_the_dagster_graph_crawls_kaggle_then_papers_and_warns_about_an_unreachable_api(fake_papers, monkeypatch):
    """raw_kaggle -> catalog_models -> raw_papers -> catalog_papers (and the weights pair) through Dagster."""
    import dagster as dg

    from sn_lake.cli import main, materialize
    from tests.fake_kaggle import PORT, TOKEN, FakeKaggle

    dead = "http://127.0.0.1:9/openalex"  # OpenAlex's "public default", offline
    monkeypatch.setenv("SN_LAKE_OPENALEX_URL", dead)
    monkeypatch.setitem(config.PUBLIC_ENDPOINTS, "openalex_url", dead)
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "TEST")
    monkeypatch.setenv("KAGGLE_API_TOKEN", TOKEN)
    with LoopbackServer(FakeKaggle(), port=PORT):
        assert main(["crawl", "kaggle"]) == 0  # `sn-lake crawl kaggle`
    assert main(["crawl", "kaggle", "--full"]) == 2  # kaggle takes no --full: refused before any run
    assert materialize(
        "key:catalog_models or key:raw_papers or key:catalog_papers or key:raw_weights or key:catalog_weight_files"
    )
    con = warehouse.connect(config.load(), read_only=True)
    ((n_kaggle,),) = con.execute("SELECT count(*) FROM catalog.models WHERE source = 'kaggle'").fetchall()
    assert n_kaggle == 9
    papers = dict(con.execute("SELECT paper_id, venue FROM catalog.papers").fetchall())
    assert papers == {
        "1512.03385": "CVPR",
        "2104.00298": "ICML",
        "2010.11929": "ICLR",
    }  # the ids Kaggle's descriptions cite
    ((n_files,),) = con.execute("SELECT count(*) FROM catalog.weight_files").fetchall()
    assert n_files == 0  # Kaggle links are not GitHub/Zenodo links
    con.close()
    with dg.DagsterInstance.get() as instance:
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("raw_papers"), "papers_reachable")]
        )[dg.AssetCheckKey(dg.AssetKey("raw_papers"), "papers_reachable")]
        evaluation = check.event.dagster_event.event_specific_data
        assert evaluation.passed is False and evaluation.severity == dg.AssetCheckSeverity.WARN


def test_a_public_api_that_keeps_failing_is_skipped_for_this_run(fake_papers, monkeypatch):
    settings = config.load()
    monkeypatch.setitem(config.PUBLIC_ENDPOINTS, "s2_url", settings.s2_url)  # the fake plays the public API
    too_many = Response(429, {"message": "Too Many Requests"}, {"Retry-After": "0"})
    fake_papers.fail_next(
        "POST", PREFIX["s2"] + "/paper/batch", *[too_many] * 4
    )  # the probe, then the 3 tries of the policy
    summary = crawl.crawl(settings, IDS, policy=FAST)
    assert summary["unreachable"] == ["semantic_scholar"] and "429" in summary["errors"]["semantic_scholar"]
    assert (
        summary["found"]["openalex"] == 4 and crawl.answered(settings)["semantic_scholar"] == set()
    )  # no published DOI for ResNet yet
    again = crawl.crawl(
        settings, IDS, policy=FAST
    )  # Semantic Scholar now, and OpenAlex again with ResNet's published DOI
    assert again["asked"] == {"arxiv": 0, "semantic_scholar": 7, "paperswithcode": 0, "openalex": 1, "dblp": 0}
    assert again["found"]["openalex"] == 1 and papers_by_id(settings)["1512.03385"]["countries"] == ["CN"]
