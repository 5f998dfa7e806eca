"""The evaluation through Dagster and the warehouse: partitions, Parquet per partition, results.* rows, the zoo as
source ``local``."""

import duckdb
import polars as pl
import pytest
import torch
from zoo_fixtures import test_zoo, zoo_settings  # noqa: F401  (fixtures)

from sn_lake import catalog, cli, lake, warehouse
from sn_lake.catalog import local as local_catalog
from sn_lake.evaluate import data, pipeline, results, zoo
from sn_lake.sources.local import crawl as local

CONTRACT = {
    "results.task_accuracy": ["train_accuracy", "test_accuracy", "overfit_gap"],
    "results.model_stealing": [
        "aux_dataset",
        "query_budget",
        "surrogate_arch",
        "label_only",
        "stealing_accuracy",
        "agreement",
    ],
    "results.membership_inference": [
        "attack",
        "auc",
        "auc_ci_low",
        "auc_ci_high",
        "tpr_at_1pct_fpr",
        "tpr_at_01pct_fpr",
    ],
    "results.adversarial": ["setting", "attack", "epsilon", "clean_accuracy", "robust_accuracy", "accuracy_drop"],
    "results.backdoor_detection": ["detector", "flagged", "score"],
}
COMMON = ["model_id", "revision", "dataset", "origin", "config_hash", "device", "runtime_s", "computed_at"]

# small but real settings, so the whole graph runs in a test
QUICK = {
    "eval_model_stealing": {"config": {"query_budgets": [60, 120], "epochs": 4, "test_samples": 150}},
    "eval_membership_inference": {"config": {"max_per_side": 60, "n_bootstrap": 20}},
    "eval_adversarial": {"config": {"epsilons_255": [2, 8], "n_samples": 24, "pgd_steps": 2, "square_queries": 8}},
    "eval_backdoor_detection": {
        "config": {"nc_steps": 10, "nc_samples": 32, "strip_superimpose": 4, "n_inputs": 12, "neo_stride": 6}
    },
}


def test_local_source_catalogs_the_zoo_with_known_backdoors(zoo_settings):
    summary = local.crawl(zoo_settings)
    assert summary["records"] == 4
    rows = local_catalog.catalog_rows(lake.read_raw(zoo_settings, "local"))
    by_id = {r["model_id"]: r for r in rows.iter_rows(named=True)}
    assert by_id["local:digits-convnext-badnets-tl"]["known_backdoor"] is True
    assert by_id["local:digits-vit-extreme"]["known_backdoor"] is False
    assert (
        by_id["local:digits-vit-extreme"]["dataset"] == "digits"
        and by_id["local:digits-vit-extreme"]["model_type"] == "vit"
    )
    assert all(r["has_safetensors"] and r["revision"] for r in by_id.values())
    con = warehouse.connect(zoo_settings)
    catalog.build_models(zoo_settings, con)
    assert (
        con.execute(
            "SELECT count(*) FILTER (WHERE known_backdoor) FROM catalog.models WHERE source = 'local'"
        ).fetchone()[0]
        == 2
    )


def test_same_config_replaces_rows_and_a_new_config_adds_rows(zoo_settings):
    model_id = "local:digits-convnext-high"
    con = warehouse.connect(zoo_settings)
    small = pipeline.MembershipConfig(max_per_side=40, n_bootstrap=10)
    first = pipeline.run_family(zoo_settings, model_id, "membership_inference", small)
    results.load_into_warehouse(zoo_settings, con)
    pipeline.run_family(zoo_settings, model_id, "membership_inference", small)
    results.load_into_warehouse(zoo_settings, con)

    def count():
        return con.execute("SELECT count(*), count(DISTINCT config_hash) FROM results.membership_inference").fetchone()

    assert count() == (5, 1)
    pipeline.run_family(
        zoo_settings, model_id, "membership_inference", pipeline.MembershipConfig(max_per_side=40, n_bootstrap=11)
    )
    results.load_into_warehouse(zoo_settings, con)
    assert count() == (10, 2)
    con.execute(
        "INSERT INTO results.membership_inference (model_id, origin, attack, auc) "
        "VALUES (?, 'published:securitynet', 'x', 0.5)",
        [model_id],
    )
    results.load_into_warehouse(zoo_settings, con)
    assert (
        con.execute(
            "SELECT count(*) FROM results.membership_inference WHERE origin = 'published:securitynet'"
        ).fetchone()[0]
        == 1
    )
    assert first["path"].endswith(f"{first['config_hash']}.parquet")


def test_sn_lake_evaluate_runs_every_family_through_dagster_partitions(zoo_settings, capsys):
    import dagster as dg

    model_id = "local:digits-convnext-badnets-br"
    families = list(pipeline.FAMILIES)
    assert cli.evaluate_models([model_id], families, QUICK)
    with dg.DagsterInstance.get() as instance:
        assert model_id in instance.get_dynamic_partitions("models")
    for family in families:
        assert len(results.files(zoo_settings, family)) == 1
    con = warehouse.connect(zoo_settings, read_only=True)
    for table, metrics in CONTRACT.items():
        frame = pl.from_arrow(con.execute(f"SELECT {', '.join(COMMON + metrics)} FROM {table}").arrow())
        assert frame.height > 0, table
        assert (
            set(frame["model_id"]) == {model_id}
            and set(frame["origin"]) == {"computed"}
            and set(frame["device"]) == {"cpu"}
        )
        assert frame["revision"].null_count() == 0 and frame["config_hash"].null_count() == 0
    adversarial = con.execute("SELECT DISTINCT setting, attack FROM results.adversarial ORDER BY ALL").fetchall()
    assert adversarial == [
        ("black-box-query", "square"),
        ("black-box-transfer", "pgd"),
        ("white-box", "fgsm"),
        ("white-box", "pgd"),
    ]
    detectors = con.execute(
        "SELECT detector, hardware IS NOT NULL FROM results.backdoor_detection ORDER BY 1"
    ).fetchall()
    assert detectors == [("neo", True), ("neural_cleanse", True), ("strip", True)]
    assert con.execute("SELECT count(*) FROM results.model_stealing").fetchone()[0] == 2
    # the views read the results (analytics_views ran after results_tables)
    assert con.execute("SELECT count(*) FROM analytics.backdoor_detection").fetchone()[0] >= 1
    with pytest.raises(duckdb.Error):
        con.execute("DELETE FROM results.adversarial")  # read-only


def test_sn_lake_zoo_build_trains_once_then_reuses(settings, capsys):
    assert cli.main(["zoo", "build", "--only", "digits-vit-extreme"]) == 0
    folder = settings.home / "zoo" / "digits-vit-extreme"
    assert {p.name for p in folder.iterdir()} == {"config.json", "model.safetensors", "README.md"}
    assert "model-index:" in (folder / "README.md").read_text()
    built_at = (folder / "model.safetensors").stat().st_mtime_ns
    capsys.readouterr()
    assert cli.main(["zoo", "build", "--only", "digits-vit-extreme"]) == 0
    assert "True" in capsys.readouterr().out  # the `cached` column
    assert (folder / "model.safetensors").stat().st_mtime_ns == built_at


def test_zoo_training_gives_the_same_weights_whatever_ran_before():
    spec = zoo.ZooSpec("determinism-check", "resnet18", train_size=32, epochs=1, weight_decay=0.0, seed=7)
    splits = data.digits()
    first, _ = zoo.train_model(spec, splits)
    torch.rand(1000)  # the global generator moves on, as other work in the same process would move it
    second, _ = zoo.train_model(spec, splits)
    a, b = first.state_dict(), second.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_sn_lake_evaluate_refuses_unknown_attacks(capsys):
    with pytest.raises(SystemExit):
        cli.main(["evaluate", "local:digits-vit-extreme", "--attacks", "stealing,telepathy"])
    assert "expected attacks from" in capsys.readouterr().err


def test_every_layer_takes_the_families_from_the_one_registry(settings):
    """families.py is where a family is declared; the runner, table, rules, asset, loader and CLI all follow it."""
    import dataclasses
    import inspect

    from assets import evaluation
    from assets.quality import RESULTS_CHECKS
    from sn_lake.evaluate import configs, families
    from sn_lake.quality.rules import TABLES as RULES

    con = warehouse.connect(settings)
    listed = con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
    tables = {f"{schema}.{name}" for schema, name in listed}
    con.close()
    assert sorted(families.TABLES.values()) == sorted(CONTRACT)
    for family in families.FAMILIES.values():
        assert dataclasses.is_dataclass(family.config) and family.config.__module__ == configs.__name__
        runner = family.run_function()
        assert callable(runner) and list(inspect.signature(runner).parameters) == ["ctx", "cfg"], family.name
        assert family.table in tables and family.table in CONTRACT and results.TABLES[family.name] == family.table
        assert set(family.key) | set(family.fractions) | set(family.differences) <= set(CONTRACT[family.table]) | {
            "dataset"
        }
        assert RULES[family.table].table == family.table
        assert evaluation.ASSETS_BY_FAMILY[family.name].to_user_string() == family.asset
        assert cli.ATTACK_FAMILIES[family.attack] == family.name
        assert set(family.after) < set(families.NAMES)
    # the evaluation step's run config: one field per configurable family, named by its asset
    assert set(evaluation.EvaluationRunConfig.model_fields) <= {f.asset for f in families.FAMILIES.values()}
    assert [c.check_key.name for c in RESULTS_CHECKS] == [
        f"{t.replace('.', '_')}_rules" for t in families.TABLES.values()
    ]
    assert cli.RESULTS_TABLES == tuple(families.TABLES.values())
    assert "globals()" not in inspect.getsource(pipeline)
    with pytest.raises(ValueError, match="Expected an attack family from"):
        families.get("phishing")
