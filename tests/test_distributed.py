"""The distributed profile on the real services of this machine (PostgreSQL on 5432, Redis on 6379):
Dagster storage in Postgres, steps on two dagster-celery workers, the warehouse as a DuckLake catalog
in Postgres with its data under the lake; the answers equal the embedded profile's (a DuckDB file
built from the same lake).

Each test gets its own Postgres database (Dagster storage), its own DuckLake metadata schema and an
empty Redis database of its own (broker and results), and drops or empties them afterwards, so
several sessions can run these tests at once.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg2
import pytest
import redis

from sn_lake import catalog, config, export, report, warehouse
from sn_lake.evaluate import zoo

pytestmark = pytest.mark.slow

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
REDIS_CLAIM = "sn_lake_test_claim"  # a test's key in the empty Redis database it takes for its broker
BIN = Path(sys.executable).parent
WAIT_S = 240  # a guard against a hung service, never what a test measures

# Relations holding when the quality checks ran (compared without those times below).
NOT_COMPARED = {"catalog.quality_runs", "catalog.quality_rules", "analytics.quality_report", "catalog.quarantine"}
# The tables whose checks ran in the distributed runs (catalog_models' and results_tables' checks).
CHECKED = (
    "catalog.models",
    "results.corruption",  # published results, refused by catalog_models and checked with it
    "results.distribution_shift",
    "results.task_accuracy",
    "results.model_stealing",
    "results.membership_inference",
    "results.adversarial",
    "results.backdoor_detection",
)


def _reachable(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def distributed(sn_home: Path, settings: config.Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Environment of the distributed profile over this test's own database, schema and Redis databases."""
    for port, service in ((5432, "PostgreSQL"), (6379, "Redis")):
        if not _reachable(port):
            pytest.fail(
                f"Expected {service} on 127.0.0.1:{port} (the machines here run it for every session), "
                "found nothing listening: start it."
            )
    suffix = uuid.uuid4().hex[:10]
    database, schema = f"sn_lake_dagster_{suffix}", f"sn_lake_{suffix}"
    admin = psycopg2.connect(**PG)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{database}"')
    broker, broker_db = claim_redis_database()
    dagster_home = tmp_path / "dagster_home_distributed"
    dagster_home.mkdir()
    shutil.copy(config.DAGSTER_HOME_DIR / "distributed" / "dagster.yaml", dagster_home / "dagster.yaml")  # as shipped
    env = {
        **os.environ,
        "SN_LAKE_PROFILE": "distributed",
        "SN_LAKE_HOME": str(sn_home),
        "DAGSTER_HOME": str(dagster_home),
        "SN_LAKE_DAGSTER_PG_URL": f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}",
        "SN_LAKE_DUCKLAKE_SCHEMA": schema,
        "SN_LAKE_CELERY_BROKER": f"redis://127.0.0.1:6379/{broker_db}",
        "SN_LAKE_CELERY_BACKEND": f"redis://127.0.0.1:6379/{broker_db}",
        "SN_LAKE_PROGRESS": "log",
        "PYTHONUNBUFFERED": "1",
    }
    monkeypatch.setenv(
        "SN_LAKE_DAGSTER_PG_URL", env["SN_LAKE_DAGSTER_PG_URL"]
    )  # for this process's view of the instance
    state = {
        "env": env,
        "dagster_home": dagster_home,
        "workers": [],
        "logs": tmp_path / "logs",
        "redis_db": broker_db,
        "settings": dataclasses.replace(settings, profile="distributed", ducklake_metadata_schema=schema),
    }
    state["logs"].mkdir()
    try:
        yield state
    finally:
        for worker in state["workers"]:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)  # Celery's warm shutdown
        for worker in state["workers"]:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.cursor().execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()
        broker.flushdb()  # this test's own database: it was empty when the test took it
        broker.close()


def claim_redis_database() -> tuple[redis.Redis, int]:
    """An empty Redis database (1-15) for this test alone, so tests running at once never share a queue."""
    token = uuid.uuid4().hex
    for db in sorted(range(1, 16), key=lambda _: uuid.uuid4().int):
        r = redis.Redis(host="127.0.0.1", port=6379, db=db)
        if r.set(REDIS_CLAIM, token, nx=True, ex=3600) and r.dbsize() == 1:
            return r, db
        if r.get(REDIS_CLAIM) == token.encode():
            r.delete(REDIS_CLAIM)  # someone else's keys are there
        r.close()
    pytest.fail(
        "Expected an empty Redis database among 1-15 for this test's Celery broker, found none: free one (FLUSHDB)."
    )


def start_worker(state: dict, name: str) -> None:
    log = (state["logs"] / f"{name}.log").open("w")
    state["workers"].append(
        subprocess.Popen(
            [str(BIN / "sn-lake"), "worker", "--name", name],
            env=state["env"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=config.PROJECT_ROOT,
        )
    )


def celery_app(state: dict):
    from celery import Celery

    return Celery(broker=state["env"]["SN_LAKE_CELERY_BROKER"], backend=state["env"]["SN_LAKE_CELERY_BACKEND"])


def wait_for_workers(state: dict, names: set[str]) -> set[str]:
    """The full names (name@host) of the workers, once all answer a ping."""
    app = celery_app(state)
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        for worker in state["workers"]:
            if worker.poll() is not None:
                pytest.fail(f"a Celery worker exited with {worker.returncode}: " + worker_logs(state))
        answered = {next(iter(reply)) for reply in app.control.ping(timeout=1.0)}
        if {a.split("@")[0] for a in answered} >= names:
            return answered
    pytest.fail(f"Expected Celery workers {sorted(names)} to answer within {WAIT_S} s: " + worker_logs(state))


def worker_logs(state: dict) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(state["logs"].glob("*.log")))


def launch(state: dict, select: str, partition: str | None = None, label: str = "") -> subprocess.Popen:
    """``dagster asset materialize`` of the code location, as a user (or the daemon) would launch it."""
    command = [str(BIN / "dagster"), "asset", "materialize", "-f", "assets/definitions.py", "--select", select]
    if partition:
        command += ["--partition", partition]
    log = (state["logs"] / f"run-{label or select.replace(',', '+')}.log").open("w")
    return subprocess.Popen(command, env=state["env"], stdout=log, stderr=subprocess.STDOUT, cwd=config.PROJECT_ROOT)


def finish(state: dict, *runs: subprocess.Popen) -> None:
    for run in runs:
        try:
            code = run.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            run.kill()
            pytest.fail(f"a run did not finish within {WAIT_S} s: " + worker_logs(state))
        if code != 0:
            pytest.fail(f"a distributed run failed ({code}): " + worker_logs(state))


def celery_steps(state: dict, run_ids: list[str] | None = None) -> dict[str, str | None]:
    """Step key (with partition) of every started step -> the Celery worker that executed it (None: no Celery worker
    did), from the Postgres event log; of the runs ``run_ids`` only, when given."""
    import dagster as dg

    steps = {}
    with dg.DagsterInstance.from_config(str(state["dagster_home"])) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        for run in instance.get_runs():
            if run_ids is not None and run.run_id not in run_ids:
                continue
            suffix = f"[{run.tags['dagster/partition']}]" if "dagster/partition" in run.tags else ""
            for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START):
                steps.setdefault(entry.step_key + suffix, None)
            for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
                metadata = entry.dagster_event.engine_event_data.metadata
                if "Celery worker" in metadata:
                    steps[entry.step_key + suffix] = metadata["Celery worker"].value
    return steps


def sn_lake_evaluate(state: dict, model_id: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """``sn-lake evaluate MODEL_ID --attacks accuracy`` as a user runs it with the profile's environment, and the ids
    of the runs it reported (its evaluation run, then the results loader and views)."""
    done = subprocess.run(
        [str(BIN / "sn-lake"), "evaluate", model_id, "--attacks", "accuracy"],
        env=state["env"],
        cwd=state["logs"],
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    (state["logs"] / "sn-lake-evaluate.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        output = done.stdout[-3000:] + done.stderr[-3000:]
        pytest.fail(f"`sn-lake evaluate {model_id}` exited with {done.returncode}:\n{output}" + worker_logs(state))
    return done, re.findall(r"^run (\S+) succeeded", done.stdout, re.MULTILINE)


def rows(con, relation: str) -> list[tuple]:
    return con.execute(f"SELECT * FROM {relation} ORDER BY ALL").fetchall()


def assert_same_relations(lake, file) -> None:
    """Every table and view of the DuckDB file holds the same rows in the DuckLake warehouse."""
    relations = [f"{schema}.{name}" for schema, name, _kind in export.relations(file)]
    assert len(relations) >= 20
    for relation in relations:
        assert_same_rows(rows(lake, relation), rows(file, relation), relation)


def assert_same_rows(got: list[tuple], expected: list[tuple], relation: str) -> None:
    assert len(got) == len(expected), relation
    for a, b in zip(got, expected, strict=True):
        assert a == tuple(pytest.approx(v, rel=1e-9, abs=1e-12) if isinstance(v, float) else v for v in b), relation


def test_ducklake_statements_leave_out_what_ducklake_cannot_store():
    table = (
        "CREATE TABLE IF NOT EXISTS a.b (\n  id VARCHAR PRIMARY KEY, -- the key\n  x INT NOT NULL,\n  UNIQUE (x),\n"
        "  PRIMARY KEY (id, x)\n)"
    )
    stripped = warehouse._without_key_constraints(table)
    assert "PRIMARY" not in stripped and "UNIQUE" not in stripped and "NOT NULL" in stripped
    assert duckdb_parses(stripped)
    view = "CREATE OR REPLACE VIEW v AS SELECT 1 AS unique_models -- PRIMARY KEY in a comment"
    assert warehouse._without_key_constraints(view) == view  # only tables are touched
    assert warehouse._creates_macro("-- note\nCREATE OR REPLACE MACRO analytics.f(x) AS x + 1")
    assert not warehouse._creates_macro("CREATE VIEW v AS SELECT 'CREATE MACRO' AS s -- CREATE MACRO")


def test_settings_and_errors_never_show_passwords(monkeypatch: pytest.MonkeyPatch, sn_home: Path):
    monkeypatch.setenv("SN_LAKE_PROFILE", "distributed")
    monkeypatch.setenv(
        "SN_LAKE_DUCKLAKE_CATALOG", "postgres:dbname=nowhere host=127.0.0.1 port=1 user=u password=s3cret"
    )
    monkeypatch.setenv("SN_LAKE_CELERY_BROKER", "redis://:hunter2@127.0.0.1:6379/0")
    settings = config.load()
    assert "s3cret" not in repr(settings) and "hunter2" not in repr(settings) and "password=***" in repr(settings)
    with pytest.raises(warehouse.WarehouseError) as failed:
        warehouse.connect(settings, read_only=True)  # nothing listens on port 1
    assert "s3cret" not in str(failed.value) and "Could not attach the DuckLake warehouse" in str(failed.value)
    monkeypatch.setenv("SN_LAKE_PROFILE", "cluster")
    with pytest.raises(
        ValueError, match="SN_LAKE_PROFILE must be one of \\['distributed', 'embedded'\\], found 'cluster'"
    ):
        config.load()


def test_s3_data_path_takes_its_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    import duckdb

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    for var in ("AWS_ENDPOINT_URL_S3", "SN_LAKE_S3_URL_STYLE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.execute(f"LOAD '{warehouse._extension_dir() / 'httpfs.duckdb_extension'}'")
    warehouse._s3_secret_from_environment(con)
    name, kind, persistent, scope, shown = con.execute(
        "SELECT name, type, persistent, scope, secret_string FROM duckdb_secrets()"
    ).fetchone()
    assert (name, kind, persistent, scope) == ("sn_lake_s3", "s3", False, ["s3://", "s3n://", "s3a://"])
    assert "not-a-real-secret" not in shown and "region=eu-west-1" in shown and "endpoint=127.0.0.1:9000" in shown
    assert "url_style=path" in shown and "use_ssl=false" in shown


KEYS_SHOWN = "key_id=AKIAEXAMPLE;secret=redacted;session_token=redacted;"  # how duckdb_secrets() lists the keys below


@pytest.mark.parametrize(
    ("endpoint", "style", "shown"),
    [
        ("http://127.0.0.1:9000", None, f"endpoint=127.0.0.1:9000;{KEYS_SHOWN}url_style=path;use_ssl=false"),
        (
            "https://s3.eu-west-1.amazonaws.com/",
            None,
            f"endpoint=s3.eu-west-1.amazonaws.com;{KEYS_SHOWN}url_style=vhost;use_ssl=true",
        ),
        (
            "https://objects.example.org",
            "VHOST",
            f"endpoint=objects.example.org;{KEYS_SHOWN}url_style=vhost;use_ssl=true",
        ),
        ("minio.internal:9000", None, f"endpoint=minio.internal:9000;{KEYS_SHOWN}url_style=path;use_ssl=true"),
        (None, "path", f"{KEYS_SHOWN}url_style=path"),
    ],
)
def test_s3_secret_takes_tls_and_url_style_from_the_endpoint(
    monkeypatch: pytest.MonkeyPatch, endpoint: str | None, style: str | None, shown: str
):
    import duckdb

    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION", "SN_LAKE_S3_URL_STYLE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "not-a-real-token")
    if endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)  # the S3-only variable wins over AWS_ENDPOINT_URL
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://elsewhere:1")
    if style:
        monkeypatch.setenv("SN_LAKE_S3_URL_STYLE", style)
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    with pytest.raises(warehouse.WarehouseError, match="Could not create the DuckDB S3 secret") as failed:
        warehouse._s3_secret_from_environment(con)  # httpfs not loaded yet: DuckDB knows no s3 secrets
    assert "not-a-real" not in str(failed.value)
    con.execute(f"LOAD '{warehouse._extension_dir() / 'httpfs.duckdb_extension'}'")
    warehouse._s3_secret_from_environment(con)
    listed = con.execute("SELECT secret_string FROM duckdb_secrets()").fetchone()[0]
    assert listed.split("scope=s3://,s3n://,s3a://;")[1] == shown
    monkeypatch.setenv("SN_LAKE_S3_URL_STYLE", "virtual")
    with pytest.raises(
        warehouse.WarehouseError, match="SN_LAKE_S3_URL_STYLE must be 'path' or 'vhost' .*, found 'virtual'"
    ):
        warehouse._s3_secret_from_environment(con)


def test_the_profile_picks_the_dagster_instance(monkeypatch: pytest.MonkeyPatch, sn_home: Path, capsys):
    from sn_lake import cli

    monkeypatch.setenv("SN_LAKE_PROFILE", "distributed")
    monkeypatch.setenv("DAGSTER_HOME", str(config.DAGSTER_HOME_DIR))  # what `make` exports
    monkeypatch.setenv("SN_LAKE_DAGSTER_PG_URL", "")
    monkeypatch.delenv("SN_LAKE_DAGSTER_PG_URL")
    assert cli._dagster_home() == str(config.DAGSTER_HOME_DIR / "distributed")
    assert os.environ["SN_LAKE_DAGSTER_PG_URL"] == config.DEFAULT_DAGSTER_PG_URL
    monkeypatch.setenv("SN_LAKE_PROFILE", "embedded")
    monkeypatch.delenv("DAGSTER_HOME")
    assert cli._dagster_home() == str(config.DAGSTER_HOME_DIR)
    assert cli.main(["worker"]) == 2
    assert "set SN_LAKE_PROFILE=distributed" in capsys.readouterr().err


def duckdb_parses(sql: str) -> bool:
    import duckdb

    return len(duckdb.extract_statements(sql)) == 1


@pytest.fixture
def ducklake_settings(settings: config.Settings):
    """Settings of a DuckLake warehouse in this test's own Postgres schema, dropped afterwards."""
    if not _reachable(5432):
        pytest.fail(
            "Expected PostgreSQL on 127.0.0.1:5432 (the machines here run it for every session), "
            "found nothing listening: start it."
        )
    schema = f"sn_lake_{uuid.uuid4().hex[:10]}"
    yield dataclasses.replace(settings, profile="distributed", ducklake_metadata_schema=schema)
    admin = psycopg2.connect(**PG)
    admin.autocommit = True
    # a DuckLake connection a failed test left open holds locks on the schema: fail the drop rather than wait forever
    admin.cursor().execute("SET lock_timeout = '30s'")
    admin.cursor().execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    admin.close()


def test_ducklake_warehouse_answers_like_the_file(ducklake_settings: config.Settings, settings: config.Settings):
    from tests import report_warehouse

    assert not warehouse.exists(ducklake_settings)
    with pytest.raises(warehouse.WarehouseError, match="Could not attach the DuckLake warehouse"):
        warehouse.connect(ducklake_settings, read_only=True)
    lake = warehouse.connect(ducklake_settings)
    file = warehouse.connect(settings)
    for con in (lake, file):
        report_warehouse.fill(con)  # the same hand-made rows, then the views (with their macros)
    lake.close()
    assert warehouse.exists(ducklake_settings)
    lake = warehouse.connect(ducklake_settings, read_only=True)
    assert warehouse.is_ducklake(lake) and not warehouse.is_ducklake(file)
    assert list((settings.lake_dir / "warehouse").rglob("*.parquet")), "DuckLake wrote no data files under the lake"
    assert_same_relations(lake, file)
    assert (
        lake.execute("SELECT count(*) FROM analytics.backdoor_detection WHERE fpr_ci_low IS NOT NULL").fetchone()[0]
        == 4
    )
    with pytest.raises(Exception, match="read-only"):
        lake.execute("DELETE FROM catalog.models")
    # the report and the export read a DuckLake warehouse as they read the file
    groups = lambda figures: {(f.file, g["panel"], g["series"]): (g["n"], g["r"]) for f in figures for g in f.groups}  # noqa: E731
    drawn, expected = (
        groups(report.build(lake, settings.home / "report")),
        groups(report.build(file, settings.home / "report-file")),
    )
    assert drawn.keys() == expected.keys()
    for key, (n, r) in expected.items():
        assert drawn[key][0] == n and drawn[key][1] == (None if r is None else pytest.approx(r)), key
    card = export.export(lake, settings.home / "export")
    assert {e["relation"]: e["rows"] for e in card["relations"]} == {
        e["relation"]: e["rows"] for e in export.export(file, settings.home / "export-file")["relations"]
    }
    assert lake.execute("SELECT count(*) FROM catalog.models").fetchone()[0] == 8
    lake.close()
    file.close()


@pytest.fixture
def s3_bucket(monkeypatch: pytest.MonkeyPatch):
    """A real S3 protocol server (moto) on a free loopback port, one bucket, and a user's keys to it in ``AWS_*``.

    Once the bucket exists the server checks every request's signature and the user's policy, so only
    requests signed with those keys get through.
    """
    import boto3
    import httpx
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = "http://{}:{}".format(*server.get_host_and_port())
    bucket = f"sn-lake-{uuid.uuid4().hex[:10]}"
    try:
        admin = {
            "endpoint_url": endpoint,
            "region_name": "us-east-1",
            "aws_access_key_id": "admin",
            "aws_secret_access_key": "admin",
        }
        boto3.client("s3", **admin).create_bucket(Bucket=bucket)
        iam = boto3.client("iam", **admin)
        iam.create_user(UserName="sn-lake")
        iam.put_user_policy(
            UserName="sn-lake",
            PolicyName="bucket",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "s3:*",
                            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                        }
                    ],
                }
            ),
        )
        key = iam.create_access_key(UserName="sn-lake")["AccessKey"]
        httpx.post(
            f"{endpoint}/moto-api/reset-auth", content=b"0"
        ).raise_for_status()  # from now on: signed requests only
        for var in (
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL_S3",
            "AWS_DEFAULT_REGION",
            "SN_LAKE_S3_URL_STYLE",
            "AWS_PROFILE",
        ):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        yield {"bucket": bucket, "endpoint": endpoint, "secret": key["SecretAccessKey"], "s3": s3}
    finally:  # moto keeps its state in this process: back to no checks and no buckets
        httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"inf")
        httpx.post(f"{endpoint}/moto-api/reset")
        server.stop()


def test_ducklake_warehouse_keeps_its_data_files_on_s3(
    s3_bucket: dict, ducklake_settings: config.Settings, settings: config.Settings, monkeypatch: pytest.MonkeyPatch
):
    import duckdb

    from tests import report_warehouse

    bucket, secret, s3 = s3_bucket["bucket"], s3_bucket["secret"], s3_bucket["s3"]
    monkeypatch.setenv("SN_LAKE_DUCKLAKE_DATA_PATH", f"s3://{bucket}/warehouse")
    schema = ducklake_settings.ducklake_metadata_schema
    lake_settings = dataclasses.replace(config.load(), profile="distributed", ducklake_metadata_schema=schema)
    assert lake_settings.warehouse_data_path == f"s3://{bucket}/warehouse/"
    assert secret not in repr(lake_settings)
    # every connection closes even when an assertion fails: an open DuckLake connection would block the schema's DROP
    with warehouse.connect(lake_settings) as lake:
        report_warehouse.fill(lake)
        listed = lake.execute("SELECT secret_string FROM duckdb_secrets() WHERE name = 'sn_lake_s3'").fetchone()[0]
    assert secret not in listed and "secret=redacted" in listed
    assert (
        f"endpoint={s3_bucket['endpoint'].removeprefix('http://')};" in listed
        and "url_style=path;use_ssl=false" in listed
    )

    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
    ]
    assert keys and all(k.startswith("warehouse/") and k.endswith(".parquet") for k in keys), keys
    assert not list((settings.lake_dir / "warehouse").rglob("*.parquet")), (
        "DuckLake wrote data files under the lake, not on S3"
    )
    with warehouse.connect(lake_settings, read_only=True) as lake, warehouse.connect(settings) as file:
        report_warehouse.fill(file)
        files = {
            r[0]
            for r in lake.execute(
                f"SELECT data_file FROM ducklake_list_files('{warehouse.DUCKLAKE_ALIAS}', 'models', "
                "schema => 'catalog')"
            ).fetchall()
        }
        assert files and files <= {f"s3://{bucket}/{k}" for k in keys}, (
            files,
            keys,
        )  # the catalog's rows are read from those objects
        assert_same_relations(lake, file)
        assert lake.execute("SELECT count(*) FROM catalog.models").fetchone()[0] == 8

    # the server refuses a wrong secret, and what DuckDB says then names neither secret
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-" + secret[::-1])
    with warehouse.connect(lake_settings, read_only=True) as lake:  # attaching reads only the catalog in PostgreSQL
        with pytest.raises(duckdb.Error) as refused:
            lake.execute("SELECT count(*) FROM catalog.models").fetchone()
    assert "403" in str(refused.value), str(refused.value)
    assert secret not in str(refused.value) and secret[::-1] not in str(refused.value)


def queued_steps(state: dict) -> int:
    """Celery messages waiting in the broker (kombu's Redis transport keeps one list per priority step)."""
    broker = redis.Redis(host="127.0.0.1", port=6379, db=state["redis_db"])
    try:
        return sum(broker.llen(key) for key in broker.keys("dagster*") if broker.type(key) == b"list")
    finally:
        broker.close()


def wait_until(condition, what: str, state: dict) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"Expected {what} within {WAIT_S} s: " + worker_logs(state))
        time.sleep(0.5)


def busy(app, worker: str) -> bool:
    """Whether ``worker`` is executing a step (its main thread answers while a step runs in a thread)."""
    return any((app.control.inspect(destination=[worker], timeout=1.0).active() or {}).get(worker, []))


def evaluate_on_two_workers(state: dict, model_ids: list[str], workers: list[str]) -> None:
    """Both partitions' runs submit their step before any worker takes one; then each worker takes one.

    The workers stop consuming, both runs are launched and their steps wait in the broker; the first
    worker resumes and takes one step, stops consuming again, and the second worker takes the other;
    so both evaluations are in flight at once, on two workers, whatever the machine's speed.
    """
    app = celery_app(state)
    app.control.cancel_consumer("dagster", destination=workers, reply=True, timeout=5.0)
    runs = [launch(state, "eval_task_accuracy", partition=m, label=f"eval-{i}") for i, m in enumerate(model_ids)]
    wait_until(
        lambda: queued_steps(state) == 2 or any(r.poll() is not None for r in runs),
        "both evaluation steps queued",
        state,
    )
    for run in runs:
        if run.poll() is not None:
            pytest.fail(
                f"an evaluation run ended before a worker took its step ({run.returncode}): " + worker_logs(state)
            )
    first, second = workers
    app.control.add_consumer("dagster", destination=[first], reply=True, timeout=5.0)
    wait_until(lambda: busy(app, first), f"{first} to take a step", state)
    app.control.cancel_consumer("dagster", destination=[first], reply=True, timeout=5.0)
    app.control.add_consumer("dagster", destination=[second], reply=True, timeout=5.0)
    finish(state, *runs)
    app.control.add_consumer("dagster", destination=[first], reply=True, timeout=5.0)


# Three zoo-format models trained briefly (2 epochs on 60 digits): this test checks where and how the
# work runs and that both profiles answer alike, not how good the models are. The first two are
# evaluated at once on two workers, the third by `sn-lake evaluate`.
SPECS = (
    zoo.ZooSpec("dist-resnet", "resnet18", 60, 2, 0.0, seed=11),
    zoo.ZooSpec("dist-convnext", "convnext_atto", 60, 2, 0.0, seed=12),
    zoo.ZooSpec("dist-resnet-cli", "resnet18", 60, 2, 0.0, seed=13),
)
EVALUATED = tuple(spec.name for spec in SPECS)


@pytest.fixture
def three_zoo_models(settings: config.Settings) -> config.Settings:
    """Settings whose ``$SN_LAKE_HOME/zoo`` holds three small trained models in the zoo's Hub format."""
    from sn_lake.evaluate import data

    splits = data.digits()
    for spec in SPECS:
        classifier, metrics = zoo.train_model(spec, splits)
        zoo.write_repo(settings.home / "zoo" / spec.name, spec, classifier, metrics)
    return settings


def test_distributed_profile_matches_the_embedded_one(distributed, three_zoo_models: config.Settings):
    import dagster as dg

    from sn_lake.evaluate import results
    from sn_lake.quality import validate
    from sn_lake.sources.local import crawl as local

    state, settings = distributed, three_zoo_models
    t0 = time.monotonic()
    start_worker(state, "w1")
    start_worker(state, "w2")
    # The two zoo models go into the lake by the library's local crawl (raw_local would train the
    # whole zoo, which this test does not need).
    local.crawl(settings)
    crawl = launch(state, "raw_timm,catalog_models", label="crawl-catalog")  # queued until a worker is up
    workers = sorted(wait_for_workers(state, {"w1", "w2"}))
    print(f"[{time.monotonic() - t0:.0f} s] workers up")
    finish(state, crawl)
    print(f"[{time.monotonic() - t0:.0f} s] crawl and catalog done")

    model_ids = [f"local:{name}" for name in EVALUATED[:2]]
    with dg.DagsterInstance.from_config(str(state["dagster_home"])) as instance:
        instance.add_dynamic_partitions("models", model_ids)
        # The gpu pool's row, with dagster.yaml's default limit, as its first step would create it: two
        # runs that create it at the same moment race in Dagster's Postgres storage (UniqueViolation).
        instance.event_log_storage.initialize_concurrency_limit_to_default("gpu")
    evaluate_on_two_workers(state, model_ids, workers)
    print(f"[{time.monotonic() - t0:.0f} s] two evaluations done")
    # The command line: `sn-lake evaluate` adds the partition, evaluates it, then loads the results and applies the
    # views, each run's steps on the Celery workers (not in the command's own process).
    cli_model = f"local:{EVALUATED[2]}"
    evaluated, cli_runs = sn_lake_evaluate(state, cli_model)
    assert len(cli_runs) == 2, evaluated.stdout
    assert (
        "materialized eval_task_accuracy: {" in evaluated.stdout
        and "materialized analytics_views: {" in evaluated.stdout
    )
    print(f"[{time.monotonic() - t0:.0f} s] sn-lake evaluate, results and views done")

    cli_steps = celery_steps(state, cli_runs)
    assert {f"evaluate_model[{cli_model}]", "results_tables", "analytics_views"} <= set(cli_steps), cli_steps
    assert set(cli_steps.values()) <= set(workers), (
        f"`sn-lake evaluate` steps ran outside the Celery workers {workers}: {cli_steps}"
    )
    steps = celery_steps(state)
    assert {"raw_timm", "catalog_models", "results_tables", "analytics_views"} <= set(steps), steps
    assert set(steps.values()) <= set(workers), steps
    evaluated_by = {steps[f"evaluate_model[{m}]"] for m in model_ids}
    assert evaluated_by == set(workers), f"the two partitions ran on {evaluated_by}, expected one on each of {workers}"

    # The embedded profile: a DuckDB file built by the same library from the same lake.
    assert settings.profile == "embedded"
    embedded = warehouse.connect(settings)
    catalog.build_models(settings, embedded)
    validate.check_table(embedded, "catalog.models")
    results.load_into_warehouse(settings, embedded)
    for table in CHECKED[1:]:
        validate.check_table(embedded, table)
    warehouse.apply_sql(embedded, "views")
    print(f"[{time.monotonic() - t0:.0f} s] embedded built")

    lake = warehouse.connect(state["settings"], read_only=True)
    assert warehouse.is_ducklake(lake) and not warehouse.is_ducklake(embedded)
    assert list((settings.lake_dir / "warehouse").rglob("*.parquet")), "DuckLake wrote no data files under the lake"
    compared = []
    for schema, name, _kind in export.relations(embedded):
        relation = f"{schema}.{name}"
        if relation in NOT_COMPARED:
            continue
        assert_same_rows(rows(lake, relation), rows(embedded, relation), relation)
        compared.append(relation)
    checked = "(SELECT DISTINCT table_name FROM catalog.quality_runs)"
    assert rows(lake, checked) == rows(embedded, checked) == sorted((t,) for t in CHECKED)
    for relation in ("catalog.quarantine", "catalog.quality_runs"):  # what the checks found, without when
        columns = ", ".join(
            c
            for (c,) in embedded.execute(
                f"SELECT column_name FROM (DESCRIBE {relation}) WHERE column_name NOT IN ('detected_at', 'checked_at')"
            ).fetchall()
        )
        assert_same_rows(
            rows(lake, f"(SELECT {columns} FROM {relation})"),
            rows(embedded, f"(SELECT {columns} FROM {relation})"),
            relation,
        )
    print(f"[{time.monotonic() - t0:.0f} s] compared {len(compared)} relations")
    assert {"catalog.models", "raw.crawls", "results.task_accuracy", "analytics.catalog_summary"} <= set(compared)
    assert sorted(r[0] for r in lake.execute("SELECT model_id FROM results.task_accuracy").fetchall()) == sorted(
        [*model_ids, cli_model]
    )
    n_models = lake.execute("SELECT count(*) FROM catalog.models").fetchone()[0]
    assert n_models > 1000  # timm's registry and the zoo
    assert lake.execute("SELECT sum(n_evaluated) FROM analytics.catalog_summary").fetchone()[0] == 3
    lake.close()
    embedded.close()
