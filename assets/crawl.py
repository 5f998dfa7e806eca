"""Crawl assets: each fetches one source into ``lake/raw/<source>/``."""

import dagster as dg

from assets.resources import SnLake
from sn_lake.sources import timm_registry


@dg.asset(group_name="crawl", kinds={"python", "parquet"})
def raw_timm(context: dg.AssetExecutionContext, sn_lake: SnLake) -> dg.MaterializeResult:
    """timm's pretrained registry (hub ids, architectures, tags, licences, papers) snapshotted into the lake."""
    summary = timm_registry.crawl(sn_lake.settings())
    context.log.info(f"timm crawl {summary['crawl_id']}: {summary['records']} records")
    return dg.MaterializeResult(metadata={k: v for k, v in summary.items() if v is not None})
