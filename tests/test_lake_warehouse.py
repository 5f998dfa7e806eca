"""The lake's raw steps and crawl state, and the warehouse's schema, writes and read-only mode."""

import json

import duckdb
import polars as pl
import pytest

from sn_lake import lake, warehouse


def test_write_raw_keeps_payload_as_received_and_reads_back(settings):
    payload = {"id": "a/b", "nested": {"x": [1, 2]}}
    path = lake.write_raw(
        settings, "demo", "c1", 1, [{"native_id": "a/b", "request_url": "http://x/api", "payload": payload}]
    )
    assert path.name == "step-000001.parquet" and path.parent.name == "crawl_id=c1"
    raw = lake.read_raw(settings, "demo")
    assert raw.height == 1
    assert json.loads(raw["payload"][0]) == payload
    assert raw["source"][0] == "demo" and raw["crawl_id"][0] == "c1"
    assert not list(path.parent.glob(".*.tmp")), "no temporary file is left behind"


def test_read_raw_of_unknown_source_is_empty(settings):
    assert lake.read_raw(settings, "nothing").is_empty()


def test_state_round_trip_and_finished_crawls(settings):
    assert lake.load_state(settings, "demo") == {}
    lake.save_state(settings, "demo", {"cursor": "abc", "crawl_id": "c1"})
    assert lake.load_state(settings, "demo") == {"cursor": "abc", "crawl_id": "c1"}
    lake.write_raw(settings, "demo", "c1", 1, [{"native_id": "m", "request_url": "u", "payload": {}}])
    lake.finish_crawl(settings, "demo", "c1", {"records": 1, "steps": 1})
    [crawl] = lake.finished_crawls(settings, "demo")
    assert crawl["crawl_id"] == "c1" and crawl["records"] == 1
    [row] = lake.summary(settings)
    assert row["source"] == "demo" and row["raw_records"] == 1 and row["crawls"] == 1


def test_schema_is_idempotent_and_creates_the_four_layers(settings):
    for _ in range(2):
        con = warehouse.connect(settings)
        con.close()
    con = warehouse.connect(settings, read_only=True)
    schemas = {r[0] for r in con.execute("SELECT schema_name FROM information_schema.schemata").fetchall()}
    assert {"raw", "catalog", "results", "analytics"} <= schemas


def test_replace_rows_replaces_only_matching_rows(settings):
    con = warehouse.connect(settings)
    con.execute("CREATE TABLE catalog.t (source VARCHAR, x INTEGER)")
    warehouse.replace_rows(con, "catalog.t", pl.DataFrame({"source": ["a", "a"], "x": [1, 2]}), "source = ?", ["a"])
    warehouse.replace_rows(con, "catalog.t", pl.DataFrame({"source": ["b"], "x": [3]}), "source = ?", ["b"])
    warehouse.replace_rows(con, "catalog.t", pl.DataFrame({"source": ["a"], "x": [9]}), "source = ?", ["a"])
    assert sorted(con.execute("SELECT source, x FROM catalog.t").fetchall()) == [("a", 9), ("b", 3)]


def test_replace_rows_rolls_back_on_error(settings):
    con = warehouse.connect(settings)
    con.execute("CREATE TABLE catalog.t (source VARCHAR, x INTEGER NOT NULL)")
    warehouse.replace_rows(con, "catalog.t", pl.DataFrame({"source": ["a"], "x": [1]}), "source = ?", ["a"])
    bad = pl.DataFrame({"source": ["a"], "x": [None]}, schema={"source": pl.String, "x": pl.Int32})
    with pytest.raises(duckdb.ConstraintException):
        warehouse.replace_rows(con, "catalog.t", bad, "source = ?", ["a"])
    assert con.execute("SELECT source, x FROM catalog.t").fetchall() == [("a", 1)]


def test_read_only_connection_refuses_writes(settings):
    warehouse.connect(settings).close()
    con = warehouse.connect(settings, read_only=True)
    for statement in (
        "DROP TABLE catalog.models",
        "INSERT INTO catalog.quarantine VALUES ('t','k','r','d',now())",
        "SET lock_configuration = false",
    ):
        with pytest.raises(duckdb.Error):
            con.execute(statement)


def test_read_only_without_a_warehouse_says_what_to_do(settings):
    with pytest.raises(warehouse.WarehouseError, match="run `sn-lake run`"):
        warehouse.connect(settings, read_only=True)


def test_replace_rows_condition_may_refer_to_the_incoming_rows(settings):
    con = warehouse.connect(settings)
    con.execute("CREATE TABLE catalog.t (k VARCHAR, x INTEGER)")
    warehouse.replace_rows(con, "catalog.t", pl.DataFrame({"k": ["a", "b"], "x": [1, 2]}), "false")
    incoming = pl.DataFrame({"k": ["b"], "x": [20]})
    warehouse.replace_rows(con, "catalog.t", incoming, "EXISTS (SELECT 1 FROM _incoming i WHERE i.k = t.k)")
    assert sorted(con.execute("SELECT k, x FROM catalog.t").fetchall()) == [("a", 1), ("b", 20)]
