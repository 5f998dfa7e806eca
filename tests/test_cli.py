"""`sn-lake` as a user runs it: sql (read-only, three formats), status, and clear errors."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sn_lake import catalog, cli, config, warehouse
from sn_lake.sources import timm_registry

SN_LAKE = str(Path(sys.executable).with_name("sn-lake"))


@pytest.fixture
def built(sn_home):
    settings = config.load()
    timm_registry.crawl(settings)
    con = warehouse.connect(settings)
    catalog.build_models(settings, con)
    warehouse.apply_sql(con, "views")
    con.close()
    return sn_home


def sn_lake(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SN_LAKE, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=120)


def models_count_json() -> subprocess.CompletedProcess:
    return sn_lake("sql", "SELECT count(*) AS n FROM catalog.models", "--format", "json")


@pytest.mark.parametrize("statement", ["DROP TABLE catalog.models", "INSERT INTO catalog.models (model_id) VALUES ('x')", "DELETE FROM catalog.models"])
def test_sql_refuses_writes_and_changes_nothing(built, statement):
    before = json.loads(models_count_json().stdout)
    result = sn_lake("sql", statement)
    assert result.returncode != 0
    assert "read-only" in result.stderr
    assert json.loads(models_count_json().stdout) == before and before[0]["n"] > 1500


def test_sql_formats(built):
    query = "SELECT model_id, num_classes, first_seen_at FROM catalog.models WHERE model_id = 'timm:resnet18.a1_in1k'"
    rows = json.loads(sn_lake("sql", query, "--format", "json").stdout)
    assert rows[0]["model_id"] == "timm:resnet18.a1_in1k" and rows[0]["num_classes"] == 1000
    csv_lines = sn_lake("sql", query, "--format", "csv").stdout.splitlines()
    assert csv_lines[0] == "model_id,num_classes,first_seen_at" and csv_lines[1].startswith("timm:resnet18.a1_in1k,1000,")
    table = sn_lake("sql", query).stdout
    assert "timm:resnet18.a1_in1k" in table and "(1 row)" in table


def test_sql_without_a_warehouse_says_what_to_do(sn_home):
    result = sn_lake("sql", "SELECT 1")
    assert result.returncode == 2 and "sn-lake run" in result.stderr


def test_status_lists_sources_and_last_crawl(built):
    result = sn_lake("status")
    assert result.returncode == 0
    assert "timm" in result.stdout and "last_crawl_id" in result.stdout


def test_crawl_rejects_unknown_source(sn_home):
    result = sn_lake("crawl", "nowhere")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_run_executes_the_code_locations_job_in_process_and_reports_each_run(sn_home, tmp_path, monkeypatch):
    """`sn-lake run --select` / `crawl` execute the code location's asset job (reconstructable from assets/definitions.py, as
    `dagster asset materialize -f` does); the embedded profile's default executor runs its steps in the command's process."""
    import dagster as dg

    done = sn_lake("run", "--select", "key:raw_timm")
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"^materialized raw_timm: \{'crawl_id': ", done.stdout, re.MULTILINE), done.stdout
    (succeeded,) = re.findall(r"^run (\S+) succeeded \(see it with `sn-lake ui`\)$", done.stdout, re.MULTILINE)
    monkeypatch.setenv("SN_LAKE_SECURITYNET_URL", str(tmp_path / "no-such-table.md"))  # a configured source that fails
    failing = sn_lake("crawl", "securitynet")
    assert failing.returncode == 1, failing.stderr[-3000:]
    (failed,) = re.findall(r"^run (\S+) FAILED \(see it with `sn-lake ui`\)$", failing.stdout, re.MULTILINE)

    with dg.DagsterInstance.from_config(os.environ["DAGSTER_HOME"]) as instance:
        runs = ((succeeded, dg.DagsterRunStatus.SUCCESS, "raw_timm"), (failed, dg.DagsterRunStatus.FAILURE, "raw_securitynet"))
        for run_id, status, asset in runs:
            run = instance.get_run_by_id(run_id)
            assert (run.status, run.asset_selection) == (status, {dg.AssetKey(asset)})
            pointer = run.job_code_origin.repository_origin.code_pointer
            assert (Path(pointer.python_file), pointer.working_directory) == (cli.CODE_LOCATION, str(config.PROJECT_ROOT))
            events = [e.dagster_event for e in instance.all_logs(run_id) if e.dagster_event]
            (executor,) = [e for e in events if e.event_type_value == "ENGINE_EVENT" and e.message.startswith("Executing steps")]
            assert executor.message == f"Executing steps in process (pid: {executor.pid})", executor.message
            started = [e for e in events if e.event_type_value == "STEP_START"]
            assert started and {e.pid for e in started} == {executor.pid}


def test_evaluate_config_must_name_evaluation_assets_and_parse(capsys):
    for bad in ('{"eval_foo": {"config": {}}}', "{not yaml", "[1, 2]"):
        with pytest.raises(SystemExit):
            cli.build_parser().parse_args(["evaluate", "local:x", "--config", bad])
        assert "--config: expected" in capsys.readouterr().err
    args = cli.build_parser().parse_args(["evaluate", "local:x", "--config", "eval_adversarial: {config: {n_samples: 5}}"])
    assert args.config == {"eval_adversarial": {"config": {"n_samples": 5}}}
