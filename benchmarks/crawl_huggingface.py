"""Benchmark: sn-lake's Hugging Face crawl, its re-crawl, its memory at two Hub sizes, and (opt-in) the crawl a user
would write with huggingface_hub.

A loopback fake Hub (tests/fake_hub.py) serves image classifiers (``--images``, a quarter of the Hub's models; half
of them declare no metadata, so their facts are only in the README and the card pass needs more cards than the old
fixed cap of 2,000 allowed) and adds 20 ms to every request. For each size in ``--sizes``, measured from outside, as
separate processes of the real command (peak RSS from ``wait4``):

(a) ``sn-lake crawl huggingface --lake-only``: the first, complete crawl (listing with expand[], every card the
    listing lacks facts for, paced by the quota);
(k) ``sn-lake run --select key:catalog_models``: the catalog build over that lake;
(c) ``sn-lake crawl huggingface`` after 1% of the image classifiers pushed a new commit: the re-crawl, then the
    catalog, its checks and the views, as a user runs it.

``--baseline`` adds (b), at the first size: ``list_models(pipeline_tag=..., full=True)``, then ``model_info()`` and
``ModelCard.load()`` per model, as the huggingface_hub docs suggest (about 10 minutes at 5,000 image classifiers), and
checks that (a) and (b) give the same catalog content.

Goals: every needed card fetched by (a); (c) at most 3% of (a)'s requests; (a)'s peak RSS at the largest size at
most 1.3x the smallest's; (k)'s peak under 600 MB at the largest size; with (b): (a) 3x fewer requests and 10x faster.
Writes ``benchmarks/results/crawl_huggingface.json``.

    .venv/bin/python benchmarks/crawl_huggingface.py [--sizes 5000,50000] [--latency-ms 20] [--baseline]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import polars as pl  # noqa: E402
from fake_hub import FakeHub, synthetic_models  # noqa: E402

from sn_lake import config, lake  # noqa: E402
from sn_lake.annotate.model_cards import needs_card  # noqa: E402
from sn_lake.catalog import huggingface as hf  # noqa: E402
from sn_lake.sources.huggingface import parse as hf_parse  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "crawl_huggingface.json"
SN_LAKE = str(Path(sys.executable).with_name("sn-lake"))
SEEN_COLUMNS = ("first_seen_at", "last_seen_at")
IMAGE_SHARE = 0.25
BARE_SHARE = 0.5


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def baseline(endpoint: str, cache: Path) -> tuple[pl.DataFrame, int]:
    """What a user writes with huggingface_hub; returns the same raw records sn-lake keeps, and models seen."""
    os.environ["HF_ENDPOINT"] = endpoint  # huggingface_hub reads it at import
    os.environ["HF_HUB_CACHE"] = str(cache)
    from dataclasses import asdict

    from huggingface_hub import HfApi, ModelCard
    from huggingface_hub.errors import EntryNotFoundError
    from huggingface_hub.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # "Repo card metadata block was not found" for every bare card

    api = HfApi(endpoint=endpoint)
    records = []
    fetched_at = lake.utcnow()
    listed = list(api.list_models(pipeline_tag="image-classification", full=True))
    for item in listed:
        info = api.model_info(item.id)
        try:
            card = ModelCard.load(info.id).content
        except EntryNotFoundError:
            card = ""
        payload = {
            "id": info.id,
            "sha": info.sha,
            "lastModified": _iso(info.last_modified),
            "createdAt": _iso(info.created_at),
            "tags": info.tags,
            "pipeline_tag": info.pipeline_tag,
            "library_name": info.library_name,
            "downloads": info.downloads,
            "likes": info.likes,
            "cardData": info.card_data.to_dict() if info.card_data else None,
            "model-index": info.model_index,
            "safetensors": asdict(info.safetensors) if info.safetensors else None,
            "config": info.config,
        }
        url = f"{endpoint}/api/models/{info.id}"
        records.append({"native_id": info.id, "request_url": url, "payload": json.dumps(payload), "step": 1})
        card_at = hf_parse.card_url(endpoint, info.id, info.sha)
        records.append({"native_id": info.id, "request_url": card_at, "payload": card, "step": 2})
    raw = pl.DataFrame(
        [{"source": hf.SOURCE, "crawl_id": "baseline", "fetched_at": fetched_at, **r} for r in records],
        schema=lake.RAW_SCHEMA,
    )
    return raw, len(listed)


# Started by this (large) process, it starts the command and reports the command's own peak RSS. A process exec'd
# straight from here would inherit this process's high-water mark (the kernel keeps it across fork and exec), so
# the command is forked from this small launcher instead, as `/usr/bin/time` would measure it.
LAUNCHER = """
import json, os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
json.dump({"exit": os.waitstatus_to_exitcode(status), "maxrss_kb": usage.ru_maxrss}, open(sys.argv[1], "w"))
"""


def run_measured(args: list[str], env: dict, log: Path) -> dict:
    """Run a command to its end; its wall seconds and peak RSS (MB, the kernel's high-water mark of that process)."""
    started = time.perf_counter()
    report = log.with_suffix(".rusage.json")
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(args)}\n")
        out.flush()
        subprocess.run(
            [sys.executable, "-c", LAUNCHER, str(report), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            check=False,
        )
    measured = json.loads(report.read_text())
    if measured["exit"] != 0:
        raise SystemExit(f"{' '.join(args)} exited with {measured['exit']}: see {log}")
    return {"seconds": round(time.perf_counter() - started, 2), "peak_rss_mb": round(measured["maxrss_kb"] / 1024, 1)}


def measure_size(images: int, latency_ms: float, seed: int, work: Path, with_baseline: bool) -> dict:
    """(a), (k), (c) (and (b)) on a fake Hub of ``images`` image classifiers."""
    models = synthetic_models(round(images / IMAGE_SHARE), seed=seed, image_share=IMAGE_SHARE, bare_share=BARE_SHARE)
    n_images = sum(m.get("pipeline_tag") == "image-classification" for m in models)
    home, dagster_home, log = work / f"home-{images}", work / f"dagster-{images}", work / f"log-{images}.txt"
    dagster_home.mkdir(parents=True)
    shutil.copy(config.DAGSTER_HOME_DIR / "dagster.yaml", dagster_home / "dagster.yaml")
    with FakeHub(models, latency_s=latency_ms / 1000) as hub:
        del models
        env = {
            **os.environ,
            "SN_LAKE_HOME": str(home),
            "DAGSTER_HOME": str(dagster_home),
            "HF_ENDPOINT": hub.url,
            "SN_LAKE_PROGRESS": "log",
            "GX_ANALYTICS_ENABLED": "false",
            "DAGSTER_DISABLE_TELEMETRY": "1",
        }
        env.pop("HF_TOKEN", None)
        os.environ.update(SN_LAKE_HOME=str(home), HF_ENDPOINT=hub.url)
        settings = config.load()
        images_now = [m for m in hub.models() if m.get("pipeline_tag") == "image-classification"]
        needed = sum(1 for m in images_now if needs_card(m))

        # (a) the first crawl, complete
        mark = len(hub.request_log)
        a = run_measured([SN_LAKE, "crawl", "huggingface", "--lake-only"], env, log)
        crawl_a = lake.finished_crawls(settings, hf.SOURCE)[-1]
        a.update(
            requests=len(hub.request_log) - mark,
            crawl_seconds=crawl_a["seconds"],
            pages=crawl_a["pages"],
            cards=crawl_a["cards_fetched"],
            cards_needed=needed,
            cards_pending=crawl_a["cards_pending"],
            http_429=sum(r.status == 429 for r in hub.request_log[mark:]),
            config_json_requests=sum(r.path.endswith("config.json") for r in hub.request_log[mark:]),
        )

        # (k) the catalog build over that lake
        k = run_measured([SN_LAKE, "run", "--select", "key:catalog_models"], env, log)

        result = {"models_on_hub": len(hub.models()), "image_classifiers": n_images}
        if with_baseline:
            rows_a = hf.catalog_rows(lake.read_raw(settings, hf.SOURCE))
            mark = len(hub.request_log)
            started = time.perf_counter()
            raw_b, listed_b = baseline(hub.url, work / "hf_cache")
            b = {
                "requests": len(hub.request_log) - mark,
                "seconds": round(time.perf_counter() - started, 2),
                "models": listed_b,
            }
            rows_b = hf.catalog_rows(raw_b)
            compare = [c for c in rows_a.columns if c not in SEEN_COLUMNS]
            left, right = rows_a.select(compare).sort("model_id"), rows_b.select(compare).sort("model_id")
            b["same_catalog_as_a"] = left.equals(right)
            if not b["same_catalog_as_a"]:
                diff = left.join(right, on="model_id", how="full", suffix="_b")
                print("catalog differences (first rows):", diff.head(3).to_dicts(), file=sys.stderr)
            result["b_huggingface_hub_baseline"] = b

        # (c) re-crawl after 1% of the image classifiers changed, then catalog, checks and views
        ordered = sorted(images_now, key=lambda m: m["id"])
        step = max(1, len(ordered) // max(1, len(ordered) // 100))
        changed = ordered[::step][: max(1, len(ordered) // 100)]
        for m in changed:
            hub.update_model(m["id"], downloads=m["downloads"] + 1)
        mark = len(hub.request_log)
        c = run_measured([SN_LAKE, "crawl", "huggingface"], env, log)
        crawl_c = lake.finished_crawls(settings, hf.SOURCE)[-1]
        c.update(
            requests=len(hub.request_log) - mark,
            crawl_seconds=crawl_c["seconds"],
            changed_models=len(changed),
            cards=crawl_c["cards_fetched"],
            http_429=sum(r.status == 429 for r in hub.request_log[mark:]),
        )
    result.update(a_first_crawl=a, k_catalog_build=k, c_recrawl_1pct_with_catalog=c)
    result["recrawl_requests_share_of_a"] = round(c["requests"] / a["requests"], 4)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,50000", help="image classifiers on the fake Hub, comma-separated")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--baseline", action="store_true", help="also run the huggingface_hub baseline at the first size"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the results go")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    sizes = [int(s) for s in args.sizes.split(",") if s]

    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, images in enumerate(sizes):
            print(f"== {images} image classifiers", flush=True)
            runs[str(images)] = measure_size(images, args.latency_ms, args.seed, Path(tmp), args.baseline and i == 0)
            print(json.dumps(runs[str(images)], indent=2), flush=True)

    small, large = runs[str(min(sizes))], runs[str(max(sizes))]
    command = "c_recrawl_1pct_with_catalog"
    result = {
        "benchmark": "crawl_huggingface",
        "latency_ms": args.latency_ms,
        "bare_share_of_image_classifiers": BARE_SHARE,
        "sizes": runs,
        "crawl_peak_rss_ratio_largest_over_smallest": round(
            large["a_first_crawl"]["peak_rss_mb"] / small["a_first_crawl"]["peak_rss_mb"], 3
        ),
        "command_peak_rss_ratio_largest_over_smallest": round(
            large[command]["peak_rss_mb"] / small[command]["peak_rss_mb"], 3
        ),
    }
    goals = {
        "a_every_needed_card": all(
            r["a_first_crawl"]["cards"] == r["a_first_crawl"]["cards_needed"] for r in runs.values()
        ),
        "a_cards_beyond_the_old_cap_of_2000": small["a_first_crawl"]["cards"] > 2000,
        "no_429_no_config_json": all(
            r["a_first_crawl"]["http_429"] == r["c_recrawl_1pct_with_catalog"]["http_429"] == 0
            and r["a_first_crawl"]["config_json_requests"] == 0
            for r in runs.values()
        ),
        "c_at_most_3pct_of_a": all(r["recrawl_requests_share_of_a"] <= 0.03 for r in runs.values()),
    }
    if len(sizes) > 1:
        goals["a_peak_rss_at_most_1_3x"] = result["crawl_peak_rss_ratio_largest_over_smallest"] <= 1.3
        goals["k_catalog_build_under_600_mb_at_largest"] = large["k_catalog_build"]["peak_rss_mb"] < 600
    b = small.get("b_huggingface_hub_baseline")
    if b:
        a = small["a_first_crawl"]
        result["request_ratio_b_over_a"] = round(b["requests"] / a["requests"], 2)
        result["speedup_b_over_a"] = round(b["seconds"] / a["crawl_seconds"], 2)
        goals.update(
            a_3x_fewer_requests=result["request_ratio_b_over_a"] >= 3,
            a_10x_faster=result["speedup_b_over_a"] >= 10,
            same_catalog=b["same_catalog_as_a"],
        )
    result["goals_met"] = goals
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
