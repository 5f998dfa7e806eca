"""`sn-lake search`: every filter on a small hand-made warehouse, sorting, output formats, and filter
values that look like SQL staying literals."""

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from sn_lake import cli, search, warehouse
from tests.warehouse_rows import insert, model, result

INJECTION = "x' OR 1=1 --"


@pytest.fixture
def filled(settings):
    con = warehouse.connect(settings)
    warehouse.apply_sql(con, "views")
    insert(
        con,
        "catalog.models",
        [
            model(
                "timm:resnet50.a1_in1k",
                architecture="resnet50",
                model_type="resnet",
                dataset="imagenet-1k",
                data_category="natural",
                purpose="benchmark",
                library="timm",
                license="apache-2.0",
                weights_url="https://huggingface.co/timm/resnet50.a1_in1k",
                paper_id="2110.00476",
                reported_accuracy=0.80,
                downloads=1000,
            ),
            model(
                "huggingface:lab/robust-wrn",
                architecture="wide_resnet28_10",
                model_type="wide_resnet",
                dataset="cifar10",
                data_category="natural",
                purpose="security",
                has_safetensors=True,
                license="mit",
                created_at=datetime(2023, 6, 1, tzinfo=UTC),
                downloads=50,
            ),
            model(
                "securitynet:benchmark/mnist/lenet.pth",
                architecture="lenet",
                model_type="lenet",
                dataset="mnist",
                data_category="digit",
                purpose="other",
                weights_url="https://github.com/u/r/blob/main/lenet.pkl",
                license=INJECTION,
            ),
            model(
                "local:digits-cnn",
                architecture="resnet10t",
                model_type="resnet",
                dataset="digits",
                data_category="digit",
                purpose="benchmark",
                has_safetensors=True,
                created_at=datetime(2026, 11, 1, tzinfo=UTC),
            ),
        ],
    )
    insert(con, "catalog.papers", [{"paper_id": "2110.00476", "title": "ResNet strikes back", "year": 2021}])
    insert(
        con,
        "results.task_accuracy",
        [
            result("huggingface:lab/robust-wrn", dataset="cifar10", test_accuracy=0.85),
            result("huggingface:lab/robust-wrn", "published:securitynet", dataset="cifar10", test_accuracy=0.5),
            result(
                "securitynet:benchmark/mnist/lenet.pth", "published:securitynet", dataset="mnist", test_accuracy=0.99
            ),
            result("local:digits-cnn", dataset="digits", test_accuracy=0.6),
        ],
    )
    con.close()
    return settings


def found(settings, **filters) -> list[str]:
    con = warehouse.connect(settings, read_only=True)
    columns, rows = search.search(con, search.Filters(**filters))
    con.close()
    return [dict(zip(columns, r, strict=True))["model_id"] for r in rows]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (
            {},
            [
                "securitynet:benchmark/mnist/lenet.pth",
                "huggingface:lab/robust-wrn",
                "timm:resnet50.a1_in1k",
                "local:digits-cnn",
            ],
        ),
        ({"dataset": "CIFAR10"}, ["huggingface:lab/robust-wrn"]),
        ({"data_category": "digit"}, ["securitynet:benchmark/mnist/lenet.pth", "local:digits-cnn"]),
        ({"family": "resnet"}, ["timm:resnet50.a1_in1k", "local:digits-cnn"]),
        ({"purpose": "security"}, ["huggingface:lab/robust-wrn"]),
        ({"source": "local"}, ["local:digits-cnn"]),
        (
            {"min_accuracy": 0.8},
            ["securitynet:benchmark/mnist/lenet.pth", "huggingface:lab/robust-wrn", "timm:resnet50.a1_in1k"],
        ),
        (
            {"min_accuracy": 0.84},
            ["securitynet:benchmark/mnist/lenet.pth", "huggingface:lab/robust-wrn"],
        ),  # computed 0.85, not published 0.5
        ({"year_from": 2022}, ["huggingface:lab/robust-wrn", "local:digits-cnn"]),
        (
            {"year_from": 2021, "year_to": 2023},
            ["huggingface:lab/robust-wrn", "timm:resnet50.a1_in1k"],
        ),  # paper year 2021
        ({"license": "MIT"}, ["huggingface:lab/robust-wrn"]),
        ({"loadable_weights": True}, ["huggingface:lab/robust-wrn", "timm:resnet50.a1_in1k", "local:digits-cnn"]),
        ({"loadable_weights": False}, ["securitynet:benchmark/mnist/lenet.pth"]),  # a pickle: not loadable safely
        ({"text": "WRN"}, ["huggingface:lab/robust-wrn"]),
        ({"family": "resnet", "loadable_weights": True, "min_accuracy": 0.7}, ["timm:resnet50.a1_in1k"]),
        ({"sort": "downloads", "limit": 2}, ["timm:resnet50.a1_in1k", "huggingface:lab/robust-wrn"]),
        ({"sort": "name", "limit": 1}, ["securitynet:benchmark/mnist/lenet.pth"]),  # name: benchmark/mnist/lenet.pth
    ],
)
def test_filters(filled, filters, expected):
    assert found(filled, **filters) == expected


def test_sql_in_a_filter_value_is_a_literal(filled):
    for field in ("dataset", "data_category", "family", "purpose", "source", "text"):
        assert found(filled, **{field: INJECTION}) == [], field
    # the one model whose licence *is* that string is found, and only it
    assert found(filled, license=INJECTION) == ["securitynet:benchmark/mnist/lenet.pth"]
    con = warehouse.connect(filled, read_only=True)
    assert con.execute("SELECT count(*) FROM catalog.models").fetchone() == (4,)  # nothing was touched
    con.close()


def test_bad_sort_limit_and_accuracy_are_clear_errors():
    with pytest.raises(search.SearchError, match="sort key"):
        search.build_query(search.Filters(sort="model_id; DROP TABLE catalog.models"))
    with pytest.raises(search.SearchError, match="limit"):
        search.build_query(search.Filters(limit=0))
    with pytest.raises(search.SearchError, match="fraction"):
        search.build_query(search.Filters(min_accuracy=80))


def test_evaluable_models_follow_catalog_evaluability(filled):
    con = warehouse.connect(filled)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    insert(
        con,
        "catalog.evaluability",
        [
            {"model_id": "huggingface:lab/robust-wrn", "evaluable": True, "loader": "timm", "checked_at": now},
            {"model_id": "local:digits-cnn", "evaluable": True, "loader": "timm", "checked_at": now},
            {
                "model_id": "securitynet:benchmark/mnist/lenet.pth",
                "evaluable": False,
                "reason": "published results only",
                "checked_at": now,
            },
        ],
    )
    con.close()
    con = warehouse.connect(filled, read_only=True)
    assert search.evaluable_models(con) == ["huggingface:lab/robust-wrn", "local:digits-cnn"]  # most downloaded first
    con.close()


def test_cli_formats(filled, capsys):
    assert cli.main(["search", "--family", "resnet", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["model_id"] for r in rows] == ["timm:resnet50.a1_in1k", "local:digits-cnn"]
    assert rows[0]["year"] == 2021 and rows[0]["loadable_weights"] is True

    assert cli.main(["search", "--license", INJECTION, "--format", "csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["model_id"] for r in table] == ["securitynet:benchmark/mnist/lenet.pth"]

    assert cli.main(["search", "--min-accuracy", "0.84", "--no-loadable"]) == 0
    out = capsys.readouterr().out
    assert "securitynet:benchmark/mnist/lenet.pth" in out and "(1 row)" in out


def test_cli_without_a_warehouse_says_what_to_do(sn_home, capsys):
    assert cli.main(["search"]) == 2
    assert "sn-lake run" in capsys.readouterr().err
