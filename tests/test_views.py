"""The analytics views on a small hand-made warehouse whose answers are known.

Expected correlations and Wilson intervals come from scipy (independent code); the tie, NULL and
verdict rules are checked on values worked out by hand.
"""

from datetime import UTC, datetime

import duckdb
import pytest
import scipy.stats

from sn_lake import warehouse
from tests.warehouse_rows import insert, model, result

APPROX = dict(rel=1e-9, abs=1e-12)


@pytest.fixture
def con(settings) -> duckdb.DuckDBPyConnection:
    con = warehouse.connect(settings)
    warehouse.apply_sql(con, "views")
    yield con
    con.close()


def rows(con, sql: str, params=()) -> list[dict]:
    columns, values = warehouse.query(con, sql, params)
    return [dict(zip(columns, row, strict=True)) for row in values]


def one(con, sql: str, params=()) -> dict:
    found = rows(con, sql, params)
    assert len(found) == 1, found
    return found[0]


def test_spearman_rank_averages_ties(con):
    ranks = con.execute(
        "SELECT x, analytics.spearman_rank(x, g) FROM (VALUES (1, 10), (1, 20), (1, 20), (1, 30), (1, NULL), (2, 5))"
        " t(g, x) ORDER BY g, x NULLS LAST"
    ).fetchall()
    assert ranks == [(10, 1.0), (20, 2.5), (20, 2.5), (30, 4.0), (None, None), (5, 1.0)]


def test_pearson_r_is_null_below_three_pairs_and_for_constant_values(con):
    assert con.execute("SELECT analytics.pearson_r(x, y) FROM (VALUES (1.0, 2.0), (2.0, 3.0)) t(x, y)").fetchone() == (
        None,
    )
    assert con.execute(
        "SELECT analytics.pearson_r(x, y) FROM (VALUES (1.0, 2.0), (1.0, 3.0), (1.0, 5.0)) t(x, y)"
    ).fetchone() == (None,)
    # a pair with a NULL does not count towards the three
    assert con.execute(
        "SELECT analytics.pearson_r(x, y) FROM (VALUES (1.0, 2.0), (2.0, 3.0), (3.0, NULL)) t(x, y)"
    ).fetchone() == (None,)


TEST_ACC = [0.9, 0.8, 0.8, 0.7, 0.6]  # ties in both variables
STEALING = [0.85, 0.7, 0.75, 0.7, 0.5]


def test_stealing_vs_accuracy(con):
    models = [model(f"timm:c{i}", purpose="benchmark", dataset="cifar10") for i in range(5)]
    models += [
        model("timm:m0", purpose="benchmark", dataset="mnist"),
        model("timm:m1", purpose="benchmark", dataset="mnist"),
    ]
    models += [model("timm:orphan", purpose="benchmark", dataset="cifar10")]  # stolen, but no task accuracy
    insert(con, "catalog.models", models)
    task = [result(f"timm:c{i}", dataset="cifar10", test_accuracy=a) for i, a in enumerate(TEST_ACC)]
    task += [
        result("timm:m0", dataset="mnist", test_accuracy=0.99),
        result("timm:m1", dataset="mnist", test_accuracy=0.97),
    ]
    # the same models' published figures form their own group
    task += [
        result(f"timm:c{i}", origin="published:securitynet", dataset="cifar10", test_accuracy=0.5) for i in range(3)
    ]
    stealing = []
    for i, s in enumerate(STEALING):
        if i == 0:
            # the primary configuration (own-dataset queries, default surrogate, largest budget) ran
            # with two seeds, averaged: (0.8 + 0.9) / 2 = 0.85; the other configurations do not count
            stealing += [
                result("timm:c0", dataset="cifar10", query_budget=5000, stealing_accuracy=0.8, agreement=0.8),
                result("timm:c0", dataset="cifar10", query_budget=5000, stealing_accuracy=0.9, agreement=1.0),
                result("timm:c0", dataset="cifar10", query_budget=1000, stealing_accuracy=0.1, agreement=0.1),
                result(
                    "timm:c0",
                    dataset="cifar10",
                    query_budget=5000,
                    surrogate_arch="wide_resnet",
                    stealing_accuracy=0.2,
                    agreement=0.2,
                ),
                result(
                    "timm:c0",
                    dataset="cifar10",
                    query_budget=5000,
                    aux_dataset="imagenet-1k",
                    stealing_accuracy=0.3,
                    agreement=0.3,
                ),
                result(
                    "timm:c0",
                    dataset="cifar10",
                    query_budget=9000,
                    label_only=True,
                    stealing_accuracy=0.4,
                    agreement=0.4,
                ),
            ]
        else:
            stealing.append(result(f"timm:c{i}", dataset="cifar10", stealing_accuracy=s, agreement=0.5))
    stealing += [
        result("timm:m0", dataset="mnist", stealing_accuracy=0.9, agreement=0.9),
        result("timm:m1", dataset="mnist", stealing_accuracy=0.8, agreement=0.7),
        result("timm:orphan", dataset="cifar10", stealing_accuracy=0.1, agreement=0.1),
    ]
    stealing += [
        result(
            f"timm:c{i}",
            origin="published:securitynet",
            dataset="cifar10",
            stealing_accuracy=0.4 + i / 10,
            agreement=0.5,
        )
        for i in range(3)
    ]
    insert(con, "results.task_accuracy", task)
    insert(con, "results.model_stealing", stealing)

    cifar = one(con, "SELECT * FROM analytics.stealing_vs_accuracy WHERE dataset = 'cifar10' AND origin = 'computed'")
    assert cifar["purpose"] == "benchmark"
    assert cifar["n_models"] == 5
    assert cifar["pearson_r"] == pytest.approx(scipy.stats.pearsonr(TEST_ACC, STEALING).statistic, **APPROX)
    assert cifar["spearman_r"] == pytest.approx(scipy.stats.spearmanr(TEST_ACC, STEALING).statistic, **APPROX)
    assert cifar["mean_test_accuracy"] == pytest.approx(sum(TEST_ACC) / 5)
    assert cifar["mean_stealing_accuracy"] == pytest.approx(sum(STEALING) / 5)
    assert cifar["mean_agreement"] == pytest.approx((0.9 + 0.5 * 4) / 5)

    mnist = one(con, "SELECT * FROM analytics.stealing_vs_accuracy WHERE dataset = 'mnist'")
    assert mnist["n_models"] == 2
    assert mnist["pearson_r"] is None and mnist["spearman_r"] is None
    assert mnist["mean_stealing_accuracy"] == pytest.approx(0.85)

    published = one(con, "SELECT * FROM analytics.stealing_vs_accuracy WHERE origin = 'published:securitynet'")
    assert published["n_models"] == 3
    assert published["pearson_r"] is None  # constant test accuracy: no correlation to report
    assert published["mean_stealing_accuracy"] == pytest.approx(0.5)


def test_mia_vs_overfitting(con):
    gaps = [0.0, 0.1, 0.3, 0.2, 0.05]
    m_entropy = [0.5, 0.6, 0.8, 0.65]  # models 0-3
    correctness = [0.5, 0.55, 0.65, 0.6, 0.52]  # models 0-4
    insert(con, "catalog.models", [model(f"timm:g{i}", purpose="security", dataset="cifar100") for i in range(5)])
    task = [result("timm:g0", dataset="cifar100", train_accuracy=0.7, test_accuracy=0.7)]  # gap from train - test
    task += [result(f"timm:g{i}", dataset="cifar100", overfit_gap=g) for i, g in enumerate(gaps) if i > 0]
    mia = [result(f"timm:g{i}", dataset="cifar100", attack="m_entropy", auc=a) for i, a in enumerate(m_entropy)]
    mia += [result(f"timm:g{i}", dataset="cifar100", attack="Correctness", auc=a) for i, a in enumerate(correctness)]
    mia += [result("timm:g0", dataset="cifar100", attack="loss", auc=0.99)]  # other attacks are not counted
    insert(con, "results.task_accuracy", task)
    insert(con, "results.membership_inference", mia)

    row = one(con, "SELECT * FROM analytics.mia_vs_overfitting")
    assert (row["dataset"], row["purpose"], row["origin"], row["n_models"]) == ("cifar100", "security", "computed", 5)
    assert row["pearson_r_m_entropy"] == pytest.approx(scipy.stats.pearsonr(gaps[:4], m_entropy).statistic, **APPROX)
    assert row["pearson_r_correctness"] == pytest.approx(scipy.stats.pearsonr(gaps, correctness).statistic, **APPROX)
    assert row["mean_overfit_gap"] == pytest.approx(sum(gaps) / 5)
    assert row["mean_m_entropy_auc"] == pytest.approx(sum(m_entropy) / 4)
    assert row["mean_correctness_auc"] == pytest.approx(sum(correctness) / 5)


def test_adversarial_vs_accuracy_takes_the_worst_attack_per_model(con):
    clean = [0.9, 0.8, 0.6]
    fgsm_drop = [0.3, 0.2, 0.4]
    pgd_drop = [0.5, 0.1, 0.45]
    eps = 8 / 255
    adv = []
    for i in range(3):
        adv.append(
            result(
                f"timm:a{i}",
                dataset="cifar10",
                setting="white-box",
                attack="fgsm",
                epsilon=eps,
                clean_accuracy=clean[i],
                robust_accuracy=clean[i] - fgsm_drop[i],
                accuracy_drop=fgsm_drop[i],
            )
        )
        # accuracy_drop left NULL: the view derives it from clean - robust
        adv.append(
            result(
                f"timm:a{i}",
                dataset="cifar10",
                setting="white-box",
                attack="pgd",
                epsilon=eps,
                clean_accuracy=clean[i],
                robust_accuracy=clean[i] - pgd_drop[i],
            )
        )
    adv += [
        result(
            f"timm:a{i}",
            dataset="cifar10",
            setting="white-box",
            attack="pgd",
            epsilon=1 / 255,
            clean_accuracy=clean[i],
            robust_accuracy=clean[i] - 0.01,
            accuracy_drop=0.01,
        )
        for i in range(2)
    ]
    insert(con, "results.adversarial", adv)

    row = one(con, "SELECT * FROM analytics.adversarial_vs_accuracy WHERE epsilon = ?", [eps])
    worst = [max(a, b) for a, b in zip(fgsm_drop, pgd_drop, strict=True)]
    assert (row["dataset"], row["setting"], row["origin"], row["n_models"]) == ("cifar10", "white-box", "computed", 3)
    assert row["pearson_r"] == pytest.approx(scipy.stats.pearsonr(clean, worst).statistic, rel=1e-9)
    assert row["mean_clean_accuracy"] == pytest.approx(sum(clean) / 3)
    assert row["mean_accuracy_drop"] == pytest.approx(sum(worst) / 3)

    small = one(con, "SELECT * FROM analytics.adversarial_vs_accuracy WHERE epsilon = ?", [1 / 255])
    assert small["n_models"] == 2 and small["pearson_r"] is None

    # a row without a dataset is grouped under its model's catalog dataset
    insert(con, "catalog.models", [model("timm:svhn-net", dataset="svhn")])
    insert(
        con,
        "results.adversarial",
        [
            result(
                "timm:svhn-net",
                setting="white-box",
                attack="pgd",
                epsilon=2 / 255,
                clean_accuracy=0.9,
                robust_accuracy=0.5,
            )
        ],
    )
    fallback = one(con, "SELECT * FROM analytics.adversarial_vs_accuracy WHERE epsilon = ?", [2 / 255])
    assert (fallback["dataset"], fallback["n_models"], fallback["mean_accuracy_drop"]) == (
        "svhn",
        1,
        pytest.approx(0.4),
    )


def test_backdoor_detection_rates_with_wilson_intervals(con):
    clean_ids = [f"local:clean{i}" for i in range(6)]
    insert(
        con,
        "catalog.models",
        [model(m, dataset="digits", known_backdoor=(None if i % 2 else False)) for i, m in enumerate(clean_ids)]
        + [
            model("local:bad0", dataset="digits", known_backdoor=True),
            model("local:bad1", dataset="digits", known_backdoor=True),
        ],
    )
    early, late = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
    runs = [
        result(
            m,
            dataset="digits",
            detector="neural_cleanse",
            flagged=(m == "local:clean0"),
            runtime_s=10.0 + i,
            computed_at=late,
        )
        for i, m in enumerate(clean_ids)
    ]
    # clean1 was flagged by an older run: only its most recent verdict counts
    runs.append(
        result(
            "local:clean1",
            dataset="digits",
            detector="neural_cleanse",
            flagged=True,
            runtime_s=100.0,
            computed_at=early,
            config_hash="old",
        )
    )
    runs += [
        result(m, dataset="digits", detector="neural_cleanse", flagged=True, runtime_s=20.0, computed_at=late)
        for m in ("local:bad0", "local:bad1")
    ]
    runs += [result("local:clean0", dataset="digits", detector="strip", flagged=False, runtime_s=1.0, computed_at=late)]
    insert(con, "results.backdoor_detection", runs)

    nc = one(con, "SELECT * FROM analytics.backdoor_detection WHERE detector = 'neural_cleanse'")
    wilson = scipy.stats.binomtest(1, 6).proportion_ci(method="wilson")
    assert (nc["dataset"], nc["origin"], nc["n_models"], nc["n_flagged"]) == ("digits", "computed", 8, 3)
    assert nc["false_positive_rate"] == pytest.approx(1 / 6)
    assert nc["fpr_ci_low"] == pytest.approx(wilson.low, rel=1e-9)
    assert nc["fpr_ci_high"] == pytest.approx(wilson.high, rel=1e-9)
    assert nc["true_positive_rate"] == pytest.approx(1.0)
    # runtimes of the nine runs: 10..15, 100, 20, 20 -> sorted, the fifth is 14
    assert nc["median_runtime_s"] == pytest.approx(14.0)

    strip = one(con, "SELECT * FROM analytics.backdoor_detection WHERE detector = 'strip'")
    assert strip["false_positive_rate"] == 0.0
    assert strip["fpr_ci_low"] == pytest.approx(0.0, abs=1e-12)
    assert strip["fpr_ci_high"] == pytest.approx(
        scipy.stats.binomtest(0, 1).proportion_ci(method="wilson").high, rel=1e-9
    )
    assert strip["true_positive_rate"] is None  # no known-backdoored model was run through STRIP


def test_benchmark_vs_security(con):
    insert(
        con,
        "catalog.models",
        [
            model("timm:b0", purpose="benchmark", dataset="cifar10"),
            model("timm:b1", purpose="benchmark", dataset="cifar10"),
            model("securitynet:s0", purpose="security", dataset="cifar10"),
        ],
    )
    insert(
        con,
        "results.task_accuracy",
        [
            result("timm:b0", dataset="cifar10", test_accuracy=0.9, overfit_gap=0.1),
            result("timm:b1", dataset="cifar10", test_accuracy=0.7, overfit_gap=0.3),
            result("securitynet:s0", "published:securitynet", dataset="cifar10", train_accuracy=0.9, test_accuracy=0.6),
        ],
    )
    insert(con, "results.model_stealing", [result("timm:b0", dataset="cifar10", stealing_accuracy=0.8)])
    insert(
        con,
        "results.membership_inference",
        [result("securitynet:s0", "published:securitynet", dataset="cifar10", attack="m_entropy", auc=0.7)],
    )
    found = {r["purpose"]: r for r in rows(con, "SELECT * FROM analytics.benchmark_vs_security")}
    assert found["benchmark"]["n_models"] == 2
    assert found["benchmark"]["mean_test_accuracy"] == pytest.approx(0.8)
    assert found["benchmark"]["mean_overfit_gap"] == pytest.approx(0.2)
    assert found["benchmark"]["mean_stealing_accuracy"] == pytest.approx(0.8)
    assert found["benchmark"]["mean_m_entropy_auc"] is None
    assert found["security"]["n_models"] == 1
    assert found["security"]["mean_overfit_gap"] == pytest.approx(0.3)
    assert found["security"]["mean_m_entropy_auc"] == pytest.approx(0.7)


def test_catalog_summary_covers_every_source(con):
    insert(
        con,
        "catalog.models",
        [
            model(
                "timm:t0",
                purpose="benchmark",
                data_category="natural",
                dataset="imagenet-1k",
                library="timm",
                weights_url="https://huggingface.co/timm/t0",
                paper_id="2110.00476",
            ),
            model("timm:t1", purpose="benchmark", data_category="natural", dataset="imagenet-1k", library="timm"),
            model(
                "securitynet:r1",
                purpose="security",
                data_category="digit",
                dataset="mnist",
                weights_url="https://zenodo.org/records/1/files/model.pth",
            ),
            model("kaggle:a/b/pyTorch/default", has_safetensors=True),
        ],
    )
    insert(
        con,
        "raw.crawls",
        [
            {
                "source": "timm",
                "crawl_id": "c1",
                "finished_at": datetime(2026, 11, 1, tzinfo=UTC),
                "n_records": 2,
                "n_steps": 1,
            },
            {
                "source": "huggingface",
                "crawl_id": "c2",
                "finished_at": datetime(2026, 11, 2, tzinfo=UTC),
                "n_records": 0,
                "n_steps": 1,
            },
        ],
    )
    insert(
        con,
        "results.task_accuracy",
        [result("timm:t0", test_accuracy=0.8), result("securitynet:r1", "published:securitynet", test_accuracy=0.9)],
    )
    found = {r["source"]: r for r in rows(con, "SELECT * FROM analytics.catalog_summary")}
    assert set(found) == {"timm", "securitynet", "kaggle", "huggingface"}
    timm = found["timm"]
    assert (timm["n_models"], timm["n_with_dataset"], timm["n_with_paper"], timm["n_loadable_weights"]) == (2, 2, 1, 1)
    assert (timm["n_evaluated"], timm["n_published"], timm["n_crawls"]) == (1, 0, 1)
    assert (found["securitynet"]["n_loadable_weights"], found["securitynet"]["n_published"]) == (1, 1)
    assert found["kaggle"]["n_loadable_weights"] == 1
    assert (found["huggingface"]["n_models"], found["huggingface"]["n_crawls"]) == (0, 1)


def test_new_models_since_a_date(con):
    insert(
        con,
        "catalog.models",
        [
            model("timm:old", first_seen_at=datetime(2026, 10, 1, tzinfo=UTC)),
            model("timm:new", first_seen_at=datetime(2026, 11, 20, tzinfo=UTC)),
        ],
    )
    insert(
        con,
        "raw.crawls",
        [
            {
                "source": "timm",
                "crawl_id": "c1",
                "finished_at": datetime(2026, 10, 1, 1, tzinfo=UTC),
                "n_records": 1,
                "n_steps": 1,
            },
            {
                "source": "timm",
                "crawl_id": "c2",
                "finished_at": datetime(2026, 11, 20, 1, tzinfo=UTC),
                "n_records": 2,
                "n_steps": 1,
            },
        ],
    )
    since = rows(
        con,
        "SELECT model_id, in_latest_crawl FROM analytics.new_models WHERE first_seen_at >= ?",
        [datetime(2026, 11, 1, tzinfo=UTC)],
    )
    assert since == [{"model_id": "timm:new", "in_latest_crawl": True}]
    assert [r["model_id"] for r in rows(con, "SELECT model_id FROM analytics.new_models")] == ["timm:new", "timm:old"]


def test_model_history_lists_revision_and_stat_changes(con):
    day = lambda d: datetime(2026, 11, d, tzinfo=UTC)  # noqa: E731
    insert(
        con,
        "catalog.model_versions",
        [
            {"model_id": "huggingface:a/m", "revision": "sha1", "first_seen_at": day(1), "last_modified": day(1)},
            {"model_id": "huggingface:a/m", "revision": "sha2", "first_seen_at": day(3), "last_modified": day(2)},
        ],
    )
    insert(
        con,
        "catalog.model_stats",
        [
            {"model_id": "huggingface:a/m", "observed_at": day(1), "downloads": 10, "likes": 1},
            {"model_id": "huggingface:a/m", "observed_at": day(2), "downloads": 10, "likes": 1},  # nothing changed
            {"model_id": "huggingface:a/m", "observed_at": day(3), "downloads": 25, "likes": 1},
        ],
    )
    history = con.execute(
        "SELECT observed_at, field, old_value, new_value FROM catalog.model_history WHERE model_id = ?",
        ["huggingface:a/m"],
    ).fetchall()
    assert [(h[0].day, *h[1:]) for h in history] == [
        (1, "downloads", None, "10"),
        (1, "likes", None, "1"),
        (1, "revision", None, "sha1"),
        (3, "downloads", "10", "25"),
        (3, "revision", "sha1", "sha2"),
    ]


def test_quality_report_lists_every_rule_and_foreign_quarantine_entries(con):
    now = datetime(2026, 11, 30, tzinfo=UTC)
    insert(
        con,
        "catalog.quality_rules",
        [
            {"table_name": "catalog.models", "rule": "num_classes_at_least_2", "action": "reject", "description": "d1"},
            {"table_name": "catalog.models", "rule": "model_id_unique", "action": "reject", "description": "d2"},
        ],
    )
    insert(
        con,
        "catalog.quality_runs",
        [
            {
                "table_name": "catalog.models",
                "rule": "num_classes_at_least_2",
                "checked_at": now,
                "n_checked": 10,
                "n_failed": 2,
            },
            {
                "table_name": "catalog.models",
                "rule": "model_id_unique",
                "checked_at": now,
                "n_checked": 10,
                "n_failed": 0,
            },
        ],
    )
    insert(
        con,
        "catalog.quarantine",
        [
            {
                "table_name": "catalog.models",
                "row_key": k,
                "rule": "num_classes_at_least_2",
                "detail": "num_classes=1",
                "detected_at": now,
            }
            for k in ("timm:x", "timm:y")
        ]
        + [
            {
                "table_name": "securitynet",
                "row_key": "row 7",
                "rule": "parse",
                "detail": "no model name",
                "detected_at": now,
            }
        ],
    )
    report = {(r["table_name"], r["rule"]): r for r in rows(con, "SELECT * FROM analytics.quality_report")}
    assert set(report) == {
        ("catalog.models", "num_classes_at_least_2"),
        ("catalog.models", "model_id_unique"),
        ("securitynet", "parse"),
    }
    bad = report[("catalog.models", "num_classes_at_least_2")]
    assert (bad["n_checked"], bad["n_failed"], bad["failed_fraction"], bad["n_quarantined"]) == (10, 2, 0.2, 2)
    assert sorted(bad["example_row_keys"]) == ["timm:x", "timm:y"]
    assert report[("catalog.models", "model_id_unique")]["n_failed"] == 0
    assert report[("securitynet", "parse")]["n_quarantined"] == 1
