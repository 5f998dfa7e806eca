"""End to end: a loopback fake Hub serves zoo models -> Hugging Face crawl -> catalog -> ``models`` partitions ->
all four attack families (and task accuracy) through Dagster -> ``results.*`` -> the analytics views."""

import pytest
from fake_hub import FakeHub
from test_evaluate_pipeline import QUICK
from zoo_fixtures import test_zoo, zoo_settings  # noqa: F401  (fixtures)

from sn_lake import cli, config, warehouse
from sn_lake.evaluate import pipeline

SERVED = {
    "zoo-org/digits-convnext-badnets-br": "digits-convnext-badnets-br",
    "zoo-org/digits-vit-extreme": "digits-vit-extreme",
}


@pytest.mark.slow
def test_fake_hub_models_are_crawled_evaluated_loaded_and_answered_by_the_views(zoo_settings, test_zoo, monkeypatch):
    with FakeHub([]) as hub:
        for repo_id, name in SERVED.items():
            hub.add_repo(
                repo_id,
                test_zoo / name,
                pipeline_tag="image-classification",
                library_name="timm",
                tags=["timm", "image-classification", "dataset:digits"],
            )
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert cli.materialize("key:raw_huggingface or key:catalog_models")
        settings = config.load()
        con = warehouse.connect(settings, read_only=True)
        catalogued = dict(
            con.execute("SELECT model_id, revision FROM catalog.models WHERE source = 'huggingface'").fetchall()
        )
        con.close()
        assert set(catalogued) == {f"huggingface:{r}" for r in SERVED}
        assert cli.evaluate_models(sorted(catalogued), list(pipeline.FAMILIES), QUICK)
        downloads = [r for r in hub.request_log if "/resolve/" in r.path and r.path.endswith("model.safetensors")]
        assert downloads, "the weights were not downloaded from the fake Hub"

    con = warehouse.connect(settings, read_only=True)
    for table in ("task_accuracy", "model_stealing", "membership_inference", "adversarial", "backdoor_detection"):
        found = dict(con.execute(f"SELECT model_id, any_value(revision) FROM results.{table} GROUP BY 1").fetchall())
        assert found == catalogued, table  # every model, at the revision the crawl saw
    gap = dict(con.execute("SELECT model_id, overfit_gap FROM results.task_accuracy").fetchall())
    assert gap["huggingface:zoo-org/digits-vit-extreme"] > 0.3
    views = {
        v for (v,) in con.execute("SELECT view_name FROM duckdb_views() WHERE schema_name = 'analytics'").fetchall()
    }
    assert {"backdoor_detection", "mia_vs_overfitting"} <= views
    assert (
        con.execute(
            "SELECT sum(n_models) FROM analytics.backdoor_detection WHERE detector = 'neural_cleanse'"
        ).fetchone()[0]
        == 2
    )
    assert con.execute("SELECT count(*) FROM analytics.mia_vs_overfitting WHERE dataset = 'digits'").fetchone()[0] >= 1
