"""The SecurityNet source end to end: lake -> catalog, labels, quarantine and published results,
through Dagster on a temporary home; the URL branch against a loopback server; an unreachable table."""

import socket

import dagster as dg
import pytest
from loopback_server import FakeApi, LoopbackServer, Response

from sn_lake import cli, config, lake, warehouse
from sn_lake.cli import load_definitions
from sn_lake.sources.securitynet import crawl as securitynet
from sn_lake.sources.securitynet import parse as securitynet_parse

SELECTION = "key:raw_securitynet or key:catalog_models"
TABLE_PATH = "/TrustAIRLab/SecurityNet/main/Database/README.MD"


def run(selection: str = SELECTION) -> dg.ExecuteInProcessResult:
    defs = load_definitions()
    with dg.DagsterInstance.get() as instance:
        return dg.materialize(
            [*defs.assets, *(defs.asset_checks or [])],
            selection=dg.AssetSelection.from_string(selection),
            resources=defs.resources,
            instance=instance,
            raise_on_error=False,
        )


def scalar(con, sql, params=()):
    return con.execute(sql, list(params)).fetchone()[0]


def reachable_check(result):
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "securitynet_reachable"]
    return evaluation


@pytest.fixture
def local_table(sn_home, securitynet_table, monkeypatch):
    monkeypatch.setenv("SN_LAKE_SECURITYNET_URL", str(securitynet_table))
    return securitynet_table


def test_dagster_run_builds_catalog_labels_quarantine_and_results(local_table):
    result = run()
    assert result.success
    assert reachable_check(result).passed
    con = warehouse.connect(config.load(), read_only=True)
    # no row lost: every table row is a catalog row or quarantined with a row-level reason
    in_catalog = scalar(con, "SELECT count(*) FROM catalog.models WHERE source = 'securitynet'")
    excluded = scalar(
        con, "SELECT count(DISTINCT row_key) FROM catalog.quarantine WHERE rule LIKE 'securitynet.excluded.%'"
    )
    assert (in_catalog, excluded) == (613, 18) and in_catalog + excluded == 437 + 92 + 102
    assert scalar(con, "SELECT count(*) FROM catalog.securitynet_labels") == 631
    assert (
        scalar(
            con,
            """SELECT count(*) FROM catalog.securitynet_labels l
                          WHERE l.in_catalog <> (l.model_id IN (SELECT model_id FROM catalog.models))""",
        )
        == 0
    )
    columns, rows = warehouse.query(
        con, "SELECT * FROM catalog.models WHERE model_id = ?", ["securitynet:benchmark/cifar-10/wrn16_10_cifar10"]
    )
    row = dict(zip(columns, rows[0], strict=True))
    assert (row["name"], row["architecture"], row["model_type"], row["dataset"], row["data_category"]) == (
        "wrn16_10_cifar10",
        "wrn16_10",
        "wide_resnet",
        "cifar10",
        "natural",
    )
    assert (row["purpose"], row["paper_id"], row["num_classes"]) == ("benchmark", "1605.07146", 10)
    assert row["weights_url"] == "https://github.com/osmr/imgclsmob/tree/master/pytorch"
    assert (
        scalar(
            con,
            "SELECT dataset FROM catalog.models "
            "WHERE model_id = 'securitynet:benchmark/adrenalmnist3d/resnet18_acs_1.pth'",
        )
        == "adrenalmnist3d"
    )
    # the MedMNIST train-accuracy sentinel: NULL in results, the reason in quarantine
    columns, rows = warehouse.query(
        con,
        "SELECT train_accuracy, test_accuracy, overfit_gap, origin FROM results.task_accuracy WHERE model_id = ?",
        ["securitynet:benchmark/adrenalmnist3d/resnet18_acs_1.pth"],
    )
    assert rows == [(None, 0.731544, None, "published:securitynet")]
    reasons = {
        r
        for (r,) in con.execute(
            "SELECT rule FROM catalog.quarantine "
            "WHERE row_key = 'securitynet:benchmark/adrenalmnist3d/resnet18_acs_1.pth'"
        ).fetchall()
    }
    assert {"securitynet.null.sentinel_zero", "securitynet.null.derived_from_sentinel"} <= reasons
    assert (
        scalar(
            con,
            "SELECT count(*) FROM results.task_accuracy "
            "WHERE origin = 'published:securitynet' AND train_accuracy IS NULL",
        )
        == 174
    )
    # labels as the table states them, countries as ISO codes
    columns, rows = warehouse.query(
        con,
        "SELECT venue, venue_normalized, year, countries, country_codes, n_authors, purpose "
        "FROM catalog.securitynet_labels WHERE row_key = ?",
        ["security/cifar-10/vgg_plain_const_eps8_wd1e-3_200"],
    )
    assert rows == [("NeurIPS", "NeurIPS", 2020, "Switzerland, UK", ["CH", "GB"], 5, "security")]
    con.close()


def test_rebuild_is_idempotent_and_follows_a_changed_table(local_table, tmp_path, monkeypatch):
    settings = config.load()
    securitynet.crawl(settings)
    con = warehouse.connect(settings)
    from sn_lake import catalog

    catalog.build_models(settings, con)
    catalog.build_models(settings, con)
    assert scalar(con, "SELECT count(*) FROM results.model_stealing WHERE origin = 'published:securitynet'") == 787
    first_seen = scalar(
        con, "SELECT first_seen_at FROM catalog.models WHERE model_id = 'securitynet:benchmark/imagenet1k/densenet169'"
    )
    changed = tmp_path / "README.MD"
    changed.write_text(
        local_table.read_text().replace(
            "| densenet169                    | densenet     | ImageNet1k      | natural         |        1000 "
            "|         1281167 |         0.8604   |       0.7608 ",
            "| densenet169                    | densenet     | ImageNet1k      | natural         |        1000 "
            "|         1281167 |         0.8604   |       0.7000 ",
        )
    )
    monkeypatch.setenv("SN_LAKE_SECURITYNET_URL", str(changed))
    securitynet.crawl(config.load())
    catalog.build_models(config.load(), con)
    assert (
        scalar(
            con,
            "SELECT test_accuracy FROM results.task_accuracy "
            "WHERE model_id = 'securitynet:benchmark/imagenet1k/densenet169'",
        )
        == 0.7
    )
    assert scalar(con, "SELECT count(*) FROM results.task_accuracy WHERE origin = 'published:securitynet'") == 529
    assert (
        scalar(
            con,
            "SELECT first_seen_at FROM catalog.models WHERE model_id = 'securitynet:benchmark/imagenet1k/densenet169'",
        )
        == first_seen
    )
    assert scalar(con, "SELECT count(*) FROM raw.crawls WHERE source = 'securitynet'") == 2
    con.close()


def test_url_is_fetched_politely_through_retries(sn_home, securitynet_table, monkeypatch):
    api = FakeApi()
    text = securitynet_table.read_text(encoding="utf-8")
    api.route("GET", TABLE_PATH, lambda request: Response(200, text, {"Content-Type": "text/plain; charset=utf-8"}))
    api.fail_next("GET", TABLE_PATH, Response(503, "busy", {"Retry-After": "0"}))
    with LoopbackServer(api) as server:
        monkeypatch.setenv("SN_LAKE_SECURITYNET_URL", server.url + TABLE_PATH)
        summary = securitynet.crawl(config.load())
    assert [r.path for r in api.requests] == [TABLE_PATH, TABLE_PATH]
    assert api.requests[0].headers["user-agent"].startswith("sn-lake/")
    assert (summary["rows_benchmark"], summary["rows_security"], summary["rows_new"]) == (437, 92, 102)
    assert summary["url"] == server.url + TABLE_PATH
    raw = lake.read_raw(config.load(), "securitynet")
    assert (
        raw.height == 1
        and securitynet_parse.latest_snapshot(raw).rows[0].row_key == "benchmark/adrenalmnist3d/resnet18_acs_1.pth"
    )


def test_unreachable_table_warns_and_the_catalog_keeps_the_lake(local_table, monkeypatch):
    assert run().success
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    monkeypatch.setenv("SN_LAKE_SECURITYNET_URL", f"http://127.0.0.1:{closed_port}{TABLE_PATH}")
    result = run()
    assert result.success  # the rest of the graph still runs
    check = reachable_check(result)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    (mat,) = [
        e.step_materialization_data.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("raw_securitynet")
    ]
    assert mat.metadata["status"].value == "unreachable" and mat.metadata["crawls_in_lake"].value == 1
    con = warehouse.connect(config.load(), read_only=True)
    assert scalar(con, "SELECT count(*) FROM catalog.models WHERE source = 'securitynet'") == 613
    con.close()


def test_missing_local_file_fails_with_a_clear_error(sn_home, tmp_path, monkeypatch):
    monkeypatch.setenv("SN_LAKE_SECURITYNET_URL", str(tmp_path / "nowhere.md"))
    with pytest.raises(
        securitynet.SourceUnreachable, match="Expected the SecurityNet table at .*nowhere.md, found no file"
    ):
        securitynet.crawl(config.load())
    assert cli.main(["crawl", "securitynet"]) == 1  # a wrong local path fails the crawl; it is not an outage
    assert lake.read_raw(config.load(), "securitynet").is_empty()


def test_cli_crawls_the_table_into_the_lake(local_table, capsys):
    assert cli.main(["crawl", "securitynet"]) == 0
    assert "materialized raw_securitynet" in capsys.readouterr().out
    assert [c["table_rows"] for c in lake.finished_crawls(config.load(), "securitynet")] == [631]


def test_markdown_without_the_tables_is_refused(sn_home, tmp_path, monkeypatch):
    page = tmp_path / "README.MD"
    page.write_text("# Not the database\n\nNothing here.\n")
    monkeypatch.setenv("SN_LAKE_SECURITYNET_URL", str(page))
    with pytest.raises(ValueError, match="Expected the SecurityNet markdown tables"):
        securitynet.crawl(config.load())
    assert lake.read_raw(config.load(), "securitynet").is_empty()
