"""Automation: the re-crawl schedules' cron from configuration, the new-models sensor, run retries."""

import subprocess
import sys
from datetime import UTC, datetime

import dagster as dg
import pytest

from assets import automation
from assets.crawl import raw_timm
from assets.partitions import models_partitions
from assets.resources import SnLake
from sn_lake import config, warehouse
from sn_lake.catalog import evaluability
from sn_lake.cli import load_definitions
from tests.warehouse_rows import insert, model


def test_crawl_cron_comes_from_configuration(monkeypatch):
    monkeypatch.delenv("SN_LAKE_CRAWL_CRON", raising=False)
    monkeypatch.delenv("SN_LAKE_CRAWL_CRON_TIMM", raising=False)
    assert automation.crawl_schedule(raw_timm).cron_schedule == config.DEFAULT_CRAWL_CRON == "17 3 * * *"
    assert [s.name for s in automation.crawl_schedules([raw_timm])] == ["timm_daily_crawl"]
    monkeypatch.setenv("SN_LAKE_CRAWL_CRON", "15 2 * * *")
    assert automation.crawl_schedule(raw_timm).cron_schedule == "15 2 * * *"
    monkeypatch.setenv("SN_LAKE_CRAWL_CRON_TIMM", "45 6 * * 1")  # the per-source setting wins
    schedule = automation.crawl_schedule(raw_timm)
    assert (schedule.name, schedule.cron_schedule, schedule.execution_timezone) == (
        "timm_daily_crawl",
        "45 6 * * 1",
        "UTC",
    )
    monkeypatch.setenv("SN_LAKE_CRAWL_CRON_TIMM", "every morning")
    with pytest.raises(ValueError, match="SN_LAKE_CRAWL_CRON_TIMM"):
        automation.crawl_schedule(raw_timm)


def test_every_crawl_has_exactly_one_daily_schedule_that_also_refreshes_the_catalog():
    from sn_lake.cli import load_definitions

    defs = load_definitions()
    graph = defs.resolve_asset_graph()
    crawl_keys = {k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "crawl"}
    scheduled: dict[dg.AssetKey, list[str]] = {k: [] for k in crawl_keys}
    repository = defs.get_repository_def()
    for schedule in repository.schedule_defs:
        selected = set(repository.get_job(schedule.job_name).asset_layer.executable_asset_keys)
        for key in selected & crawl_keys:
            scheduled[key].append(schedule.name)
        if schedule.name.endswith("_daily_crawl"):
            assert len(selected & crawl_keys) == 1  # its own crawl; the others have their own schedules
            assert dg.AssetKey("analytics_views") in selected
            assert not any(graph.get(k).group_name == "evaluation" for k in selected)
            assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
        if schedule.name == "timm_daily_crawl":
            assert dg.AssetKey("catalog_models") in selected
    assert all(len(names) == 1 for names in scheduled.values()), scheduled


@pytest.fixture
def catalog_with_models(settings):
    con = warehouse.connect(settings)
    warehouse.apply_sql(con, "views")
    insert(
        con,
        "catalog.models",
        [
            model("local:digits-cnn", dataset="digits", has_safetensors=True),
            model("huggingface:lab/cifar-wrn", dataset="cifar10", has_safetensors=True),
            model(
                "timm:resnet18.a1_in1k",
                dataset="imagenet-1k",
                library="timm",
                weights_url="https://huggingface.co/timm/r",
            ),
            model(
                "securitynet:benchmark/mnist/lenet",
                dataset="mnist",
                weights_url="https://zenodo.org/records/1/files/lenet.pkl",
            ),
            model("kaggle:a/b/pyTorch/default", dataset=None, has_safetensors=True),
        ],
    )
    checked = datetime(2026, 12, 1, tzinfo=UTC)
    verdicts = {
        "local:digits-cnn": None,
        "huggingface:lab/cifar-wrn": None,
        "timm:resnet18.a1_in1k": "registry entry",
        "securitynet:benchmark/mnist/lenet": "published results only",
        "kaggle:a/b/pyTorch/default": "no dataset",
    }
    insert(
        con,
        "catalog.evaluability",
        [
            {"model_id": m, "evaluable": why is None, "reason": why, "checked_at": checked}
            for m, why in verdicts.items()
        ],
    )
    con.close()
    return settings


def test_sensor_adds_new_evaluable_models_and_requests_their_runs(catalog_with_models):
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"sn_lake": SnLake()})
        result = automation.new_evaluable_models(context)
        assert isinstance(result, dg.SensorResult)
        expected = ["huggingface:lab/cifar-wrn", "local:digits-cnn"]  # what catalog.evaluability refuses stays out
        assert [r.partition_key for r in result.run_requests] == expected
        assert [r.run_key for r in result.run_requests] == [f"evaluate:{m}" for m in expected]
        (request,) = result.dynamic_partitions_requests
        assert (request.partitions_def_name, list(request.partition_keys)) == (models_partitions.name, expected)

        # once the daemon has added them, the next tick has nothing new to ask for
        instance.add_dynamic_partitions(models_partitions.name, expected[:1])
        again = automation.new_evaluable_models(
            dg.build_sensor_context(instance=instance, resources={"sn_lake": SnLake()})
        )
        assert [r.partition_key for r in again.run_requests] == expected[1:]
        instance.add_dynamic_partitions(models_partitions.name, expected[1:])
        skipped = automation.new_evaluable_models(
            dg.build_sensor_context(instance=instance, resources={"sn_lake": SnLake()})
        )
        assert isinstance(skipped, dg.SkipReason) and "No new evaluable models" in skipped.skip_message


def test_sensor_caps_the_models_it_queues_per_tick(settings, monkeypatch):
    monkeypatch.setattr(automation, "MAX_NEW_MODELS_PER_TICK", 2)
    con = warehouse.connect(settings)
    warehouse.apply_sql(con, "views")
    insert(
        con,
        "catalog.models",
        [
            model(
                f"local:m{i}",
                source="local",
                dataset="digits",
                architecture="resnet18",
                library="timm",
                has_safetensors=True,
            )
            for i in range(5)
        ],
    )
    assert evaluability.build(settings, con) == 5  # the rule itself: timm architectures on digits are evaluable
    con.close()
    with dg.instance_for_test() as instance:
        result = automation.new_evaluable_models(
            dg.build_sensor_context(instance=instance, resources={"sn_lake": SnLake()})
        )
        assert [r.partition_key for r in result.run_requests] == ["local:m0", "local:m1"]


def test_sensor_skips_without_a_warehouse_or_while_a_writer_holds_it(settings):
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"sn_lake": SnLake()})
        missing = automation.new_evaluable_models(context)
        assert isinstance(missing, dg.SkipReason) and "sn-lake run" in missing.skip_message

        warehouse.connect(settings).close()
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(60)",
                str(settings.warehouse_path),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout.readline().strip() == "held"
            busy = automation.new_evaluable_models(
                dg.build_sensor_context(instance=instance, resources={"sn_lake": SnLake()})
            )
            assert isinstance(busy, dg.SkipReason) and "another process" in busy.skip_message
        finally:
            holder.kill()
            holder.wait()


def test_run_retries_are_on_in_the_instance_configuration(sn_home):
    with dg.DagsterInstance.get() as instance:  # DAGSTER_HOME holds a copy of dagster_home/dagster.yaml
        assert instance.run_retries_enabled
        assert instance.run_retries_max_retries == 2


def test_schedule_tick_requests_a_run(monkeypatch):
    monkeypatch.setenv("SN_LAKE_CRAWL_CRON_TIMM", "0 4 * * *")
    schedule = automation.crawl_schedule(raw_timm)
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 12, 1, 4, 0, tzinfo=UTC))
    data = schedule.evaluate_tick(context)
    assert len(data.run_requests) == 1


def test_sensor_targets_the_partitioned_evaluation_assets():
    from sn_lake.cli import load_definitions

    defs = load_definitions()
    repository = defs.get_repository_def()
    sensor = repository.get_sensor_def("new_evaluable_models")
    graph = defs.resolve_asset_graph()
    targeted = repository.get_job(sensor.job_name).asset_layer.executable_asset_keys
    assert targeted == {k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "evaluation"} != set()
    assert all(graph.get(k).partitions_def == models_partitions for k in targeted)


def test_results_are_loaded_once_a_model_was_evaluated_even_with_others_pending(sn_home):
    """The sensor's runs only evaluate; the loader follows by its automation condition, without
    waiting for the partitions of models not evaluated yet (or failed)."""
    from assets.evaluation import ASSETS_BY_FAMILY, results_tables

    defs = load_definitions()
    loader = results_tables.key
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions("models", ["local:a", "local:b"])
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert first.get_num_requested(loader) == 0  # nothing evaluated yet: nothing to load
        instance.report_runless_asset_event(
            dg.AssetMaterialization(ASSETS_BY_FAMILY["task_accuracy"], partition="local:a")
        )
        second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert second.get_num_requested(loader) == 1  # local:b is still missing, and the loader runs anyway
        third = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=second.cursor)
        assert third.get_num_requested(loader) == 0  # handled: not requested again until the next evaluation
