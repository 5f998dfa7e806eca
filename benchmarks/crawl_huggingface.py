"""Benchmark: sn-lake's Hugging Face crawl against the crawl a user would write with huggingface_hub.

A loopback fake Hub (tests/fake_hub.py) serves 20,000 models, a quarter of them image classifiers
(about a third of those declare no metadata: their facts are only in the README), and adds 20 ms
to every request. Measured in one run:

(a) sn-lake's full crawl (listing with expand[], cards only where the listing lacks facts);
(b) the baseline: ``list_models(pipeline_tag=..., full=True)``, then ``model_info()`` and
    ``ModelCard.load()`` per model, as the huggingface_hub docs suggest;
(c) sn-lake's re-crawl after 1% of the image classifiers pushed a new commit.

It checks that (a) and (b) give the same catalog content, prints the ratios and writes
``benchmarks/results/crawl_huggingface.json``. Goals: (a) at least 3x fewer requests and 10x
faster than (b); (c) at most 3% of (a)'s requests.

    .venv/bin/python benchmarks/crawl_huggingface.py [--models 20000] [--latency-ms 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import polars as pl  # noqa: E402

from fake_hub import FakeHub, synthetic_models  # noqa: E402
from sn_lake import config, lake  # noqa: E402
from sn_lake.sources import huggingface as hf  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "crawl_huggingface.json"
SEEN_COLUMNS = ("first_seen_at", "last_seen_at")


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
        records.append({"native_id": info.id, "request_url": hf.card_url(endpoint, info.id, info.sha), "payload": card, "step": 2})
    raw = pl.DataFrame(
        [{"source": hf.SOURCE, "crawl_id": "baseline", "fetched_at": fetched_at, **r} for r in records], schema=lake.RAW_SCHEMA
    )
    return raw, len(listed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

    models = synthetic_models(args.models, seed=args.seed)
    n_images = sum(m.get("pipeline_tag") == "image-classification" for m in models)
    with tempfile.TemporaryDirectory() as tmp, FakeHub(models, latency_s=args.latency_ms / 1000) as hub:
        os.environ["SN_LAKE_HOME"] = str(Path(tmp) / "home")
        os.environ["HF_ENDPOINT"] = hub.url
        os.environ.pop("HF_TOKEN", None)
        settings = config.load()

        # (a) sn-lake's full crawl
        mark = len(hub.request_log)
        started = time.perf_counter()
        crawl_a = hf.crawl(settings)
        a_seconds = time.perf_counter() - started
        a_requests = len(hub.request_log) - mark
        rows_a = hf.catalog_rows(lake.read_raw(settings, hf.SOURCE))

        # (b) the huggingface_hub baseline
        mark = len(hub.request_log)
        started = time.perf_counter()
        raw_b, listed_b = baseline(hub.url, Path(tmp) / "hf_cache")
        b_seconds = time.perf_counter() - started
        b_requests = len(hub.request_log) - mark
        rows_b = hf.catalog_rows(raw_b)

        compare = [c for c in rows_a.columns if c not in SEEN_COLUMNS]
        left, right = rows_a.select(compare).sort("model_id"), rows_b.select(compare).sort("model_id")
        same_catalog = left.equals(right)
        if not same_catalog:
            diff = left.join(right, on="model_id", how="full", suffix="_b")
            print("catalog differences (first rows):", diff.head(3).to_dicts(), file=sys.stderr)

        # (c) re-crawl after 1% of the image classifiers changed
        images = sorted((m for m in hub.models() if m.get("pipeline_tag") == "image-classification"), key=lambda m: m["id"])
        changed = images[:: max(1, len(images) // max(1, len(images) // 100))][: max(1, len(images) // 100)]
        for m in changed:
            hub.update_model(m["id"], downloads=m["downloads"] + 1)
        mark = len(hub.request_log)
        started = time.perf_counter()
        crawl_c = hf.crawl(settings)
        c_seconds = time.perf_counter() - started
        c_requests = len(hub.request_log) - mark

    result = {
        "benchmark": "crawl_huggingface",
        "models_on_hub": args.models,
        "image_classifiers": n_images,
        "latency_ms": args.latency_ms,
        "a_sn_lake_full_crawl": {"requests": a_requests, "seconds": round(a_seconds, 2), "pages": crawl_a["pages"], "cards": crawl_a["cards_fetched"], "models": rows_a.height},
        "b_huggingface_hub_baseline": {"requests": b_requests, "seconds": round(b_seconds, 2), "models": listed_b},
        "c_sn_lake_recrawl_1pct": {"requests": c_requests, "seconds": round(c_seconds, 2), "changed_models": len(changed), "cards": crawl_c["cards_fetched"]},
        "request_ratio_b_over_a": round(b_requests / a_requests, 2),
        "speedup_b_over_a": round(b_seconds / a_seconds, 2),
        "recrawl_requests_share_of_a": round(c_requests / a_requests, 4),
        "same_catalog_a_and_b": same_catalog,
    }
    result["goals_met"] = {
        "a_3x_fewer_requests": result["request_ratio_b_over_a"] >= 3,
        "a_10x_faster": result["speedup_b_over_a"] >= 10,
        "c_at_most_3pct_of_a": result["recrawl_requests_share_of_a"] <= 0.03,
        "same_catalog": same_catalog,
    }
    print(json.dumps(result, indent=2))
    print(
        f"requests: sn-lake {a_requests} vs baseline {b_requests} ({result['request_ratio_b_over_a']}x fewer); "
        f"time: {a_seconds:.1f}s vs {b_seconds:.1f}s ({result['speedup_b_over_a']}x faster); "
        f"re-crawl after 1% change: {c_requests} requests ({100 * result['recrawl_requests_share_of_a']:.2f}% of a full crawl)"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if all(result["goals_met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
