"""RobustBench as a source: the shared model_info/ read in place, perturbed copies made in tmp_path, the upstream
layout through a loopback server (HTML index pages and GitHub's git-trees API), and the views against numpy."""

import json
import math
import shutil
import socket
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np
import pytest
from conftest import SHARED_DIR
from loopback_server import FakeApi, LoopbackServer, Response

from sn_lake import catalog, config, lake, report, search, warehouse
from sn_lake.catalog import robustbench as rb_catalog
from sn_lake.http_client import PoliteClient, RetryPolicy
from sn_lake.sources.robustbench import crawl, parse

MODEL_INFO = SHARED_DIR / "data" / "robustbench" / "model_info"
DATASETS = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet": "imagenet-1k"}
FAST = RetryPolicy(attempts=4, backoff_base=0.01, backoff_max=0.05, seed=0)


@pytest.fixture(scope="module")
def model_info() -> Path:
    if not MODEL_INFO.is_dir():
        pytest.fail(f"Expected RobustBench's model_info/ at {MODEL_INFO}: the tests need ../shared beside the project.")
    return MODEL_INFO


def build(monkeypatch, location) -> tuple:
    """Crawl ``location`` into the test's home and rebuild the catalog and the views; returns (settings, con)."""
    monkeypatch.setenv("SN_LAKE_ROBUSTBENCH_URL", str(location))
    settings = config.load()
    crawl.crawl(settings)
    con = warehouse.connect(settings)
    catalog.build_models(settings, con)
    warehouse.apply_sql(con, "views")
    return settings, con


def rows(con, sql, params=()):
    return con.execute(sql, list(params)).fetchall()


# --- an independent reading of the records (the rules as docs/published_results.md states them) ---------------


def read_epsilon(text, threat_model):
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str) or not text.strip():
        return None
    text = text.strip()
    try:
        if "/" in text:
            top, bottom = text.split("/")
            value = float(top) / float(bottom)
        else:
            value = float(text)
            decimals = len(text.split(".")[1]) if "." in text else 0
            grid = [k for k in range(0, 256) if round(k / 255, decimals) == value] if decimals >= 2 else []
            if threat_model == "Linf" and len(grid) == 1:
                value = grid[0] / 255
    except (ValueError, ZeroDivisionError):
        return None
    if value < 0 or (threat_model == "Linf" and value > 1):
        return None
    return value


def read_percent(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number / 100 if 0 <= number <= 100 else None


def independent_groups(root: Path) -> dict:
    """(dataset, norm, epsilon rounded) -> n, r(clean, robust), r(clean, drop), mean clean, mean robust."""
    points = defaultdict(list)
    for path in sorted(root.glob("*/*/*.json")):
        dataset, threat_model = DATASETS.get(path.parent.parent.name), path.parent.name
        if dataset is None or threat_model not in ("Linf", "L2"):
            continue
        try:
            record = json.loads(path.read_text())
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        clean, robust = read_percent(record.get("clean_acc")), read_percent(record.get("autoattack_acc"))
        if clean is None or robust is None:
            continue
        eps = read_epsilon(record.get("eps"), threat_model)
        points[(dataset, threat_model, None if eps is None else round(eps, 9))].append((clean, robust))
    out = {}
    for key, pairs in points.items():
        clean, robust = np.array(pairs).T
        r = lambda a, b: None if len(a) < 3 or a.std() == 0 or b.std() == 0 else float(np.corrcoef(a, b)[0, 1])  # noqa
        out[key] = (len(pairs), r(clean, robust), r(clean, clean - robust), clean.mean(), robust.mean())
    return out


def view_groups(con) -> dict:
    found = rows(
        con,
        "SELECT dataset, norm, epsilon, n_models, pearson_r_clean_robust, pearson_r_clean_drop, "
        "mean_clean_accuracy, mean_robust_accuracy FROM analytics.robustness_vs_accuracy "
        "WHERE origin = 'published:robustbench'",
    )
    return {(d, n, None if e is None else round(e, 9)): tuple(rest) for d, n, e, *rest in found}


def assert_same_groups(view: dict, independent: dict) -> None:
    assert set(view) == set(independent)
    for key, expected in independent.items():
        for got, want in zip(view[key], expected, strict=True):
            assert (got is None and want is None) or math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12), (
                key,
                got,
                want,
            )


def assert_every_record_accounted(con, root: Path) -> None:
    """Every JSON record is an entry, in the catalog or excluded with a reason; every CSV row has cells or a reason."""
    files = {p.relative_to(root).as_posix() for p in root.glob("*/*/*.json")}
    entries = dict(rows(con, "SELECT path, in_catalog FROM catalog.robustbench_entries"))
    assert set(entries) == files
    in_catalog = rows(con, "SELECT count(*) FROM catalog.models WHERE source = 'robustbench'")[0][0]
    assert in_catalog == sum(entries.values())
    (unexplained,) = rows(
        con,
        """SELECT count(*) FROM catalog.robustbench_entries e WHERE NOT e.in_catalog AND NOT EXISTS (
        SELECT 1 FROM catalog.quarantine q WHERE q.row_key = e.model_id AND q.rule LIKE 'robustbench.excluded.%')""",
    )[0]
    assert unexplained == 0
    for table in root.glob("*/corruptions/unaggregated_results*.csv"):
        path = table.relative_to(root).as_posix()
        data_rows = [line for line in table.read_text().splitlines()[2:] if line.strip(", ")]
        benchmark = rb_catalog.BENCHMARKS[(DATASETS[table.parent.parent.name], parse.CORRUPTION_TABLES[table.name])]
        with_cells = rows(
            con,
            "SELECT count(DISTINCT model_id) FROM results.corruption WHERE benchmark = ? AND corruption <> 'all'",
            [benchmark],
        )[0][0]
        left_out = rows(
            con,
            "SELECT count(*) FROM catalog.quarantine WHERE rule LIKE 'robustbench.excluded.%' "
            "AND table_name = 'results.corruption' AND contains(detail, ?)",
            [repr(path)],
        )[0][0]
        assert with_cells + left_out == len(data_rows), path


# --- the shared data ------------------------------------------------------------------------------------------


def test_shared_data_gives_the_reference_figures_and_accounts_for_every_record(sn_home, model_info, monkeypatch):
    settings, con = build(monkeypatch, model_info)
    independent = independent_groups(model_info)
    view = view_groups(con)
    assert_same_groups(view, independent)
    reference = {
        ("cifar10", "Linf", 8 / 255): (0.208, 99),
        ("cifar100", "Linf", 8 / 255): (0.804, 38),
        ("imagenet-1k", "Linf", 4 / 255): (0.644, 30),
        ("cifar10", "L2", 0.5): (0.045, 21),
    }
    for (dataset, norm, eps), (r, n) in reference.items():
        got = view[(dataset, norm, round(eps, 9))]
        assert (round(got[1], 3), got[0]) == (r, n)
    assert_every_record_accounted(con, model_info)
    assert (
        rows(con, "SELECT count(*) FROM catalog.robustbench_entries WHERE epsilon_reading = '0.031 read as 8/255'")[0][
            0
        ]
        == 6
    )

    columns, found = warehouse.query(
        con, "SELECT * FROM catalog.models WHERE model_id = 'robustbench:cifar10/Linf/Carmon2019Unlabeled'"
    )
    row = dict(zip(columns, found[0], strict=True))
    assert (
        row["dataset"],
        row["architecture"],
        row["model_type"],
        row["paper_id"],
        row["purpose"],
        row["num_classes"],
    ) == ("cifar10", "wide_resnet28_10", "wide_resnet", "1905.13736", "security", 10)
    assert rows(
        con,
        "SELECT venue_normalized, venue_type, year, additional_data FROM catalog.robustbench_entries "
        "WHERE name = 'Carmon2019Unlabeled'",
    ) == [("NeurIPS", "ML", 2019, True)]
    assert (
        rows(con, "SELECT count(*) FROM catalog.models WHERE model_id LIKE 'robustbench:imagenet-1k/Linf/%'")[0][0]
        == 30
    )
    adversarial = dict(
        ((a, n), c)
        for a, n, c in rows(
            con,
            "SELECT attack, norm, count(*) FROM results.adversarial WHERE origin = 'published:robustbench' "
            "GROUP BY ALL",
        )
    )
    assert adversarial == {
        ("autoattack", "Linf"): 167,
        ("autoattack", "L2"): 21,
        ("reported", "Linf"): 164,
        ("reported", "L2"): 21,
    }
    assert rows(
        con,
        "SELECT clean_accuracy, robust_accuracy, accuracy_drop, epsilon, setting, n_examples, unreliable "
        "FROM results.adversarial WHERE model_id = 'robustbench:cifar10/Linf/Carmon2019Unlabeled' "
        "AND attack = 'autoattack'",
    ) == [(0.8969, 0.5953, pytest.approx(0.8969 - 0.5953), 8 / 255, "white-box", 10_000, False)]
    # the messy fields: 20 records state "reported": "" (and two more say null), corruption records have no AutoAttack
    # figure and most no epsilon: NULL with a note each
    notes = dict(
        ((r, f), n)
        for r, f, n in rows(
            con,
            "SELECT rule, split_part(detail, ' ', 1), count(*) FROM catalog.quarantine "
            "WHERE rule LIKE 'robustbench.null.%' GROUP BY ALL",
        )
    )
    assert notes[("robustbench.null.empty_value", "reported")] == 22
    assert (
        notes[("robustbench.null.missing_field", "the")] == 48
    )  # "the corruptions record has no 'autoattack_acc' field"
    assert notes[("robustbench.null.empty_value", "eps")] == 39
    # corruption results: every cell of the four tables, and each record's mean over its benchmark
    cells = rows(
        con, "SELECT benchmark, count(*) FROM results.corruption WHERE corruption <> 'all' GROUP BY ALL ORDER BY 1"
    )
    assert cells == [
        ("cifar10-c", 23 * 75),
        ("cifar100-c", 13 * 75),
        ("imagenet-3dcc", 12 * 60),
        ("imagenet-c", 12 * 75),
    ]
    assert rows(
        con,
        "SELECT accuracy FROM results.corruption WHERE model_id = 'robustbench:cifar10/corruptions/Standard' "
        "AND corruption = 'all'",
    ) == [(pytest.approx(0.7346),)]
    # the CSV writes Hendrycks2020AugMixWRN for the record Hendrycks2020AugMix_WRN
    assert (
        rows(
            con,
            "SELECT count(*) FROM results.corruption "
            "WHERE model_id = 'robustbench:cifar10/corruptions/Hendrycks2020AugMix_WRN'"
            " AND corruption <> 'all'",
        )[0][0]
        == 75
    )
    # reported against AutoAttack: one row per model whose claim and AutoAttack figure are both stated
    claims = rows(
        con,
        "SELECT count(*), count(*) FILTER (WHERE abs(gap - (claimed - measured)) < 1e-12) FROM "
        "analytics.reported_vs_measured WHERE claimed_figure = 'reported' AND measured_figure = 'autoattack'",
    )
    assert claims == [(185, 185)]

    # search: the robust-accuracy filters equal a reading of the files
    expected = set()
    for path in model_info.glob("*/Linf/*.json"):
        record = json.loads(path.read_text())
        if float(record["autoattack_acc"]) >= 65:
            expected.add(f"robustbench:{DATASETS[path.parent.parent.name]}/Linf/{path.stem}")
    _, found = search.search(con, search.Filters(threat_model="linf", min_robust_accuracy=0.65, limit=1000))
    assert {r[0] for r in found} == expected and len(expected) > 5
    with pytest.raises(search.SearchError):
        search.build_query(search.Filters(threat_model="Linf' OR 1=1 --"))
    sql, params = search.build_query(search.Filters(threat_model="L2", min_robust_accuracy=0.7))
    assert "L2" not in sql and "0.7" not in sql and params[:2] == ["L2", "L2"]

    # the report's RobustBench panel states the view's n and r
    figures = report.published_figures(con, settings.home / "report")
    stated = {g["panel"]: (g["n"], g["r"]) for g in figures[0].groups}
    assert stated["cifar100 · Linf"][0] == 38 and math.isclose(
        stated["cifar100 · Linf"][1], view[("cifar100", "Linf", round(8 / 255, 9))][1]
    )
    assert (settings.home / "report" / "reported_vs_measured.png").stat().st_size > 10_000


# --- perturbed copies -----------------------------------------------------------------------------------------


def perturbed_copy(model_info: Path, root: Path) -> Path:
    copy = root / "model_info"
    shutil.copytree(model_info, copy)

    def edit(rel, **changes):
        path = copy / rel
        record = json.loads(path.read_text())
        record.update(changes)
        path.write_text(json.dumps(record))

    linf = sorted((copy / "cifar10" / "Linf").glob("*.json"))
    a, b = (json.loads(p.read_text()) for p in linf[:2])
    edit(linf[0].relative_to(copy), clean_acc=b["clean_acc"])  # values moved between records
    edit(linf[1].relative_to(copy), clean_acc=a["clean_acc"])
    edit("imagenet/Linf/Salman2020Do_R50.json", autoattack_acc="10.00")
    for path in linf[2:6] + sorted((copy / "cifar100" / "Linf").glob("*.json"))[:1]:
        path.unlink()  # records dropped
    first = sorted((copy / "cifar100" / "Linf").glob("*.json"))[0]
    shutil.copy(first, first.with_name(first.stem + "_copy.json"))  # a record duplicated under another name
    edit(linf[6].relative_to(copy), eps="abc")  # malformed fields
    edit(linf[7].relative_to(copy), clean_acc="eighty")
    edit(linf[8].relative_to(copy), autoattack_acc="120")
    edit(linf[9].relative_to(copy), eps=0.031)  # a number, not a string
    (copy / "cifar10" / "L2" / "Broken.json").write_text('{"name": "cut off", "clean_acc": "9')
    (copy / "cifar10" / "L2" / "List.json").write_text("[1, 2]")
    (copy / "cifar10" / "L3").mkdir()
    shutil.copy(copy / "cifar10" / "L2" / "Standard.json", copy / "cifar10" / "L3" / "Standard.json")
    table = copy / "cifar100" / "corruptions" / "unaggregated_results.csv"
    lines = table.read_text().splitlines()
    lines.append(lines[3])  # a duplicated row
    lines.append(",".join(lines[4].split(",")[:10]))  # a short row
    cells = lines[5].split(",")
    cells[3] = "x"  # a malformed cell
    lines[5] = ",".join(cells)
    table.write_text("\n".join(lines) + "\n")
    return copy


def test_perturbed_copy_gives_views_equal_to_an_independent_computation(sn_home, model_info, tmp_path, monkeypatch):
    settings, con = build(monkeypatch, model_info)
    con.close()
    copy = perturbed_copy(model_info, tmp_path)
    settings, con = build(monkeypatch, copy)  # a second crawl into the same lake: the copy is the current snapshot
    assert_same_groups(view_groups(con), independent_groups(copy))
    assert_every_record_accounted(con, copy)
    excluded = dict(
        rows(
            con,
            "SELECT row_key, rule FROM catalog.quarantine WHERE rule LIKE 'robustbench.excluded.%' "
            "AND table_name = 'catalog.models'",
        )
    )
    assert excluded == {
        "robustbench:cifar10/L2/Broken": "robustbench.excluded.unreadable",
        "robustbench:cifar10/L2/List": "robustbench.excluded.unreadable",
        "robustbench:cifar10/L3/Standard": "robustbench.excluded.unknown_threat_model",
    }
    nulls = {
        r
        for (r,) in rows(
            con,
            "SELECT rule || ' ' || split_part(detail, ' ', 1) FROM catalog.quarantine "
            "WHERE table_name = 'results.adversarial'",
        )
    }
    assert {
        "robustbench.null.invalid_value eps",
        "robustbench.null.invalid_value clean_acc",
        "robustbench.null.out_of_range autoattack_acc",
    } <= nulls
    corruption_rules = {
        r for (r,) in rows(con, "SELECT rule FROM catalog.quarantine WHERE table_name = 'results.corruption'")
    }
    assert {
        "robustbench.excluded.duplicate_row",
        "robustbench.excluded.malformed_row",
        "robustbench.null.invalid_value",
    } <= corruption_rules


# --- HTTP: the folder as raw files on a loopback server -------------------------------------------------------


def folder_api(root: Path, prefix: str) -> FakeApi:
    """Serve ``root`` under ``prefix`` as raw files, with an HTML index per folder (as ``python -m http.server``)."""
    api = FakeApi()

    def handler(request):
        target = root / unquote(request.path[len(prefix) :]).strip("/")
        if target.is_dir():
            links = "".join(
                f'<li><a href="{quote(p.name)}{"/" if p.is_dir() else ""}">{p.name}</a></li>'
                for p in sorted(target.iterdir())
            )
            return Response(
                200,
                f'<html><body><a href="../">parent</a><ul>{links}</ul></body></html>',
                {"Content-Type": "text/html"},
            )
        if target.is_file():
            return Response(200, target.read_bytes(), {"Content-Type": "text/plain; charset=utf-8"})
        return Response(404, "404: Not Found")

    api.route("GET", prefix, handler, prefix=True)
    return api


def small_copy(model_info: Path, root: Path) -> Path:
    copy = root / "model_info"
    for folder in ("cifar10/L2", "cifar100/corruptions"):
        shutil.copytree(model_info / folder, copy / folder)
    (copy / "cifar10" / "L2" / "Broken.json").write_text('{"eps": "0.5", "clean_acc": ')
    return copy


def test_crawl_through_html_index_pages_survives_429_and_5xx_and_quarantines_malformed_json(
    sn_home, model_info, tmp_path, monkeypatch
):
    copy = small_copy(model_info, tmp_path)
    api = folder_api(copy, "/files/model_info")
    api.fail_next(
        "GET",
        "/files/model_info/cifar10/L2/Standard.json",
        Response(429, "slow down", {"Retry-After": "0"}),
        Response(503, "busy"),
    )
    api.fail_next("GET", "/files/model_info/cifar100/", Response(502, "bad gateway"))
    with LoopbackServer(api) as server:
        monkeypatch.setenv("SN_LAKE_ROBUSTBENCH_URL", f"{server.url}/files/model_info")
        settings = config.load()
        with PoliteClient(policy=FAST) as client:
            summary = crawl.crawl(settings, client=client, step_files=10)
            stats = client.stats
    files = sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*.*"))
    assert summary["files"] == len(files) and summary["steps"] == math.ceil(len(files) / 10) + 1
    assert stats["status_429"] == 1 and stats["status_503"] == 1 and stats["status_502"] == 1 and stats["retries"] == 3
    con = warehouse.connect(settings)
    catalog.build_models(settings, con)
    assert_every_record_accounted(con, copy)
    ((rule, detail),) = rows(
        con, "SELECT rule, detail FROM catalog.quarantine WHERE row_key = 'robustbench:cifar10/L2/Broken'"
    )
    assert rule == "robustbench.excluded.unreadable" and "not valid JSON" in detail
    assert rows(con, "SELECT count(*) FROM catalog.models WHERE source = 'robustbench'")[0][0] == 21 + 13
    raw = lake.read_raw(settings, "robustbench")
    urls = raw.filter(raw["native_id"] != crawl.MANIFEST)["request_url"]
    assert urls.str.starts_with(f"{server.url}/files/model_info/").all() and len(urls) == len(files)


def test_crawl_lists_upstream_through_the_git_trees_api_and_resumes_a_killed_crawl(
    sn_home, model_info, tmp_path, monkeypatch
):
    copy = small_copy(model_info, tmp_path)
    files = sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*.*"))
    api = folder_api(copy, "/RobustBench/robustbench/master/model_info")
    tree = {
        "sha": "abc",
        "truncated": False,
        "tree": [{"path": "README.md", "type": "blob"}, {"path": "model_info", "type": "tree"}]
        + [{"path": f"model_info/{f}", "type": "blob"} for f in files],
    }
    api.route("GET", "/repos/RobustBench/robustbench/git/trees/master", lambda request: Response(200, tree))
    served = set()
    original = api.dispatch

    def dying(request):  # the connection drops for good after 15 files: the crawl fails half-way
        if request.path.endswith((".json", ".csv")):
            served.add(request.path)
            if len(served) > 15 and not getattr(api, "healed", False):
                return Response(500, "down")
        return original(request)

    api.dispatch = dying
    with LoopbackServer(api) as server:
        monkeypatch.setenv("SN_LAKE_ROBUSTBENCH_URL", f"{server.url}/RobustBench/robustbench/master/model_info")
        monkeypatch.setenv("SN_LAKE_GITHUB_URL", server.url)
        settings = config.load()
        raw_hosts = (server.url.split("://")[1],)
        assert crawl.github_tree_url(settings.robustbench_url, settings.github_url, raw_hosts) == (
            f"{server.url}/repos/RobustBench/robustbench/git/trees/master?recursive=1",
            "model_info",
        )
        with PoliteClient(policy=FAST) as client:
            with pytest.raises(Exception, match="500"):
                crawl.crawl(settings, client=client, raw_hosts=raw_hosts, step_files=10)
            state = lake.load_state(settings, "robustbench")
            assert state["next"] == 10 and not lake.finished_crawls(settings, "robustbench")
            api.healed = True
            summary = crawl.crawl(settings, client=client, raw_hosts=raw_hosts, step_files=10)
    assert summary["resumed"] and summary["crawl_id"] == state["crawl_id"] and summary["files"] == len(files)
    assert len(api.requests_to("/repos/RobustBench/robustbench/git/trees/master")) == 1  # listed once, then resumed
    raw = lake.read_raw(settings, "robustbench")
    assert set(raw["native_id"]) == {*files, crawl.MANIFEST}
    assert len(rb_catalog.catalog_rows(raw)) == 21 + 13


def test_parsing_rules_for_epsilons_percentages_architectures_and_years():
    eighth = 8 / 255
    assert parse.parse_epsilon("8/255", "Linf")[0] == eighth
    assert (
        parse.parse_epsilon("0.031", "Linf")[0] == eighth
        and parse.parse_epsilon("0.031", "Linf")[2] == "0.031 read as 8/255"
    )
    assert parse.parse_epsilon("0.5", "L2")[:2] == (0.5, None) and parse.parse_epsilon("3.0", "L2")[0] == 3.0
    assert parse.parse_epsilon("0.3", "Linf")[0] == 0.3  # the rounding of 76/255 and of 77/255: read as written
    assert parse.parse_epsilon("0.031", "L2")[0] == 0.031  # an L2 radius is not on the 1/255 grid
    for bad, rule in (
        ("abc", "invalid_value"),
        ("8/0", "invalid_value"),
        ("300/255", "out_of_range"),
        ("", "empty_value"),
        (None, "empty_value"),
        (True, "invalid_value"),
    ):
        value, note, _ = parse.parse_epsilon(bad, "Linf")
        assert value is None and note.rule == f"robustbench.null.{rule}", bad
    assert parse.parse_percent("59.53", "clean_acc") == (0.5953, None) and parse.parse_percent(59.53, "x")[0] == 0.5953
    assert parse.parse_percent("null", "reported")[1].rule == "robustbench.null.empty_value"
    assert parse.parse_percent("101", "x")[1].rule == "robustbench.null.out_of_range"
    assert parse.parse_percent("nan%", "x")[1].rule == "robustbench.null.out_of_range"
    names = {
        "WideResNet-28-10": "wide_resnet28_10",
        "PreActResNet-18": "preactresnet18",
        "ResNet-50": "resnet50",
        "MeanSparse RaWideResNet-70-16": "wide_resnet70_16",
        "ResNet-152 + WideResNet-70-16": "resnet152",
        "WideResNet-70-16, Neural ODE block": "wide_resnet70_16",
        "XCiT-S12": "xcit_s12",
        "Swin-B": "swin_b",
        "DenseNet-121": "densenet121",
        "ResNeXt29_32x4d": "resnext29_32x4d",
        "": None,
    }
    assert {k: rb_catalog.architecture_name(k) for k in names} == names
    assert rb_catalog.venue_year("arXiv, Oct 2020", None) == 2020 and rb_catalog.venue_year("N/A", "2103.01946") == 2021
    entry = parse.read_entry({"path": "cifar10/Linf/X.json", "status": 404})
    assert entry.excluded.rule == "robustbench.excluded.not_found"
    entry = parse.read_entry({"path": "cifar10/Linf/X.json", "status": 200, "base64": "//4="})
    assert entry.excluded.rule == "robustbench.excluded.unreadable"


def test_unreachable_url_is_a_warn_check_and_a_local_folder_crawls(sn_home, model_info, monkeypatch):
    import dagster as dg

    from sn_lake.cli import load_definitions

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("SN_LAKE_ROBUSTBENCH_URL", str(model_info))
    monkeypatch.setenv("SN_LAKE_TIMM_RESULTS_URL", f"http://127.0.0.1:{closed}/results")
    defs = load_definitions()
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(
            [*defs.assets, *(defs.asset_checks or [])],
            resources=defs.resources,
            instance=instance,
            selection=dg.AssetSelection.from_string("key:raw_robustbench or key:raw_timm_results"),
            raise_on_error=False,
        )
    assert result.success
    checks = {e.check_name: (e.passed, e.severity) for e in result.get_asset_check_evaluations()}
    assert checks["robustbench_reachable"][0] is True
    assert checks["timm_results_reachable"] == (False, dg.AssetCheckSeverity.WARN)
    assert len(lake.finished_crawls(config.load(), "robustbench")) == 1


def test_our_adversarial_rows_carry_the_threat_model_from_the_run_config(sn_home, tmp_path):
    import torch

    from sn_lake.evaluate import data, models, pipeline, results

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 3))
    split = data.Split(torch.rand(12, 3, 4, 4), torch.randint(0, 3, (12,)))
    loaded = models.LoadedModel(
        model_id="local:tiny", revision="r1", classifier=net, config={}, folder=tmp_path, device=torch.device("cpu")
    )
    ctx = pipeline.Context(config.load(), loaded, data.DatasetSplits("digits", split, split, 3), torch.device("cpu"))
    cfg = pipeline.AdversarialConfig(
        epsilons=(2 / 255, 8 / 255), n_samples=10, pgd_steps=3, square_queries=5, transfer=False, seed=7
    )
    found = pipeline._rows_adversarial(ctx, cfg)
    assert {(r["attack"], r["norm"], r["n_examples"], r["seed"]) for r in found} == {
        (a, "Linf", 10, 7) for a in ("fgsm", "pgd", "square")
    }
    configs = {(r["attack"], r["epsilon"]): json.loads(r["attack_config"]) for r in found}
    assert configs[("pgd", 8 / 255)] == {
        "steps": 3,
        "step_size": pytest.approx(2.5 * 8 / 255 / 3),
        "restarts": 1,
        "queries": None,
        "random_start": True,
    }
    assert configs[("square", 2 / 255)]["queries"] == 5 and configs[("fgsm", 2 / 255)]["steps"] == 1
    import polars as pl

    settings = config.load()
    common = {
        "model_id": "local:tiny",
        "revision": "r1",
        "dataset": "digits",
        "origin": "computed",
        "config_hash": "c1",
        "device": "cpu",
        "runtime_s": 0.1,
        "computed_at": lake.utcnow(),
    }
    results.write(settings, "adversarial", "local:tiny", "c1", pl.DataFrame([{**common, **r} for r in found]))
    con = warehouse.connect(settings)
    results.load_into_warehouse(settings, con)
    warehouse.apply_sql(con, "views")
    assert (
        rows(
            con,
            "SELECT count(*) FROM results.adversarial WHERE norm = 'Linf' AND n_examples = 10 AND seed = 7 "
            "AND attack_config IS NOT NULL",
        )[0][0]
        == 6
    )
    worst = min(r["robust_accuracy"] for r in found if r["epsilon"] == 8 / 255)
    assert rows(
        con,
        "SELECT robust_accuracy FROM analytics.robustness_points WHERE origin = 'computed' AND epsilon = ?",
        [8 / 255],
    ) == [(pytest.approx(worst),)]
