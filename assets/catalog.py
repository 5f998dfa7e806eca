"""Catalog assets: ``catalog.*`` rebuilt from the lake's raw records."""

import dagster as dg

from assets.constants import DUCKDB_WRITE_POOL
from assets.resources import SnLake
from sn_lake import catalog, warehouse
from sn_lake.catalog import evaluability
from sn_lake.catalog.contract import crawl_asset
from sn_lake.quality import validate

# results tables of published figures the catalog build writes (RobustBench, timm's tables)
PUBLISHED_TABLES = ("results.corruption", "results.distribution_shift")


@dg.asset(
    group_name="catalog",
    deps=[crawl_asset(name) for name in catalog.SOURCES],  # every source's crawl asset (assets/crawl.py)
    pool=DUCKDB_WRITE_POOL,
    kinds={"duckdb"},
)
def catalog_models(context: dg.AssetExecutionContext, sn_lake: SnLake) -> dg.MaterializeResult:
    """catalog.models: one annotated row per model, rebuilt per source from the raw records."""
    with sn_lake.warehouse() as con:
        counts = catalog.build_models(sn_lake.settings(), con)
        refused = validate.quarantine_table(con, "catalog.models")  # its check then observes what remains
        published = {table: validate.quarantine_table(con, table).n_rejected for table in PUBLISHED_TABLES}
        _, rows = warehouse.query(con, "SELECT count(*) FROM catalog.models")
    context.log.info(f"catalog.models rebuilt: {counts}; {refused.n_rejected} rows quarantined; published: {published}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows[0][0],
            "rows_quarantined": refused.n_rejected,
            **{f"rows_{source}": n for source, n in counts.items()},
            **{f"{table}_rows_quarantined": n for table, n in published.items()},
        }
    )


@dg.asset(group_name="catalog", deps=[catalog_models], pool=DUCKDB_WRITE_POOL, kinds={"duckdb"})
def catalog_evaluability(context: dg.AssetExecutionContext, sn_lake: SnLake) -> dg.MaterializeResult:
    """catalog.evaluability: which catalog models the evaluation can load (loader, dataset repo), and why not the
    others."""
    with sn_lake.warehouse() as con:
        rows = evaluability.build(sn_lake.settings(), con)
        summary = con.execute(
            "SELECT count(*) FILTER (WHERE evaluable), count(*) FILTER (WHERE NOT evaluable) FROM catalog.evaluability"
        ).fetchone()
    context.log.info(f"catalog.evaluability rebuilt: {summary[0]} evaluable, {summary[1]} not")
    return dg.MaterializeResult(
        metadata={"dagster/row_count": rows, "evaluable": summary[0], "not_evaluable": summary[1]}
    )
