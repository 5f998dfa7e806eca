"""`sn-lake` as a user runs it: sql (read-only, three formats), status, and clear errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sn_lake import catalog, config, warehouse
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
