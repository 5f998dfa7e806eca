"""`sn-lake export`: every table and view as files equal to the warehouse, with a data card."""

import csv
import json
from pathlib import Path

import duckdb
import pytest

from sn_lake import cli, export, warehouse
from tests import report_warehouse


@pytest.fixture
def filled(settings):
    con = warehouse.connect(settings)
    report_warehouse.fill(con)
    con.close()
    return settings


def test_parquet_export_equals_the_warehouse(filled, tmp_path: Path, capsys):
    out = tmp_path / "export"
    assert cli.main(["export", str(out)]) == 0
    assert "DATA_CARD.md" in capsys.readouterr().out
    card = json.loads((out / "datacard.json").read_text())
    relations = {e["relation"]: e for e in card["relations"]}
    for name in (
        "catalog.models",
        "catalog.papers",
        "catalog.quarantine",
        "raw.crawls",
        "results.task_accuracy",
        "results.model_stealing",
        "results.membership_inference",
        "results.adversarial",
        "results.backdoor_detection",
        "analytics.stealing_vs_accuracy",
        "analytics.backdoor_detection",
    ):
        assert name in relations, f"{name} was not exported"
    con = warehouse.connect(filled, read_only=True)
    for name, entry in relations.items():
        path = out / entry["file"]
        assert path.suffix == ".parquet" and path.exists()
        exported = f"read_parquet('{path}')"
        # Parquet keeps names and types, not keys
        columns = "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {})"
        assert con.execute(columns.format(exported)).fetchall() == con.execute(columns.format(name)).fetchall(), name
        if entry["kind"] == "view":
            # a view is recomputed on every query, and parallel float sums may differ in the last bits
            here, there = (con.execute(f"SELECT * FROM {rel} ORDER BY ALL").fetchall() for rel in (name, exported))
            assert there == [tuple(pytest.approx(v) if isinstance(v, float) else v for v in row) for row in here], name
            continue
        # same rows (as a multiset), both ways round
        assert (
            con.execute(f"SELECT count(*) FROM (SELECT * FROM {name} EXCEPT ALL SELECT * FROM {exported})").fetchone()[
                0
            ]
            == 0
        ), name
        assert (
            con.execute(f"SELECT count(*) FROM (SELECT * FROM {exported} EXCEPT ALL SELECT * FROM {name})").fetchone()[
                0
            ]
            == 0
        ), name
        assert (
            con.execute(f"SELECT count(*) FROM {exported}").fetchone()[0]
            == entry["rows"]
            == con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        )
    assert relations["results.task_accuracy"]["rows"] == 16 and relations["catalog.models"]["rows"] == 8
    # list columns survive as lists
    assert con.execute(f"SELECT authors FROM read_parquet('{out / 'catalog/papers.parquet'}')").fetchone()[0] == [
        "A. B"
    ]
    assert not list(out.rglob("*.partial")), "a temporary file was left behind"


def test_data_card_states_columns_units_provenance_and_licences(filled, tmp_path: Path):
    con = warehouse.connect(filled, read_only=True)
    card = export.export(con, tmp_path / "export")
    columns = {c["name"]: c for c in next(e for e in card["relations"] if e["relation"] == "catalog.models")["columns"]}
    assert columns["model_id"]["description"] == "'<source>:<native id>'"
    assert columns["model_id"]["type"] == "VARCHAR"
    assert columns["reported_accuracy"]["unit"] == "fraction in [0, 1]"
    results = {
        c["name"]: c for c in next(e for e in card["relations"] if e["relation"] == "results.adversarial")["columns"]
    }
    assert results["runtime_s"]["unit"] == "seconds" and results["epsilon"]["unit"].startswith("L∞")
    assert results["accuracy_drop"]["unit"] == "fraction in [0, 1]"
    views = {
        c["name"]: c
        for c in next(e for e in card["relations"] if e["relation"] == "analytics.stealing_vs_accuracy")["columns"]
    }
    assert views["pearson_r"]["unit"] == "correlation coefficient in [-1, 1]"
    assert card["provenance"] == [
        {
            "source": "local",
            "crawls": 1,
            "last_crawl_finished_at": card["provenance"][0]["last_crawl_finished_at"],
            "raw_records": 8,
            "catalog_models": 8,
            "licence": export.SOURCE_LICENCES["local"],
        }
    ]
    text = (tmp_path / "export" / "DATA_CARD.md").read_text()
    assert "SecurityNet database table, TrustAIRLab (MIT licence)" in text
    assert "### `results.membership_inference` (table)" in text and "| auc | DOUBLE | fraction in [0, 1] |" in text
    for entry in card["relations"]:
        assert entry["sha256"] in text


def test_csv_export(filled, tmp_path: Path):
    out = tmp_path / "csv"
    assert cli.main(["export", str(out), "--format", "csv"]) == 0
    with (out / "results" / "model_stealing.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 32 and {"model_id", "origin", "stealing_accuracy"} <= set(rows[0])
    con = duckdb.connect()
    assert con.execute(f"SELECT count(*) FROM read_csv('{out / 'catalog' / 'models.csv'}')").fetchone()[0] == 8


def test_bad_format_and_missing_warehouse(settings, tmp_path: Path, capsys):
    assert cli.main(["export", str(tmp_path / "x")]) == 2
    assert "Expected a warehouse" in capsys.readouterr().err
    con = warehouse.connect(settings)
    with pytest.raises(export.ExportError, match="Expected an export format in parquet, csv, found 'xlsx'"):
        export.export(con, tmp_path / "x", "xlsx")
