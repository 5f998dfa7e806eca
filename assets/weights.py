"""Weights assets: the files behind catalog.models' GitHub and Zenodo links."""

import dagster as dg

from assets.catalog import catalog_models
from assets.constants import DUCKDB_WRITE_POOL
from assets.resources import SnLake
from sn_lake.catalog import weights as weights_catalog
from sn_lake.sources.weights import crawl as weights


class WeightsCrawlConfig(dg.Config):
    """Run config of ``raw_weights``."""

    full: bool = False  # ask again about links already asked
    sniff_bytes: bool = False  # read each matched file's first 64 bytes (ranged GET) to tell its format from the bytes


@dg.asset(
    group_name="crawl",
    deps=[catalog_models],
    kinds={"github", "parquet"},
    check_specs=[
        dg.AssetCheckSpec(
            "weights_hosts_reachable",
            asset="raw_weights",
            description="WARN when GitHub's or Zenodo's public API could not be reached.",
        )
    ],
)
def raw_weights(context: dg.AssetExecutionContext, sn_lake: SnLake, config: WeightsCrawlConfig) -> dg.MaterializeResult:
    """GitHub (releases, repository contents) and Zenodo (records) answers for catalog.models' weights links, each
    link asked once."""
    settings = sn_lake.settings()
    links = weights_catalog.catalog_links(settings)  # the crawl takes its links from the catalog, as an argument
    summary = weights.crawl(settings, links, full=config.full, sniff_bytes=config.sniff_bytes)
    if summary["unreachable"]:
        context.log.warning(
            f"skipped this run: {summary['errors']}; the links not asked yet are asked next run, "
            "catalog.weight_files keeps what the lake holds."
        )
    unreachable = ", ".join(summary["unreachable"]) or "none"
    return dg.MaterializeResult(
        metadata={
            **{k: v for k, v in summary.items() if k not in ("unreachable", "errors") and v is not None},
            "unreachable": unreachable,
            "errors": dg.MetadataValue.json(summary["errors"]),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="weights_hosts_reachable",
                passed=not summary["unreachable"],
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"unreachable": unreachable},
            )
        ],
    )


@dg.asset(group_name="catalog", deps=[raw_weights], pool=DUCKDB_WRITE_POOL, kinds={"duckdb"})
def catalog_weight_files(context: dg.AssetExecutionContext, sn_lake: SnLake) -> dg.MaterializeResult:
    """catalog.weight_files: per model, the files behind its GitHub/Zenodo link (or why there is none), with size,
    checksum and format."""
    with sn_lake.warehouse() as con:
        counts = weights_catalog.build_weight_files(sn_lake.settings(), con)
    context.log.info(f"catalog.weight_files rebuilt: {counts}")
    return dg.MaterializeResult(
        metadata={"dagster/row_count": counts["rows"], **{k: v for k, v in counts.items() if k != "rows"}}
    )
