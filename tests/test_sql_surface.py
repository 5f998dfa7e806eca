"""`sn-lake sql` as a curious (or hostile) user meets it: one read statement per call, on a connection that can
reach no file but the warehouse, no URL, no extension and no setting. Every refusal is one line with exit code 2,
the warehouse's bytes stay the same and no file appears anywhere under the test's folder."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import duckdb
import polars as pl
import pytest

from sn_lake import catalog, cli, config, warehouse
from sn_lake.sources.timm_registry import crawl as timm_registry

SN_LAKE = str(Path(sys.executable).with_name("sn-lake"))
MARKER = "sn-lake-outside-marker-7f3a"  # in a Parquet file outside the warehouse: never printed


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """A timm catalog with the views (macros included), and a Parquet file outside SN_LAKE_HOME."""
    root = tmp_path_factory.mktemp("sql_surface")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SN_LAKE_HOME", str(root / "home"))
        mp.delenv("SN_LAKE_PROFILE", raising=False)
        settings = config.load()
    timm_registry.crawl(settings)
    con = warehouse.connect(settings)
    catalog.build_models(settings, con)
    warehouse.apply_sql(con, "views")
    con.close()
    outside = root / "outside.parquet"
    pl.DataFrame({"secret": [MARKER]}).write_parquet(outside)
    return {"root": root, "settings": settings, "outside": outside}


@pytest.fixture
def env(built, monkeypatch):
    monkeypatch.setenv("SN_LAKE_HOME", str(built["settings"].home))
    monkeypatch.delenv("SN_LAKE_PROFILE", raising=False)
    return built


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def run_sql(capsys, query: str, *extra: str) -> tuple[int, str, str]:
    code = cli.main(["sql", query, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def hostile_statements(root: Path, warehouse_path: Path, outside: Path) -> dict[str, str]:
    return {
        "copy onto the warehouse": f"copy (select 'x' as a) to '{warehouse_path}'",
        "copy to another file": f"copy (select 1 as a) to '{root / 'out.csv'}'",
        "copy a table as parquet": f"copy catalog.models to '{root / 'models.parquet'}' (format parquet)",
        "export database": f"export database '{root / 'exported'}'",
        "attach read-write": f"attach '{root / 'other.duckdb'}' as other (READ_WRITE)",
        "attach then write": f"attach '{root / 'other.duckdb'}' as other; create table other.t as select 1 as a",
        "read_csv of /etc/passwd": "select * from read_csv('/etc/passwd')",
        "read_text of /etc/passwd": "select * from read_text('/etc/passwd')",
        "read_blob": "select * from read_blob('/etc/hostname')",
        "read_parquet outside": f"select * from read_parquet('{outside}')",
        "replacement scan of a path": f"select * from '{outside}'",
        "glob": "select * from glob('/etc/*')",
        "a URL": "select * from read_csv('https://127.0.0.1:1/x.csv')",
        "install": "install httpfs",
        "load": "load httpfs",
        "set": "set threads = 1",
        "set external access back on": "set enable_external_access = true",
        "pragma that sets": f"pragma profiling_output = '{root / 'profile.json'}'",
        "a second statement after a select": "select 1; drop table catalog.models",
        "drop": "drop table catalog.models",
        "insert": "insert into catalog.models (model_id, source, name) values ('x:y', 'x', 'y')",
        "update": "update catalog.models set name = 'pwned'",
        "delete": "delete from catalog.models",
        "create": "create table main.t as select 1 as a",
        "create macro": "create macro main.m(x) as x",
        "checkpoint": "checkpoint",
        "query() around a drop": "select * from query('drop table catalog.models')",
        "nothing": "  ;  ",
    }


def test_every_hostile_statement_is_refused_and_changes_nothing(env, capsys):
    root, path = env["root"], env["settings"].warehouse_path
    before, files_before = digest(path), files_under(root)
    n_models = run_sql(capsys, "select count(*) as n from catalog.models", "--format", "csv")[1]
    for name, statement in hostile_statements(root, path, env["outside"]).items():
        code, out, err = run_sql(capsys, statement)
        assert code == 2, (name, out, err)
        assert err.startswith("sn-lake sql: ") and MARKER not in out + err and "root:" not in out, (name, err)
        if "LINE 1" not in err:  # refusals are one sentence; DuckDB's own errors point at the text
            assert len(err.strip().splitlines()) == 1, (name, err)
        assert digest(path) == before, name
        assert files_under(root) == files_before, (name, files_under(root) - files_before)
    assert run_sql(capsys, "select count(*) as n from catalog.models", "--format", "csv")[1] == n_models


@pytest.mark.parametrize(
    "statement, expected",
    [
        ("drop table catalog.models", "found a statement of type DROP"),
        ("select 1; drop table catalog.models", "found 2 (SELECT, DROP)"),
        ("set threads = 1", "found a statement of type SET"),
        ("select * from read_csv('/etc/passwd')", "no files, URLs or extensions"),
    ],
)
def test_refusals_say_what_was_expected_and_found(env, capsys, statement, expected):
    code, _, err = run_sql(capsys, statement)
    assert code == 2 and expected in err, err


def test_reads_keep_working_views_and_macros_included(env, capsys):
    reads = {
        "select count(*) as n from catalog.models where source = 'timm'": "n",
        "with t as (select model_id from catalog.models) select count(*) as n from t": "n",
        "from catalog.models select count(*) as n": "n",
        "select * from analytics.catalog_summary": "n_models",  # a view over the macros of 00_macros.sql
        "select analytics.wilson_low(5, 10) as w": "w",
        "describe catalog.models": "column_name",
        "summarize select 1 as a": "column_name",
        "select current_setting('enable_external_access') as e": "e",
    }
    for query, column in reads.items():
        code, out, err = run_sql(capsys, query, "--format", "csv")
        assert code == 0, (query, err)
        assert column in out.splitlines()[0].split(","), (query, out[:200])
    assert run_sql(capsys, "select current_setting('enable_external_access') as e", "--format", "csv")[1].split() == [
        "e",
        "False",
    ]
    code, out, _ = run_sql(capsys, "select count(*) as n from catalog.models where source = 'timm'", "--format", "csv")
    assert int(out.split()[1]) > 1500


def test_the_query_connection_refuses_files_even_past_the_statement_check(env):
    """connect_for_queries alone (no read_query) stops COPY, ATTACH and file readers: the defences are independent."""
    path, root = env["settings"].warehouse_path, env["root"]
    before, files_before = digest(path), files_under(root)
    con = warehouse.connect_for_queries(env["settings"])
    try:
        for statement in (
            f"copy (select 'x' as a) to '{path}'",
            f"attach '{root / 'o.duckdb'}' as o",
            f"export database '{root / 'e'}'",
            "select * from read_text('/etc/passwd')",
        ):
            with pytest.raises(duckdb.PermissionException):
                con.execute(statement)
        with pytest.raises(duckdb.InvalidInputException, match="locked"):
            con.execute("SET enable_external_access = true")
        with pytest.raises(duckdb.Error):
            con.execute("DROP TABLE catalog.models")
        assert con.execute("SELECT count(*) FROM analytics.catalog_summary").fetchone()[0] > 0
    finally:
        con.close()
    assert digest(path) == before and files_under(root) == files_before


def test_refusal_as_a_user_sees_it_and_export_keeps_its_writable_path(env):
    path, root = env["settings"].warehouse_path, env["root"]
    before = digest(path)
    copy = subprocess.run(
        [SN_LAKE, "sql", f"copy (select 'x' as a) to '{path}'"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert copy.returncode == 2 and copy.stderr.count("\n") == 1 and "COPY" in copy.stderr, copy.stderr
    assert digest(path) == before
    search = subprocess.run(
        [SN_LAKE, "search", "--family", "resnet", "--limit", "3", "--format", "csv"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert search.returncode == 0 and search.stdout.count("\n") == 4, search.stderr  # search reads on the same sandbox
    out = root / f"export-{uuid.uuid4().hex[:6]}"
    try:
        done = subprocess.run(
            [SN_LAKE, "export", str(out)], capture_output=True, text=True, env=os.environ.copy(), timeout=300
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert (out / "DATA_CARD.md").is_file() and list(out.rglob("*.parquet"))
        assert digest(path) == before
    finally:
        import shutil

        shutil.rmtree(out, ignore_errors=True)


def test_ducklake_queries_are_sandboxed_too(built, monkeypatch, capsys):
    """The distributed profile's DuckLake warehouse (catalog in PostgreSQL on 127.0.0.1:5432): external access goes
    off after the attach, with only the data path allowed, and the same statements are refused."""
    import psycopg2

    try:
        admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test", connect_timeout=5)
    except psycopg2.OperationalError as exc:
        pytest.fail(f"Expected PostgreSQL on 127.0.0.1:5432 (the machines here run it), found none ({exc}): start it.")
    admin.autocommit = True
    schema = f"sn_lake_sql_{uuid.uuid4().hex[:10]}"
    root = built["root"] / f"ducklake-{schema}"
    settings = dataclasses.replace(
        built["settings"], home=root / "home", profile="distributed", ducklake_metadata_schema=schema
    )
    monkeypatch.setenv("SN_LAKE_HOME", str(settings.home))
    monkeypatch.setenv("SN_LAKE_PROFILE", "distributed")
    monkeypatch.setenv("SN_LAKE_DUCKLAKE_SCHEMA", schema)
    try:
        con = warehouse.connect(settings)
        con.execute(
            "INSERT INTO catalog.models (model_id, source, name, first_seen_at, last_seen_at) "
            "VALUES ('local:a', 'local', 'a', now(), now())"
        )
        warehouse.apply_sql(con, "views")
        con.close()
        files_before = files_under(root)
        code, out, err = run_sql(capsys, "select model_id from catalog.models", "--format", "csv")
        assert (code, out.split()) == (0, ["model_id", "local:a"]), err
        code, out, err = run_sql(capsys, "select n_models from analytics.catalog_summary", "--format", "csv")
        assert (code, out.split()) == (0, ["n_models", "1"]), err
        for statement in (
            "select * from read_csv('/etc/passwd')",
            f"copy (select 1 as a) to '{root / 'x.csv'}'",
            f"select * from read_parquet('{built['outside']}')",
            "set enable_external_access = true",
            "select 1; drop table catalog.models",
        ):
            code, out, err = run_sql(capsys, statement)
            assert code == 2 and MARKER not in out and "root:" not in out, (statement, err)
        con = warehouse.connect_for_queries(settings)
        try:
            with pytest.raises(duckdb.PermissionException):
                con.execute(f"copy (select 1 as a) to '{root / 'y.csv'}'")
            with pytest.raises(duckdb.Error, match="read-only"):  # the metadata's Postgres connection only reads
                con.execute(
                    f"select * from postgres_execute('__ducklake_metadata_{warehouse.DUCKLAKE_ALIAS}', "
                    f"'create table public.{schema}_probe (a int)')"
                )
        finally:
            con.close()
        assert files_under(root) == files_before
    finally:
        admin.cursor().execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()
