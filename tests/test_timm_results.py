"""timm's result tables as a source: the shared results/ read in place, perturbed copies made in tmp_path, the
upstream raw files through a loopback server, and analytics.shift_vs_accuracy against numpy."""

import csv
import json
import math
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DIR
from loopback_server import FakeApi, LoopbackServer, Response

from sn_lake import catalog, config, lake, warehouse
from sn_lake.catalog import timm_results as timm_catalog
from sn_lake.http_client import PoliteClient, RetryPolicy
from sn_lake.sources.timm_results import crawl

RESULTS = SHARED_DIR / "data" / "timm-results"
FAST = RetryPolicy(attempts=4, backoff_base=0.01, backoff_max=0.05, seed=0)


@pytest.fixture(scope="module")
def results_dir() -> Path:
    if not (RESULTS / "results-imagenet.csv").is_file():
        pytest.fail(f"Expected timm's result tables at {RESULTS}: the tests need ../shared beside the project.")
    return RESULTS


def build(monkeypatch, location, client=None):
    monkeypatch.setenv("SN_LAKE_TIMM_RESULTS_URL", str(location))
    settings = config.load()
    summary = crawl.crawl(settings, client=client)
    con = warehouse.connect(settings)
    catalog.build_models(settings, con)
    warehouse.apply_sql(con, "views")
    return settings, con, summary


def rows(con, sql, params=()):
    return con.execute(sql, list(params)).fetchall()


def read_rows(path: Path) -> list[dict]:
    """The rows the rules keep: a model name, every cell, a readable top-1 or top-5, the first (model, size) only."""
    kept, seen = [], set()
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            row = dict(zip(header, cells, strict=False))
            key = (row.get("model", "").strip(), row.get("img_size", "").strip())
            if len(cells) != len(header) or not key[0] or key in seen:
                continue
            seen.add(key)

            def pct(name, row=row):
                try:
                    value = float(row[name])
                except ValueError:
                    return None
                return value / 100 if 0 <= value <= 100 else None

            if pct("top1") is None and pct("top5") is None:
                continue
            kept.append({"model": key[0], "img_size": key[1], "top1": pct("top1")})
    return kept


def independent_shift(root: Path) -> dict:
    """Per shifted set: n, r, mean clean top-1, mean shifted top-1; a model's point is the mean over its test sizes."""
    clean = {(r["model"], r["img_size"]): r["top1"] for r in read_rows(root / "results-imagenet.csv")}
    out = {}
    for file, dataset in timm_catalog.SHIFTED.items():
        if not (root / file).exists():
            continue
        per_model = defaultdict(list)
        for r in read_rows(root / file):
            base = clean.get((r["model"], r["img_size"]))
            if base is not None and r["top1"] is not None:
                per_model[r["model"]].append((base, r["top1"]))
        if not per_model:
            continue
        x, y = np.array([np.mean(p, axis=0) for p in per_model.values()]).T
        out[dataset] = (len(x), float(np.corrcoef(x, y)[0, 1]), x.mean(), y.mean())
    return out


def assert_same_shift(con, root: Path) -> None:
    view = {d: tuple(rest) for d, *rest in rows(con, "SELECT * FROM analytics.shift_vs_accuracy")}
    expected = independent_shift(root)
    assert set(view) == set(expected)
    for dataset, want in expected.items():
        assert view[dataset][0] == want[0]
        for got, w in zip(view[dataset][1:], want[1:], strict=False):
            assert math.isclose(got, w, rel_tol=1e-9), (dataset, got, w)


def assert_every_row_accounted(con, root: Path) -> None:
    """Each data row of each table is a results row or a left-out row with its reason."""
    for file in crawl.FILES:
        path = root / file
        table = "results.task_accuracy" if file == crawl.IMAGENET else "results.distribution_shift"
        if not path.exists():
            assert rows(con, "SELECT rule FROM catalog.quarantine WHERE row_key = ?", [f"timm_results:{file}"]) == [
                ("timm_results.excluded.not_found",)
            ]
            continue
        data_rows = [line for line in path.read_text().splitlines()[1:] if line.strip(", ")]
        dataset = timm_catalog.SHIFTED.get(file, "imagenet-1k")
        kept = rows(con, f"SELECT count(*) FROM {table} WHERE origin = 'published:timm' AND dataset = ?", [dataset])[0][
            0
        ]
        left_out = rows(
            con,
            "SELECT count(*) FROM catalog.quarantine WHERE rule LIKE 'timm_results.excluded.%' "
            "AND table_name = ? AND starts_with(detail, ?)",
            [table, repr(file) + " "],
        )[0][0]
        assert kept + left_out == len(data_rows), file
        assert kept == len(read_rows(path)), file


def registry_records(settings, names_sizes) -> None:
    """timm registry records in the lake (the shape sn_lake.sources.timm_registry writes), without importing timm."""
    crawl_id = lake.new_crawl_id()
    records = [
        {
            "native_id": name,
            "request_url": f"python:timm==1.0#pretrained_cfg={name}",
            "payload": {
                "name": name,
                "timm_version": "1.0",
                "pretrained_cfg": {
                    "architecture": name.split(".")[0],
                    "tag": name.split(".")[1],
                    "hf_hub_id": f"timm/{name}",
                    "num_classes": 1000,
                    "input_size": [3, size, size],
                },
            },
        }
        for name, size in names_sizes
    ]
    lake.write_raw(settings, "timm", crawl_id, 1, records)
    lake.finish_crawl(settings, "timm", crawl_id, {"records": len(records), "steps": 1})


def test_shared_tables_give_task_shift_links_and_reported_accuracy(sn_home, results_dir, monkeypatch):
    monkeypatch.setenv("SN_LAKE_TIMM_RESULTS_URL", str(results_dir))
    registry_records(
        config.load(),
        [("convnextv2_large.fcmae_ft_in22k_in1k", 224), ("resnet18.a1_in1k", 224), ("not_in_tables.x_in1k", 224)],
    )
    settings, con, summary = build(monkeypatch, results_dir)
    assert summary["tables"] == 6 and summary["missing_tables"] is None
    n_rows = sum(1 for _ in open(results_dir / "results-imagenet.csv")) - 1
    assert rows(
        con, "SELECT count(*), count(DISTINCT model_id) FROM results.task_accuracy WHERE origin = 'published:timm'"
    ) == [(n_rows, 1266)]
    # one row per row of the table, at each test size, with top-1 / 100 as test accuracy
    found = rows(
        con,
        "SELECT test_accuracy, top5_accuracy, json_extract(eval_config, '$.img_size')::INT FROM results.task_accuracy "
        "WHERE model_id = 'timm:convnextv2_large.fcmae_ft_in22k_in1k' AND origin = 'published:timm' ORDER BY 3",
    )
    assert found == [
        (pytest.approx(0.87266), pytest.approx(0.9824), 224),
        (pytest.approx(0.87494), pytest.approx(0.9836), 288),
    ]
    assert rows(con, "SELECT DISTINCT dataset FROM results.task_accuracy WHERE origin = 'published:timm'") == [
        ("imagenet-1k",)
    ]
    shifted = dict(rows(con, "SELECT dataset, count(*) FROM results.distribution_shift GROUP BY ALL"))
    assert shifted == {d: len(read_rows(results_dir / f)) for f, d in timm_catalog.SHIFTED.items()}
    assert sum(shifted.values()) >= 5 * (n_rows - 1)
    assert rows(
        con,
        "SELECT top1, top1_diff, rank_diff FROM results.distribution_shift WHERE dataset = 'imagenet-real' "
        "AND model_id = 'timm:eva02_large_patch14_448.mim_m38m_ft_in22k_in1k'",
    ) == [(pytest.approx(0.91144), pytest.approx(0.01088), 0)]
    assert_same_shift(con, results_dir)
    assert_every_row_accounted(con, results_dir)
    # links both ways for every model of the tables, also those today's registry no longer lists
    named = {
        r["model"] for f in crawl.FILES for r in read_rows(results_dir / f)
    }  # resmlp_24_224.fb_dino: shifted sets only
    linked = rows(
        con,
        "SELECT split_part(model_id, ':', 2) FROM catalog.model_links WHERE model_id LIKE 'timm:%' "
        "AND linked_model_id = 'huggingface:timm/' || split_part(model_id, ':', 2)",
    )
    assert {r[0] for r in linked} == named and len(linked) == len(named)
    assert rows(
        con, "SELECT link_type, evidence FROM catalog.model_links WHERE model_id = 'huggingface:timm/resnet18.a1_in1k'"
    ) == [("same_hub_id", "timm/resnet18.a1_in1k")]
    # the registry rows take the published top-1 at their input size
    reported = dict(rows(con, "SELECT model_id, reported_accuracy FROM catalog.models WHERE source = 'timm'"))
    assert reported == {
        "timm:convnextv2_large.fcmae_ft_in22k_in1k": pytest.approx(0.87266),
        "timm:resnet18.a1_in1k": pytest.approx(
            float(
                next(
                    r["top1"]
                    for r in read_rows(results_dir / "results-imagenet.csv")
                    if (r["model"], r["img_size"]) == ("resnet18.a1_in1k", "224")
                )
            )
        ),
        "timm:not_in_tables.x_in1k": None,
    }
    # the timm table's figure is a claim beside our own measurement of the same weights on the Hub
    con.execute(
        "INSERT INTO results.task_accuracy (model_id, dataset, origin, config_hash, test_accuracy) "
        "VALUES ('huggingface:timm/resnet18.a1_in1k', 'imagenet-1k', 'computed', 'c', 0.7)"
    )
    warehouse.apply_sql(con, "views")
    pairs = rows(
        con,
        "SELECT claimed_origin, measured_origin, round(gap, 6) FROM analytics.reported_vs_measured "
        "WHERE model_id = 'timm:resnet18.a1_in1k'",
    )
    published = [r["top1"] for r in read_rows(results_dir / "results-imagenet.csv") if r["model"] == "resnet18.a1_in1k"]
    assert len(published) == 2  # per model and origin the view takes the mean over timm's test sizes
    assert pairs == [("published:timm", "computed", round(sum(published) / 2 - 0.7, 6))]


def perturbed_copy(results_dir: Path, root: Path) -> Path:
    copy = root / "results"
    copy.mkdir()
    for file in crawl.FILES:
        lines = (results_dir / file).read_text().splitlines()
        if file == "results-sketch.csv":
            continue  # a table dropped
        header, body = lines[0], lines[1:]
        if file == crawl.IMAGENET:
            cells = [line.split(",") for line in body[:6]]
            cells[0][2], cells[1][2] = cells[1][2], cells[0][2]  # values moved between rows
            cells[2][2] = "abc"  # malformed
            cells[3][2] = "150"  # out of range
            cells[4][2] = cells[4][4] = ""  # no figure at all
            body[:6] = [",".join(c) for c in cells]
            body = body[:100] + body[110:]  # rows dropped
            body.append(body[20])  # a row duplicated
            body.append("only_a_name,224")  # a short row
        if file == "results-imagenet-r.csv":
            body = body[::-1]  # order does not matter
            body.insert(5, body[5])
        (copy / file).write_text("\n".join([header, *body]) + "\n")
    return copy


def test_perturbed_tables_give_views_equal_to_an_independent_computation(sn_home, results_dir, tmp_path, monkeypatch):
    build(monkeypatch, results_dir)[1].close()
    copy = perturbed_copy(results_dir, tmp_path)
    settings, con, summary = build(monkeypatch, copy)  # the copy's crawl becomes the current snapshot
    assert summary["missing_tables"] == "results-sketch.csv"
    assert_same_shift(con, copy)
    assert_every_row_accounted(con, copy)
    rules = {r for (r,) in rows(con, "SELECT DISTINCT rule FROM catalog.quarantine WHERE rule LIKE 'timm_results.%'")}
    assert {
        "timm_results.null.invalid_value",
        "timm_results.null.out_of_range",
        "timm_results.excluded.no_figure",
        "timm_results.excluded.duplicate_row",
        "timm_results.excluded.malformed_row",
        "timm_results.excluded.not_found",
    } <= rules
    assert rows(con, "SELECT count(*) FROM results.distribution_shift WHERE dataset = 'imagenet-sketch'")[0][0] == 0


def test_crawl_from_upstream_raw_files_survives_429_and_5xx(sn_home, results_dir, monkeypatch):
    api = FakeApi()
    prefix = "/huggingface/pytorch-image-models/main/results/"
    for file in crawl.FILES:
        body = (results_dir / file).read_bytes()
        api.route("GET", prefix + file, lambda request, body=body: Response(200, body, {"Content-Type": "text/plain"}))
    api.fail_next("GET", prefix + crawl.IMAGENET, Response(429, "slow down", {"Retry-After": "0"}))
    api.fail_next("GET", prefix + "results-imagenet-a.csv", Response(503, "busy"), Response(500, "oops"))
    with LoopbackServer(api) as server, PoliteClient(policy=FAST) as client:
        settings, con, summary = build(monkeypatch, server.url + prefix.rstrip("/"), client)
        stats = client.stats
    assert stats["status_429"] == 1 and stats["status_503"] == 1 and stats["status_500"] == 1 and stats["retries"] == 3
    assert summary["tables"] == 6 and len(lake.finished_crawls(settings, "timm_results")) == 1
    assert_every_row_accounted(con, results_dir)
    raw = lake.read_raw(settings, "timm_results")
    payload = json.loads(raw.filter(raw["native_id"] == crawl.IMAGENET)["payload"][0])
    assert payload["status"] == 200 and payload["text"] == (results_dir / crawl.IMAGENET).read_text()


def test_a_missing_imagenet_table_stops_the_crawl_before_anything_is_written(
    sn_home, results_dir, tmp_path, monkeypatch
):
    folder = tmp_path / "results"
    folder.mkdir()
    shutil.copy(results_dir / "results-sketch.csv", folder)
    monkeypatch.setenv("SN_LAKE_TIMM_RESULTS_URL", str(folder))
    with pytest.raises(crawl.SourceUnreachable, match="results-imagenet.csv"):
        crawl.crawl(config.load())
    assert lake.read_raw(config.load(), "timm_results").is_empty()
    monkeypatch.setenv("SN_LAKE_TIMM_RESULTS_URL", str(tmp_path / "nowhere"))
    with pytest.raises(crawl.SourceUnreachable, match="no folder"):
        crawl.crawl(config.load())
