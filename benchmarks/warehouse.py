"""Warehouse benchmark: build the catalog from 1,000,000 synthetic raw model records, load 200,000
result rows, then time every analytics view and a typical search.

Baseline, in the same run: the same catalog rows inserted one row at a time with ``executemany``.
That baseline runs at about a hundred rows a second on this machine, so it is timed on a sample
(``BENCH_BASELINE_SAMPLE`` rows, 5,000 by default) and scaled linearly to the full row count; the
JSON records the sample, its time and the scaled figure.

Goals (issue 5): the build at least 20 times faster than the baseline; every view and the search
under 200 ms median. Writes ``benchmarks/results/warehouse.json``.

    .venv/bin/python benchmarks/warehouse.py            # or `make bench`
    BENCH_MODELS=100000 BENCH_RESULTS=20000 .venv/bin/python benchmarks/warehouse.py   # a quick run
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

N_MODELS = int(os.environ.get("BENCH_MODELS", "1000000"))
N_RESULTS = int(os.environ.get("BENCH_RESULTS", "200000"))
BASELINE_SAMPLE = int(os.environ.get("BENCH_BASELINE_SAMPLE", "5000"))
STEP = 100_000  # raw records per lake file, as a crawl step
REPEATS = 7
SEED = 0
BUILD_SPEEDUP_GOAL = 20.0
QUERY_GOAL_MS = 200.0

ARCHITECTURES = [
    "resnet50",
    "vit_base_patch16_224",
    "convnext_tiny",
    "efficientnet_b0",
    "mobilenetv3_large_100",
    "deit_small_patch16_224",
    "regnety_040",
    "wide_resnet50_2",
    "densenet121",
    "swin_tiny_patch4_window7_224",
]
TAGS = [
    "a1_in1k",
    "augreg_in21k_ft_in1k",
    "tv_in1k",
    "fb_in22k",
    "in12k_ft_in1k",
    "ra2_in1k",
    "sw_in1k",
    "laion2b_ft_in1k",
]
DATASETS = ["cifar10", "cifar100", "svhn", "mnist", "imagenet-1k", "digits"]
NOW = datetime(2026, 11, 30, tzinfo=UTC)


def raw_records(rng: random.Random, start: int, stop: int) -> list[dict]:
    """Synthetic records in the timm source's raw format (what a crawl of its registry stores), first
    fetched over the year before the benchmark's date."""
    records = []
    for i in range(start, stop):
        arch, tag = rng.choice(ARCHITECTURES), rng.choice(TAGS)
        name = f"{arch}_{i}.{tag}"
        cfg = {
            "architecture": arch,
            "tag": tag,
            "num_classes": rng.choice([1000, 10, 100, 0]),
            "input_size": [3, 224, 224],
            "hf_hub_id": f"timm/{name}" if rng.random() < 0.8 else None,
            "license": rng.choice(["apache-2.0", "mit", None]),
            "paper_ids": rng.choice([None, "arXiv:2110.00476", "arXiv:2010.11929", "arXiv:1512.03385"]),
        }
        records.append(
            {
                "native_id": name,
                "request_url": f"python:timm==bench#pretrained_cfg={name}",
                "fetched_at": NOW - timedelta(seconds=rng.randrange(365 * 86400)),
                "payload": {"name": name, "timm_version": "bench", "pretrained_cfg": cfg},
            }
        )
    return records


def result_frames(model_ids: np.ndarray, rng: np.random.Generator) -> dict[str, pl.DataFrame]:
    """``N_RESULTS`` result rows over the five results tables, for models drawn from the catalog."""
    per_table = N_RESULTS // 5
    now = NOW

    def common(n: int) -> dict:
        return {
            "model_id": rng.choice(model_ids, n),
            "dataset": rng.choice(DATASETS, n),
            "origin": rng.choice(["computed", "published:securitynet"], n, p=[0.7, 0.3]),
            "config_hash": rng.choice(["c1", "c2", "c3"], n),
            "runtime_s": rng.gamma(2.0, 10.0, n),
            "computed_at": [now] * n,
        }

    n = per_table
    test = rng.uniform(0.3, 0.99, n)
    train = np.minimum(1.0, test + rng.uniform(0, 0.3, n))
    clean = rng.uniform(0.3, 0.99, n)
    robust = clean * rng.uniform(0, 1, n)
    return {
        "results.task_accuracy": pl.DataFrame(
            {**common(n), "train_accuracy": train, "test_accuracy": test, "overfit_gap": train - test}
        ),
        "results.model_stealing": pl.DataFrame(
            {
                **common(n),
                "query_budget": rng.choice([1000, 5000, 10000], n),
                "stealing_accuracy": rng.uniform(0.2, 0.95, n),
                "agreement": rng.uniform(0.2, 1, n),
            }
        ),
        "results.membership_inference": pl.DataFrame(
            {
                **common(n),
                "attack": rng.choice(["m_entropy", "correctness", "loss"], n),
                "auc": rng.uniform(0.5, 0.9, n),
            }
        ),
        "results.adversarial": pl.DataFrame(
            {
                **common(n),
                "setting": rng.choice(["white-box", "transfer", "query"], n),
                "attack": rng.choice(["fgsm", "pgd"], n),
                "epsilon": rng.choice([1, 2, 4, 8], n) / 255,
                "clean_accuracy": clean,
                "robust_accuracy": robust,
                "accuracy_drop": clean - robust,
            }
        ),
        "results.backdoor_detection": pl.DataFrame(
            {
                **common(n),
                "detector": rng.choice(["neural_cleanse", "strip", "neo"], n),
                "flagged": rng.random(n) < 0.1,
                "score": rng.uniform(0, 4, n),
            }
        ),
    }


def median_ms(run, repeats: int = REPEATS) -> tuple[float, int]:
    run()  # warm: the first run reads the file's pages
    times, rows = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        rows = run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), rows


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="sn_lake_bench_"))
    os.environ["SN_LAKE_HOME"] = str(home)
    from sn_lake import catalog, config, lake, search, warehouse

    settings = config.load()
    rng = random.Random(SEED)
    print(f"generating {N_MODELS:,} raw model records under {home}")
    for step, start in enumerate(range(0, N_MODELS, STEP), 1):
        lake.write_raw(settings, "timm", "bench-crawl", step, raw_records(rng, start, min(N_MODELS, start + STEP)))
    lake.finish_crawl(settings, "timm", "bench-crawl", {"records": N_MODELS, "steps": step})

    con = warehouse.connect(settings)
    started = time.perf_counter()
    built = catalog.build_models(settings, con)
    build_s = time.perf_counter() - started
    print(f"build: {built} catalog rows in {build_s:.1f} s (read raw, annotate, write, cross-source links)")

    # the baseline: the same catalog rows, one INSERT per row through executemany
    columns = [d[0] for d in con.execute("SELECT * FROM catalog.models LIMIT 0").description]
    sample = con.execute(
        f"SELECT * FROM catalog.models USING SAMPLE {BASELINE_SAMPLE} ROWS (reservoir, {SEED})"
    ).fetchall()
    con.execute(
        "CREATE SCHEMA IF NOT EXISTS bench; "
        "CREATE OR REPLACE TABLE bench.models AS SELECT * FROM catalog.models LIMIT 0"
    )
    started = time.perf_counter()
    con.executemany(f"INSERT INTO bench.models ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", sample)
    sample_s = time.perf_counter() - started
    baseline_s = sample_s * N_MODELS / len(sample)
    con.execute("DROP TABLE bench.models")
    speedup = baseline_s / build_s
    print(
        f"baseline executemany: {len(sample):,} rows in {sample_s:.1f} s -> {baseline_s:,.0f} s for {N_MODELS:,} rows; "
        f"build is {speedup:.0f}x faster (goal {BUILD_SPEEDUP_GOAL:.0f}x)"
    )

    # purposes, backdoor labels and history, so every view has groups to compute
    con.execute(
        "UPDATE catalog.models SET purpose = (['benchmark', 'security', 'other'])[(1 + hash(model_id) % 3)::BIGINT],"
        " known_backdoor = hash(model_id) % 50 = 0"
    )
    model_ids = np.array(
        [
            r[0]
            for r in con.execute(
                "SELECT model_id FROM catalog.models USING SAMPLE 50000 ROWS (reservoir, 1)"
            ).fetchall()
        ]
    )
    started = time.perf_counter()
    for table, frame in result_frames(model_ids, np.random.default_rng(SEED)).items():
        con.register("_frame", frame.to_arrow())
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _frame")
        con.unregister("_frame")
    con.execute("""
        INSERT INTO catalog.model_versions BY NAME
        SELECT model_id, 'sha' || (v % 3) AS revision,
            TIMESTAMPTZ '2026-11-01 00:00:00+00' + to_days(v::INTEGER) AS first_seen_at
        FROM (SELECT model_id FROM catalog.models USING SAMPLE 50000 ROWS (reservoir, 2)), range(3) r(v);
        INSERT INTO catalog.model_stats BY NAME
        SELECT model_id, TIMESTAMPTZ '2026-11-01 00:00:00+00' + to_days(v::INTEGER) AS observed_at,
            v * 10 AS downloads, v AS likes
        FROM (SELECT model_id FROM catalog.models USING SAMPLE 50000 ROWS (reservoir, 3)), range(3) r(v);
    """)
    results_s = time.perf_counter() - started
    n_history = con.execute(
        "SELECT (SELECT count(*) FROM catalog.model_versions) + (SELECT count(*) FROM catalog.model_stats)"
    ).fetchone()[0]
    warehouse.apply_sql(con, "views")
    con.execute("CHECKPOINT")
    con.close()
    print(f"loaded {N_RESULTS:,} result rows and {n_history:,} history rows in {results_s:.1f} s")

    reader = warehouse.connect(settings, read_only=True)
    history_id = reader.execute("SELECT model_id FROM catalog.model_versions ORDER BY model_id LIMIT 1").fetchone()[0]
    queries = {
        "analytics.stealing_vs_accuracy": ("SELECT * FROM analytics.stealing_vs_accuracy", []),
        "analytics.mia_vs_overfitting": ("SELECT * FROM analytics.mia_vs_overfitting", []),
        "analytics.adversarial_vs_accuracy": ("SELECT * FROM analytics.adversarial_vs_accuracy", []),
        "analytics.backdoor_detection": ("SELECT * FROM analytics.backdoor_detection", []),
        "analytics.benchmark_vs_security": ("SELECT * FROM analytics.benchmark_vs_security", []),
        "analytics.catalog_summary": ("SELECT * FROM analytics.catalog_summary", []),
        "analytics.quality_report": ("SELECT * FROM analytics.quality_report", []),
        "analytics.new_models (the last day)": (
            "SELECT * FROM analytics.new_models WHERE first_seen_at >= ?",
            [NOW - timedelta(days=1)],
        ),
        "catalog.model_history (one model)": ("SELECT * FROM catalog.model_history WHERE model_id = ?", [history_id]),
    }
    timings = {}
    for name, (sql, params) in queries.items():
        ms, rows = median_ms(lambda sql=sql, params=params: len(reader.execute(sql, params).fetchall()))
        timings[name] = {"median_ms": round(ms, 1), "rows": rows}
    typical = search.Filters(family="resnet", loadable_weights=True, min_accuracy=0.7, sort="accuracy", limit=20)
    ms, rows = median_ms(lambda: len(search.search(reader, typical)[1]))
    timings["search (family=resnet, loadable, min accuracy 0.7, top 20)"] = {"median_ms": round(ms, 1), "rows": rows}
    reader.close()

    width = max(map(len, timings))
    for name, t in timings.items():
        flag = "ok" if t["median_ms"] < QUERY_GOAL_MS else "SLOW"
        print(f"  {name.ljust(width)}  {t['median_ms']:8.1f} ms  ({t['rows']} rows)  {flag}")
    report = {
        "benchmark": "warehouse",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        },  # the cores are shared: timings scale with load
        "models": N_MODELS,
        "result_rows": N_RESULTS,
        "build_s": round(build_s, 2),
        "baseline": {
            "method": "executemany, one INSERT per row",
            "sample_rows": len(sample),
            "sample_s": round(sample_s, 2),
            "rows_per_s": round(len(sample) / sample_s, 1),
            "scaled_s": round(baseline_s, 1),
        },
        "build_speedup": round(speedup, 1),
        "build_speedup_goal": BUILD_SPEEDUP_GOAL,
        "queries": timings,
        "query_goal_ms": QUERY_GOAL_MS,
        "goals_met": speedup >= BUILD_SPEEDUP_GOAL and all(t["median_ms"] < QUERY_GOAL_MS for t in timings.values()),
    }
    out = ROOT / "benchmarks" / "results" / "warehouse.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"goals met: {report['goals_met']}; written to {out.relative_to(ROOT)}")
    if os.environ.get("BENCH_KEEP"):
        print(f"kept the benchmark's lake and warehouse under {home}")
    else:
        import shutil

        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
