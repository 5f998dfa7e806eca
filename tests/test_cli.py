"""`sn-lake` as a user runs it: sql (read-only, three formats), status, and clear errors."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sn_lake import catalog, cli, config, warehouse
from sn_lake.sources.timm_registry import crawl as timm_registry

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


@pytest.mark.parametrize(
    "statement",
    ["DROP TABLE catalog.models", "INSERT INTO catalog.models (model_id) VALUES ('x')", "DELETE FROM catalog.models"],
)
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
    assert csv_lines[0] == "model_id,num_classes,first_seen_at" and csv_lines[1].startswith(
        "timm:resnet18.a1_in1k,1000,"
    )
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


def test_the_registry_is_the_one_list_of_crawls():
    """`sn-lake crawl`'s choices, the crawl assets, their daily schedules and catalog_models' inputs all follow the
    source registry (sn_lake.catalog.SOURCES, then the crawls that start from the catalog)."""
    import dagster as dg

    defs = cli.load_definitions()
    graph = defs.resolve_asset_graph()
    crawl_group = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).group_name == "crawl"}
    assert list(cli.CRAWL_ASSETS) == [*catalog.SOURCES, *catalog.ENRICHMENTS]
    assert set(cli.CRAWL_ASSETS.values()) == crawl_group
    assert {s.name for s in defs.schedules} == {f"{name}_daily_crawl" for name in cli.CRAWL_ASSETS}
    inputs = {p.to_user_string() for p in graph.get(dg.AssetKey("catalog_models")).parent_keys}
    assert inputs == {cli.CRAWL_ASSETS[name] for name in catalog.SOURCES}


def test_run_executes_the_code_locations_job_in_process_and_reports_each_run(sn_home, tmp_path, monkeypatch):
    """`sn-lake run --select` / `crawl` execute the code location's asset job (reconstructable from
    assets/definitions.py through Dagster's public build_reconstructable_job); the embedded profile's default executor
    runs its steps in the command's process."""
    import dagster as dg

    done = sn_lake("run", "--select", "key:raw_timm")
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"^materialized raw_timm: \{'crawl_id': ", done.stdout, re.MULTILINE), done.stdout
    (succeeded,) = re.findall(r"^run (\S+) succeeded \(see it with `sn-lake ui`\)$", done.stdout, re.MULTILINE)
    monkeypatch.setenv("SN_LAKE_SECURITYNET_URL", str(tmp_path / "no-such-table.md"))  # a configured source that fails
    failing = sn_lake("crawl", "securitynet", "--lake-only")
    assert failing.returncode == 1, failing.stderr[-3000:]
    (failed,) = re.findall(r"^run (\S+) FAILED \(see it with `sn-lake ui`\)$", failing.stdout, re.MULTILINE)

    with dg.DagsterInstance.from_config(os.environ["DAGSTER_HOME"]) as instance:
        runs = (
            (succeeded, dg.DagsterRunStatus.SUCCESS, "raw_timm"),
            (failed, dg.DagsterRunStatus.FAILURE, "raw_securitynet"),
        )
        for run_id, status, asset in runs:
            run = instance.get_run_by_id(run_id)
            assert (run.status, run.asset_selection) == (status, {dg.AssetKey(asset)})
            # dagster.build_reconstructable_job's pointer: the code location's job function, from the project root
            pointer = run.job_code_origin.repository_origin.code_pointer.reconstructor_pointer
            assert (pointer.module, pointer.fn_name) == (cli.CODE_LOCATION_MODULE, cli.CODE_LOCATION_JOB)
            assert pointer.working_directory == str(config.PROJECT_ROOT)
            cli.load_definitions()
            assert Path(sys.modules[pointer.module].__file__) == cli.CODE_LOCATION
            events = [e.dagster_event for e in instance.all_logs(run_id) if e.dagster_event]
            (executor,) = [
                e for e in events if e.event_type_value == "ENGINE_EVENT" and e.message.startswith("Executing steps")
            ]
            assert executor.message == f"Executing steps in process (pid: {executor.pid})", executor.message
            started = [e for e in events if e.event_type_value == "STEP_START"]
            assert started and {e.pid for e in started} == {executor.pid}


def test_evaluate_config_must_name_evaluation_assets_and_parse(capsys):
    for bad in ('{"eval_foo": {"config": {}}}', "{not yaml", "[1, 2]"):
        with pytest.raises(SystemExit):
            cli.build_parser().parse_args(["evaluate", "local:x", "--config", bad])
        assert "--config: expected" in capsys.readouterr().err
    args = cli.build_parser().parse_args(
        ["evaluate", "local:x", "--config", "eval_adversarial: {config: {n_samples: 5}}"]
    )
    assert args.config == {"eval_adversarial": {"config": {"n_samples": 5}}}


# --- hostile input and broken files: clear errors, never a traceback ---------------------------------------------


def sn_lake_bytes(*args: bytes | str) -> subprocess.CompletedProcess:
    """Arguments as raw bytes, the way a shell passes them (Python sees non-UTF-8 bytes as lone surrogates)."""
    return subprocess.run(
        [SN_LAKE.encode(), *(a if isinstance(a, bytes) else a.encode() for a in args)],
        capture_output=True,
        env=os.environ.copy(),
        timeout=120,
    )


def test_arguments_that_are_not_utf8_get_a_clear_error(sn_home):
    for args in ((b"sql", b"select '\xff\xfe'"), (b"search", b"--text", b"caf\xe9"), (b"evaluate", b"local:\xc3(")):
        result = sn_lake_bytes(*args)
        err = result.stderr.decode("utf-8", "replace")
        assert result.returncode == 2 and "Traceback" not in err, err
        assert (
            f"expected UTF-8 text in every argument, found bytes that are not UTF-8 in argument {len(args)}" in err
        ), err


def test_a_config_that_is_not_json_or_yaml_gets_a_clear_error(sn_home, tmp_path):
    binary = tmp_path / "config.json"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    folder = tmp_path / "a-folder"
    folder.mkdir()
    for bad in (str(binary), '{"eval_adversarial": {"config": ', "x" * 5000, "eval_adversarial: 5\x00"):
        result = sn_lake("evaluate", "local:x", "--config", bad) if "\x00" not in bad else None
        if result is None:  # a NUL cannot be an argument; the parser sees it from Python
            with pytest.raises(SystemExit):
                cli.build_parser().parse_args(["evaluate", "local:x", "--config", bad])
            continue
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert "--config: expected" in result.stderr, result.stderr
    result = sn_lake("evaluate", "local:x", "--config", str(folder))
    assert result.returncode == 2 and "--config: expected" in result.stderr and "Traceback" not in result.stderr


def test_evaluate_refuses_ids_the_catalog_does_not_hold_and_adds_no_partition(built):
    import dagster as dg

    result = sn_lake("evaluate", "huggingface:nobody/nothing", "timm:resnet18.a1_in1k", "--attacks", "accuracy")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert (
        "expected model ids that the catalog (or the lake) holds, found 1 it does not: "
        "'huggingface:nobody/nothing'; nothing was added or run" in result.stderr
    )
    with dg.DagsterInstance.from_config(os.environ["DAGSTER_HOME"]) as instance:
        assert instance.get_dynamic_partitions("models") == []
        assert instance.get_runs() == []


def test_evaluate_without_any_catalog_says_what_to_do(sn_home):
    result = sn_lake("evaluate", "local:digits-resnet-low")
    assert result.returncode == 2 and "nothing was added or run" in result.stderr and "Traceback" not in result.stderr


CORRUPT = {"not DuckDB": b"this is not a database\n" * 50, "empty": b""}


@pytest.mark.parametrize("kind", ["not DuckDB", "empty", "truncated"])
def test_a_corrupt_warehouse_is_reported_as_corrupt_with_what_to_do(built, kind):
    path = config.load().warehouse_path
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3] if kind == "truncated" else CORRUPT[kind])
    for args in (("status",), ("sql", "SELECT 1"), ("search", "--limit", "1")):
        result = sn_lake(*args)
        assert result.returncode != 0 and "Traceback" not in result.stderr, (args, result.stderr)
        assert "found a corrupt file" in result.stderr and f"mv {path} {path}.corrupt" in result.stderr, result.stderr
        assert "sn-lake run" in result.stderr and "another process" not in result.stderr, result.stderr
    with pytest.raises(warehouse.WarehouseCorrupt, match="rebuilds the warehouse from the lake"):
        warehouse.connect(config.load())  # the writer too, at once: no waiting for a lock nobody holds


def test_status_without_a_warehouse_or_with_a_broken_lake_file_shows_no_traceback(built):
    settings = config.load()
    settings.warehouse_path.unlink()
    result = sn_lake("status")
    assert result.returncode == 0 and "timm" in result.stdout and "no warehouse yet" in result.stdout, result.stderr
    (step,) = list((settings.lake_dir / "raw" / "timm").rglob("step-*.parquet"))[:1]
    step.write_bytes(step.read_bytes()[:100])  # cut short, as a full disk or a kill mid-write leaves it
    result = sn_lake("status")
    assert "Traceback" not in result.stderr and result.returncode in (0, 1), result.stderr
    assert result.returncode == 0 or f"{step} (parquet: " in result.stderr, result.stderr  # names the file
