"""timm's registry through the whole foundation: crawl -> lake -> catalog.models -> analytics, via Dagster."""

import dagster as dg
import pytest

from sn_lake import config, lake, warehouse
from sn_lake.catalog import timm_registry as timm_catalog
from sn_lake.cli import materialize
from sn_lake.sources.timm_registry import crawl as timm_registry

SELECTION = "key:raw_timm or key:catalog_models or key:analytics_views"


@pytest.fixture
def catalog(sn_home):
    assert materialize(SELECTION)
    con = warehouse.connect(config.load(), read_only=True)
    yield con
    con.close()


def row(con, model_id):
    columns, rows = warehouse.query(con, "SELECT * FROM catalog.models WHERE model_id = ?", [model_id])
    assert rows, f"{model_id} is missing from catalog.models"
    return dict(zip(columns, rows[0], strict=True))


def test_real_timm_rows_land_in_the_catalog(catalog):
    resnet = row(catalog, "timm:resnet18.a1_in1k")
    assert resnet["dataset"] == "imagenet-1k"
    assert resnet["data_category"] == "natural"
    assert resnet["license"] == "apache-2.0"
    assert resnet["paper_id"] == "2110.00476"
    assert resnet["architecture"] == "resnet18" and resnet["model_type"] == "resnet"
    assert resnet["num_classes"] == 1000 and resnet["library"] == "timm"
    assert resnet["weights_url"] == "https://huggingface.co/timm/resnet18.a1_in1k"
    assert resnet["purpose"] == "benchmark"  # a standard release of an architecture
    vit = row(catalog, "timm:vit_base_patch16_224.augreg2_in21k_ft_in1k")
    assert (vit["model_type"], vit["dataset"]) == ("vit", "imagenet-1k")


def test_every_registry_entry_is_one_catalog_row(catalog):
    ((n, distinct),) = catalog.execute(
        "SELECT count(*), count(DISTINCT model_id) FROM catalog.models WHERE source = 'timm'"
    ).fetchall()
    assert n == distinct > 1500
    ((summary_total,),) = catalog.execute(
        "SELECT sum(n_models) FROM analytics.catalog_summary WHERE source = 'timm'"
    ).fetchall()
    assert summary_total == n


def test_the_run_is_recorded_in_the_dagster_instance(catalog):
    with dg.DagsterInstance.get() as instance:
        records = instance.get_run_records()
        assert records and records[0].dagster_run.status == dg.DagsterRunStatus.SUCCESS
        assert instance.get_latest_materialization_event(dg.AssetKey("catalog_models")) is not None


def test_recrawl_keeps_first_seen_and_moves_last_seen(sn_home):
    settings = config.load()
    timm_registry.crawl(settings)
    first = (
        timm_catalog.catalog_rows(lake.read_raw(settings, "timm"))
        .filter(model_id="timm:resnet18.a1_in1k")
        .row(0, named=True)
    )
    timm_registry.crawl(settings)
    again = timm_catalog.catalog_rows(lake.read_raw(settings, "timm"))
    assert again.height == again["model_id"].n_unique()
    second = again.filter(model_id="timm:resnet18.a1_in1k").row(0, named=True)
    assert second["first_seen_at"] == first["first_seen_at"]
    assert second["last_seen_at"] > first["last_seen_at"]
    assert len(lake.finished_crawls(settings, "timm")) == 2


@pytest.mark.parametrize(
    ("tag", "purpose"),
    [("a1_in1k", "benchmark"), ("tf_adv_in1k", "security"), ("tf_ens_adv_in1k", "security"), (None, "benchmark")],
)
def test_registry_purpose(tag, purpose):
    assert timm_catalog.purpose(tag) == purpose
