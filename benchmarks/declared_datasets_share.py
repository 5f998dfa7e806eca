"""Share of image classifiers with a dataset in ``catalog.models``, on the synthetic Hub of today's mix (issue #13).

A loopback fake Hub (tests/fake_hub.py, ``synthetic_hub``: ``HUB_MIX`` of declared datasets, half the image
classifiers with bare, prose-only cards) is crawled with ``sn_lake.sources.huggingface.crawl`` and built with
``sn_lake.catalog.build_models``; the script prints, as JSON, the share of image classifiers with a dataset and, per
form of declaration, how many the code answers as the contract says. ``--code`` imports ``sn_lake`` from another
checkout (for example the commit before the declared-dataset rule, in a ``git worktree``), fed the same Hub. The
card pass is never capped (a cap, where the code has one, is raised), so only the dataset rule differs.

    .venv/bin/python benchmarks/declared_datasets_share.py [--images 4000] [--seed 13] [--code PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4000, help="image classifiers on the fake Hub (about)")
    parser.add_argument("--image-share", type=float, default=0.25)
    parser.add_argument("--bare-share", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose sn_lake is measured")
    args = parser.parse_args()
    sys.path[:0] = [str(args.code.resolve()), str(ROOT / "tests")]  # the measured sn_lake; this checkout's fake Hub

    from fake_hub import FakeHub, synthetic_hub

    from sn_lake import catalog, config, warehouse
    from sn_lake.http_client import RetryPolicy
    from sn_lake.sources.huggingface import crawl as hf

    n = round(args.images / args.image_share)
    models, truth = synthetic_hub(n, seed=args.seed, image_share=args.image_share, bare_share=args.bare_share)
    uncapped = {} if hf.CrawlConfig().card_cap is None else {"card_cap": 10**9}
    with tempfile.TemporaryDirectory() as home, FakeHub(models) as hub:
        os.environ.update(SN_LAKE_HOME=home, HF_ENDPOINT=hub.url)
        os.environ.pop("HF_TOKEN", None)
        settings = config.load()
        summary = hf.crawl(settings, hf.CrawlConfig(retry=RetryPolicy(attempts=3, backoff_base=0.01), **uncapped))
        con = warehouse.connect(settings)
        catalog.build_models(settings, con)
        columns = {
            c
            for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'catalog' AND table_name = 'models'"
            ).fetchall()
        }
        note = "dataset_note" if "dataset_note" in columns else "NULL"
        rows = {
            name: (dataset, why)
            for name, dataset, why in con.execute(
                f"SELECT name, dataset, {note} FROM catalog.models WHERE source = 'huggingface'"
            ).fetchall()
        }
        con.close()
    assert set(rows) == set(truth), "the catalog's image classifiers are not the Hub's"
    forms, right = Counter(), Counter()
    for repo_id, (expected, form) in truth.items():
        dataset, why = rows[repo_id]
        forms[form] += 1
        if form == "imagefolder":
            right[form] += dataset is None and bool(why) and "imagefolder" in why
        else:
            right[form] += dataset == expected
    with_dataset = sum(dataset is not None for dataset, _ in rows.values())
    print(
        json.dumps(
            {
                "sn_lake": str(Path(catalog.__file__).parent.parent),
                "models_on_hub": len(models),
                "image_classifiers": len(rows),
                "seed": args.seed,
                "bare_share": args.bare_share,
                "cards_fetched": summary.get("cards_fetched"),
                "with_dataset": with_dataset,
                "share_with_dataset": round(with_dataset / len(rows), 4),
                "declaring": sum(f not in ("imagefolder", "undeclared") for f in forms.elements()),
                "as_the_contract_says": {form: f"{right[form]}/{forms[form]}" for form in sorted(forms)},
                "datasets": dict(Counter(d for d, _ in rows.values() if d).most_common()),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
