"""The quality rules (Great Expectations on pandas frames), the quarantine, and the blocking checks.

Every rule of every checked table gets a planted bad row that breaks only that rule, beside a good
row that breaks none; the quarantine is checked to lose nothing on a real DuckDB file; the Dagster
check is run through a real materialization.
"""

import json
from datetime import UTC, datetime

import dagster as dg
import pandas as pd
import pytest

from sn_lake import lake, warehouse
from sn_lake.quality import validate
from sn_lake.quality.rules import FLAG, REJECT, TABLES
from tests.warehouse_rows import insert, model, result

GOOD_MODEL = model(
    "timm:good",
    num_classes=10,
    reported_accuracy=0.8,
    purpose="benchmark",
    dataset="cifar10",
    created_at=datetime(2023, 5, 1, tzinfo=UTC),
)
GOOD_PAPER = {"paper_id": "2110.00476", "title": "ResNet strikes back", "year": 2021, "n_authors": 3}

# table -> rule -> the columns of a row that breaks only that rule (the rest is the good row)
PLANTED: dict[str, dict[str, dict]] = {
    "catalog.models": {
        "model_id_not_null": {"model_id": None},
        "model_id_unique": {"model_id": "timm:good"},
        "model_id_format": {"model_id": "no source prefix"},
        "source_not_null": {"source": None},
        "num_classes_at_least_2": {"num_classes": 1},
        "reported_accuracy_in_0_1": {"reported_accuracy": 80.0},
        "purpose_known": {"purpose": "fun"},
        "created_at_not_hub_floor_date": {"created_at": datetime(2022, 3, 2, 23, 29, 4, tzinfo=UTC)},
        "dataset_known": {"dataset": "my-own-data"},
    },
    "catalog.papers": {
        "paper_id_not_null": {"paper_id": None},
        "paper_id_unique": {"paper_id": GOOD_PAPER["paper_id"]},
        "year_in_range": {"year": 1989},
        "n_authors_positive": {"n_authors": 0},
    },
}
RESULT_COMMON = {
    "model_id_not_null": {"model_id": None},
    "model_id_format": {"model_id": "resnet18"},
    "origin_format": {"origin": "guessed"},
    "key_unique": {"config_hash": "c1"},  # the good row again
    "dataset_known": {"dataset": "my-own-data"},
}
GOOD_RESULTS = {
    "results.task_accuracy": {"dataset": "cifar10", "train_accuracy": 0.9, "test_accuracy": 0.88, "overfit_gap": 0.02},
    "results.model_stealing": {
        "dataset": "cifar10",
        "aux_dataset": "cifar10",
        "query_budget": 1000,
        "surrogate_arch": "resnet18",
        "label_only": False,
        "stealing_accuracy": 0.7,
        "agreement": 0.8,
    },
    "results.membership_inference": {
        "dataset": "cifar10",
        "attack": "m_entropy",
        "auc": 0.6,
        "auc_ci_low": 0.55,
        "auc_ci_high": 0.65,
        "tpr_at_1pct_fpr": 0.02,
        "tpr_at_01pct_fpr": 0.001,
    },
    "results.adversarial": {
        "dataset": "cifar10",
        "setting": "white-box",
        "attack": "pgd",
        "epsilon": 8 / 255,
        "clean_accuracy": 0.9,
        "robust_accuracy": 0.1,
        "accuracy_drop": 0.8,
    },
    "results.backdoor_detection": {"dataset": "digits", "detector": "neural_cleanse", "flagged": False, "score": 1.2},
    "results.corruption": {
        "dataset": "cifar10",
        "benchmark": "cifar10-c",
        "corruption": "fog",
        "severity": 3,
        "accuracy": 0.7,
        "clean_accuracy": 0.9,
    },
    "results.distribution_shift": {
        "dataset": "imagenet-r",
        "base_dataset": "imagenet-1k",
        "img_size": 224,
        "top1": 0.4,
        "top5": 0.6,
        "top1_diff": -0.4,
        "top5_diff": -0.3,
    },
}
for table in GOOD_RESULTS:
    # out of range on the side that breaks no other rule (a low test accuracy, a high anything else)
    fractions = {
        r.name: {r.columns[0]: -1.5 if "minus1" in r.name else (-0.5 if r.columns[0] == "test_accuracy" else 1.5)}
        for r in TABLES[table].rules
        if r.name.endswith(("_in_0_1", "_in_minus1_1"))
    }
    PLANTED[table] = {**RESULT_COMMON, **fractions}
PLANTED["results.corruption"]["severity_in_1_5"] = {"severity": 6}
PLANTED["results.task_accuracy"]["train_accuracy_not_below_test"] = {
    "train_accuracy": 0.7,
    "test_accuracy": 0.9,
    "overfit_gap": -0.2,
}


def good_row(table: str) -> dict:
    if table == "catalog.models":
        return dict(GOOD_MODEL)
    if table == "catalog.papers":
        return dict(GOOD_PAPER)
    return result("timm:good", **GOOD_RESULTS[table])


def distinct_key(table: str, i: int) -> dict:
    """Key columns that make planted row ``i`` a row of its own (the uniqueness rule overrides them)."""
    if table == "catalog.models":
        return {"model_id": f"timm:bad{i}"}
    if table == "catalog.papers":
        return {"paper_id": f"2101.{i:05d}"}
    return {"config_hash": f"bad{i}"}


def test_every_rule_has_a_planted_row():
    assert {t: set(rules) for t, rules in PLANTED.items()} == {t: {r.name for r in s.rules} for t, s in TABLES.items()}


@pytest.mark.parametrize("table", sorted(TABLES))
def test_each_rule_catches_its_planted_row_and_passes_the_good_one(table):
    good = good_row(table)
    planted = list(PLANTED[table].items())
    frame = pd.DataFrame([good] + [{**good, **distinct_key(table, i), **bad} for i, (_, bad) in enumerate(planted)])
    violations, skipped = validate.validate_frame(table, frame)
    assert skipped == []
    found = {(v.row_index, v.rule) for v in violations}
    expected = {(i + 1, rule) for i, (rule, _) in enumerate(planted)}
    assert found == expected
    actions = {r.name: r.action for r in TABLES[table].rules}
    assert all(v.action == actions[v.rule] for v in violations)


def test_a_rule_whose_columns_are_missing_is_reported_as_skipped():
    violations, skipped = validate.validate_frame("catalog.papers", pd.DataFrame([{"paper_id": "2101.00001"}]))
    assert violations == []
    assert set(skipped) == {"year_in_range", "n_authors_positive"}


def test_an_unknown_table_is_a_clear_error():
    with pytest.raises(validate.QualityError, match="add its rules"):
        validate.validate_frame("catalog.nope", pd.DataFrame())


def test_quarantine_loses_nothing_and_does_not_repeat_itself(settings):
    con = warehouse.connect(settings)
    table = "results.task_accuracy"
    good = good_row(table)
    planted = {
        rule: {**good, **distinct_key(table, i), **bad}
        for i, (rule, bad) in enumerate(PLANTED[table].items())
        if rule not in ("key_unique", "model_id_not_null")
    }  # the table itself refuses a NULL model_id
    rows = [good, dict(good), *planted.values()]  # an exact duplicate of the good row: its second copy is quarantined
    actions = {r.name: r.action for r in TABLES[table].rules}
    insert(con, table, rows)
    n_in = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    report = validate.check_table(con, table, now=datetime(2026, 11, 30, tzinfo=UTC))
    n_kept = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    assert n_in == len(rows) == n_kept + report.n_rejected
    assert report.n_flagged == 2 and report.n_rejected == len(rows) - 3  # the good row and the two flagged rows stay
    assert con.execute(f"SELECT count(*) FROM {table} WHERE train_accuracy < test_accuracy - 0.05").fetchone() == (1,)

    rejected = con.execute(
        "SELECT row_key, rule, detail FROM catalog.quarantine WHERE table_name = ? AND detail LIKE '%Row: {%'", [table]
    ).fetchall()
    assert len({key for key, _, _ in rejected}) == report.n_rejected
    # each quarantined row keeps its whole content, so it can be put back
    restored = {key: json.loads(detail.split("Row: ", 1)[1]) for key, _, detail in rejected}
    expected = ["c1"] + [row["config_hash"] for rule, row in planted.items() if actions[rule] == REJECT]
    assert sorted(r["config_hash"] for r in restored.values()) == sorted(expected)
    assert [r["origin"] for r in restored.values()].count("guessed") == 1

    runs = dict(con.execute("SELECT rule, n_failed FROM catalog.quality_runs WHERE table_name = ?", [table]).fetchall())
    assert runs["train_accuracy_not_below_test"] == 1 and runs["key_unique"] == 1 and runs["origin_format"] == 1

    # a second run finds nothing new to reject and keeps one entry per (row, rule)
    entries = con.execute("SELECT count(*) FROM catalog.quarantine").fetchone()[0]
    again = validate.check_table(con, table)
    assert (again.n_rejected, again.n_flagged) == (0, 2)
    assert con.execute("SELECT count(*) FROM catalog.quarantine").fetchone()[0] == entries

    warehouse.apply_sql(con, "views")
    report_rows = dict(
        con.execute("SELECT rule, n_quarantined FROM analytics.quality_report WHERE table_name = ?", [table]).fetchall()
    )
    assert set(report_rows) == {r.name for r in TABLES[table].rules}
    assert report_rows["origin_format"] == 1 and report_rows["dataset_known"] == 1
    con.close()


def test_check_table_rolls_back_when_a_rule_cannot_run(settings, monkeypatch):
    con = warehouse.connect(settings)
    insert(con, "catalog.models", [model("timm:a", num_classes=1)])

    def broken(*args, **kwargs):
        raise validate.QualityError("boom")

    monkeypatch.setattr(validate, "validate_frame", broken)
    with pytest.raises(validate.QualityError):
        validate.check_table(con, "catalog.models")
    assert con.execute("SELECT count(*) FROM catalog.models").fetchone() == (1,)
    assert con.execute("SELECT count(*) FROM catalog.quarantine").fetchone() == (0,)
    con.close()


def _timm_payload(name: str, num_classes: int) -> dict:
    cfg = {
        "architecture": name.split(".")[0],
        "tag": "in1k",
        "num_classes": num_classes,
        "input_size": [3, 224, 224],
        "hf_hub_id": f"timm/{name}",
        "license": "apache-2.0",
    }
    return {"name": name, "timm_version": "1.0.31", "pretrained_cfg": cfg}


def _catalog_run(settings, names: list[str], crawl_id: str) -> dg.ExecuteInProcessResult:
    """catalog_models and its blocking check, run through Dagster on a timm crawl of ``names`` (``*.bad_*``: one
    class, which the num_classes rule refuses)."""
    from assets.catalog import catalog_models
    from assets.quality import catalog_models_rules
    from assets.resources import SnLake

    records = [
        {"native_id": n, "request_url": f"test:{n}", "payload": _timm_payload(n, 1 if "bad" in n else 1000)}
        for n in names
    ]
    lake.write_raw(settings, "timm", crawl_id, 1, records)
    with dg.instance_for_test() as instance:
        return dg.materialize(
            [catalog_models, catalog_models_rules],
            resources={"sn_lake": SnLake()},
            instance=instance,
            raise_on_error=False,
        )


@pytest.mark.slow
def test_catalog_check_quarantines_through_dagster(settings):
    """The blocking check on catalog_models in a real run: a bad row quarantined, counts and examples shown."""
    from assets.quality import MAX_REJECTED_FRACTION

    names = ["resnet18.a1_in1k", "resnet34.a1_in1k", "resnet50.a1_in1k", "resnet101.a1_in1k", "tiny.bad_in1k"]
    run = _catalog_run(settings, names, "20261130T000000Z-test01")
    evaluation = run.get_asset_check_evaluations()[0]
    assert not evaluation.passed
    assert 1 / len(names) <= MAX_REJECTED_FRACTION
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    metadata = {k: v.value for k, v in evaluation.metadata.items()}
    assert (metadata["rows_checked"], metadata["rows_kept"], metadata["rows_quarantined"]) == (5, 4, 1)
    assert metadata["failed_by_rule"] == {"num_classes_at_least_2": 1}
    assert "timm:tiny.bad_in1k" in metadata["examples"]

    con = warehouse.connect(settings, read_only=True)
    assert con.execute("SELECT count(*) FROM catalog.models").fetchone() == (4,)
    assert con.execute("SELECT row_key, rule FROM catalog.quarantine").fetchall() == [
        ("timm:tiny.bad_in1k", "num_classes_at_least_2")
    ]
    con.close()


def test_check_severity_blocks_only_when_the_table_is_broken():
    from assets.quality import check_result

    few = validate.TableReport("catalog.models", n_rows=10, n_rejected=2, failed={"r": 2}, examples={"r": ["k: d"]})
    many = validate.TableReport("catalog.models", n_rows=10, n_rejected=3, failed={"r": 3}, examples={"r": ["k: d"]})
    clean = validate.TableReport("catalog.models", n_rows=10, n_flagged=4, failed={"f": 4}, examples={"f": ["k: d"]})
    assert (check_result(few).passed, check_result(few).severity) == (False, dg.AssetCheckSeverity.WARN)
    assert (check_result(many).passed, check_result(many).severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert check_result(clean).passed
    assert {FLAG, REJECT} == {r.action for s in TABLES.values() for r in s.rules}


def test_the_check_observes_what_the_build_left(settings):
    """The build refuses (quarantine_table); the check's observe_table reports it and changes nothing, read-only."""
    con = warehouse.connect(settings)
    insert(
        con, "catalog.models", [GOOD_MODEL, model("timm:bad", num_classes=1), model("timm:odd", dataset="my-own-data")]
    )
    refused = validate.quarantine_table(con, "catalog.models", now=datetime(2026, 11, 30, tzinfo=UTC))
    assert (refused.n_rows, refused.n_rejected, refused.n_flagged) == (3, 1, 1)
    con.close()

    con = warehouse.connect(settings, read_only=True)
    before = [
        con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("catalog.models", "catalog.quarantine", "catalog.quality_runs")
    ]
    seen = validate.observe_table(con, "catalog.models")
    after = [
        con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("catalog.models", "catalog.quarantine", "catalog.quality_runs")
    ]
    con.close()
    assert before == after and before[0] == 2
    assert (seen.n_rows, seen.n_kept, seen.n_rejected, seen.n_flagged) == (3, 2, 1, 1)
    assert seen.failed == {"num_classes_at_least_2": 1, "dataset_known": 1}
    assert seen.examples["num_classes_at_least_2"][0].startswith("timm:bad: ")
    assert "Row: {" not in seen.examples["num_classes_at_least_2"][0]


def test_the_check_sees_a_rejected_row_its_build_did_not_refuse(settings):
    """A row written after the build (by hand, by another tool) fails the check, and stays where it is."""
    con = warehouse.connect(settings)
    insert(con, "catalog.models", [GOOD_MODEL, model("timm:bad", num_classes=1)])
    seen = validate.observe_table(con, "catalog.models")
    assert (seen.n_rows, seen.n_rejected, seen.failed) == (2, 1, {"num_classes_at_least_2": 1})
    assert con.execute("SELECT count(*) FROM catalog.models").fetchone() == (2,)
    assert con.execute("SELECT count(*) FROM catalog.quarantine").fetchone() == (0,)
    con.close()


@pytest.mark.slow
def test_the_row_count_is_what_the_table_holds_after_the_build(settings):
    """catalog_models refuses its bad rows itself, so its dagster/row_count is the rows catalog.models keeps."""
    run = _catalog_run(settings, ["resnet18.a1_in1k", "resnet34.a1_in1k", "tiny.bad_in1k"], "20261130T000000Z-test02")
    (materialization,) = run.asset_materializations_for_node("catalog_models")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert (metadata["dagster/row_count"], metadata["rows_quarantined"]) == (2, 1)
    con = warehouse.connect(settings, read_only=True)
    assert con.execute("SELECT count(*) FROM catalog.models").fetchone() == (2,)
    con.close()
