"""analytics.annotation_agreement on hand-made warehouses with known answers."""

import polars as pl
import pytest

from sn_lake import warehouse
from sn_lake.catalog import securitynet as securitynet_catalog
from sn_lake.sources.securitynet import parse as securitynet

LABEL_COLUMNS = ["row_key", "paper_id", "year", "venue_normalized", "n_authors", "country_codes", "purpose"]
PAPER_COLUMNS = ["paper_id", "year", "venue", "n_authors", "countries", "purpose"]


def agreement(con) -> dict[str, tuple]:
    columns, rows = warehouse.query(con, "SELECT * FROM analytics.annotation_agreement")
    assert columns == ["field", "n_compared", "n_agree", "agreement"]
    assert [r[0] for r in rows] == ["year", "venue", "n_authors", "country", "purpose"]
    return {r[0]: r[1:] for r in rows}


def insert_papers(con, papers: list[tuple]) -> None:
    frame = pl.DataFrame(
        papers,
        schema={
            "paper_id": pl.String,
            "year": pl.Int32,
            "venue": pl.String,
            "n_authors": pl.Int32,
            "countries": pl.List(pl.String),
            "purpose": pl.String,
        },
        orient="row",
    )
    warehouse.replace_rows(con, "catalog.papers", frame, "true")


@pytest.fixture
def con(settings):
    con = warehouse.connect(settings)
    yield con
    con.close()


def test_known_answers_on_hand_made_rows(con):
    labels = pl.DataFrame(
        [
            ("r1", "A", 2016, "CVPR", 4, ["US"], "benchmark"),
            ("r2", "A", 2016, "CVPR", 4, ["CN", "US"], "benchmark"),
            ("r3", "B", 2020, "NeurIPS", 5, ["CH", "GB"], "security"),
            ("r4", "C", 2019, "ICLR", 3, ["US"], "other"),  # paper not resolved: never compared
            ("r5", None, 2019, "ICLR", 3, ["US"], "other"),  # no paper id
            ("r6", "D", None, "arXiv", 8, None, "other"),  # stated year and countries missing
        ],
        schema={
            "row_key": pl.String,
            "paper_id": pl.String,
            "year": pl.Int32,
            "venue_normalized": pl.String,
            "n_authors": pl.Int32,
            "country_codes": pl.List(pl.String),
            "purpose": pl.String,
        },
        orient="row",
    ).with_columns(
        model_id=pl.lit("securitynet:x"),
        in_catalog=pl.lit(True),
        table_name=pl.lit("benchmark"),
        line=pl.lit(1, pl.Int32),
        table_sha256=pl.lit("0" * 64),
    )
    warehouse.replace_rows(con, "catalog.securitynet_labels", labels, "true")
    insert_papers(
        con,
        [
            ("A", 2016, "CVPR", 4, ["US"], "benchmark"),
            ("B", 2021, "NeurIPS", 5, ["GB", "CH", "GB"], "other"),  # unsorted, repeated: compared as a set
            ("D", 2021, "CVPR", None, ["US"], None),
        ],
    )
    warehouse.apply_sql(con, "views")
    assert agreement(con) == {
        "year": (3, 2, pytest.approx(2 / 3)),
        "venue": (4, 3, 0.75),
        "n_authors": (3, 3, 1.0),
        "country": (3, 2, pytest.approx(2 / 3)),
        "purpose": (3, 2, pytest.approx(2 / 3)),
    }


def test_empty_warehouse_lists_every_field_with_nothing_compared(con):
    warehouse.apply_sql(con, "views")
    assert agreement(con) == {f: (0, 0, None) for f in ("year", "venue", "n_authors", "country", "purpose")}


def test_real_labels_against_one_resolved_paper(con, securitynet_table):
    rows = securitynet.parse_tables(securitynet_table.read_text(encoding="utf-8"))
    snap = securitynet.Snapshot("0" * 64, None, rows, {}, {})
    warehouse.replace_rows(con, "catalog.securitynet_labels", securitynet_catalog.label_rows(snap), "true")
    # "On the Loss Landscape of Adversarial Training" (NeurIPS 2020; EPFL and Oxford), as a resolver would store it
    insert_papers(
        con,
        [
            ("2006.08403", 2020, "NeurIPS", 5, ["CH", "GB"], "security"),
            ("1512.03385", 2015, "CVPR", 4, ["CN"], "benchmark"),
        ],
    )
    warehouse.apply_sql(con, "views")
    resnet_rows = sum(1 for r in rows if r.values["paper_url"] == "https://arxiv.org/abs/1512.03385")
    assert resnet_rows == 48
    # 72 landscape rows agree on everything; the 48 ResNet rows state 2016 / USA, which our paper row does not
    assert agreement(con) == {
        "year": (120, 72, 0.6),
        "venue": (120, 120, 1.0),
        "n_authors": (120, 120, 1.0),
        "country": (120, 72, 0.6),
        "purpose": (120, 120, 1.0),
    }
