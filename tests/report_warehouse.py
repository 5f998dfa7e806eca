"""A small hand-made warehouse with every kind of result, computed and published, for the report and
export tests (fixed numbers; no randomness)."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from sn_lake import warehouse
from tests.warehouse_rows import insert, model, result

AT = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def fill(con: duckdb.DuckDBPyConnection) -> None:
    """Five CIFAR-10 models and three MNIST models, with results of both origins, and the views."""
    cifar = [f"local:cifar{i}" for i in range(5)]
    mnist = [f"local:mnist{i}" for i in range(3)]
    insert(
        con,
        "catalog.models",
        [
            *[
                model(
                    m,
                    dataset="cifar10",
                    purpose="benchmark",
                    model_type="resnet" if i % 2 else "vgg",
                    data_category="natural",
                    library="timm",
                    license="mit",
                    weights_url=f"https://x/{m}.safetensors",
                    created_at=datetime(2021 + i % 3, 5, 1, tzinfo=UTC),
                    known_backdoor=(i == 4),
                )
                for i, m in enumerate(cifar)
            ],
            *[
                model(
                    m,
                    dataset="mnist",
                    purpose="security",
                    model_type="lenet",
                    data_category="digit",
                    paper_id="2110.00476",
                    known_backdoor=False,
                )
                for m in mnist
            ],
        ],
    )
    insert(
        con,
        "catalog.papers",
        [{"paper_id": "2110.00476", "title": "A paper", "year": 2021, "authors": ["A. B"], "n_authors": 1}],
    )
    insert(con, "raw.crawls", [{"source": "local", "crawl_id": "c1", "finished_at": AT, "n_records": 8, "n_steps": 1}])
    test_acc = {m: 0.60 + 0.07 * i for i, m in enumerate(cifar)} | {m: 0.95 + 0.01 * i for i, m in enumerate(mnist)}
    rows_acc, rows_steal, rows_mia, rows_adv, rows_bd = [], [], [], [], []
    for origin in ("computed", "published:securitynet"):
        shift = 0.0 if origin == "computed" else 0.02
        for i, (m, acc) in enumerate(test_acc.items()):
            rows_acc.append(
                result(
                    m,
                    origin,
                    dataset=m.split(":")[1].rstrip("0123456789").replace("cifar", "cifar10"),
                    train_accuracy=min(1.0, acc + 0.05 * (i % 4) + shift),
                    test_accuracy=acc,
                    overfit_gap=None,
                    runtime_s=1.5,
                    computed_at=AT,
                )
            )
            rows_steal.append(
                result(
                    m,
                    origin,
                    stealing_accuracy=acc * (0.8 + 0.03 * (i % 3)) - shift,
                    agreement=0.7 + 0.02 * i,
                    query_budget=1000,
                    label_only=False,
                )
            )
            rows_steal.append(
                result(m, origin, stealing_accuracy=0.1, agreement=0.1, query_budget=100, label_only=True)
            )  # not primary
            rows_mia.append(result(m, origin, attack="m_entropy", auc=0.5 + 0.04 * (i % 4) + shift))
            rows_mia.append(result(m, origin, attack="correctness", auc=0.5 + 0.03 * (i % 4)))
            for eps in (2 / 255, 8 / 255):
                rows_adv.append(
                    result(
                        m,
                        origin,
                        setting="white-box",
                        attack="pgd",
                        epsilon=eps,
                        clean_accuracy=acc,
                        robust_accuracy=acc * (0.5 - 20 * eps * (i % 3) / 10),
                        accuracy_drop=None,
                    )
                )
            rows_adv.append(
                result(
                    m,
                    origin,
                    setting="black-box-transfer",
                    attack="pgd",
                    epsilon=8 / 255,
                    clean_accuracy=acc,
                    robust_accuracy=acc * (0.7 + 0.05 * (i % 2)),
                    accuracy_drop=None,
                )
            )
        for i, m in enumerate(cifar + mnist):
            rows_bd.append(
                result(m, origin, detector="neural_cleanse", flagged=(i in (1, 4)), score=float(i), runtime_s=2.0 + i)
            )
    insert(con, "results.task_accuracy", rows_acc)
    insert(con, "results.model_stealing", rows_steal)
    insert(con, "results.membership_inference", rows_mia)
    insert(con, "results.adversarial", rows_adv)
    insert(con, "results.backdoor_detection", rows_bd)
    warehouse.apply_sql(con, "views")
