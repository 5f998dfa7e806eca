"""Analytics assets: the SQL views of ``sql/views/``."""

import dagster as dg

from assets.catalog import catalog_evaluability, catalog_models
from assets.constants import DUCKDB_WRITE_POOL
from assets.evaluation import results_tables
from assets.papers import catalog_papers
from assets.resources import SnLake
from assets.weights import catalog_weight_files
from sn_lake import warehouse


@dg.asset(
    group_name="analytics",
    deps=[catalog_models, catalog_evaluability, catalog_papers, catalog_weight_files, results_tables],
    pool=DUCKDB_WRITE_POOL,
    kinds={"duckdb", "sql"},
)
def analytics_views(context: dg.AssetExecutionContext, sn_lake: SnLake) -> dg.MaterializeResult:
    """The analytics.* views (one question per file in sql/views/), applied over catalog and results."""
    with sn_lake.warehouse() as con:
        views = warehouse.apply_sql(con, "views")
        columns, rows = warehouse.query(con, "SELECT * FROM analytics.catalog_summary")
    table = "\n".join(["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)])
    table += "".join("\n| " + " | ".join(str(v) for v in row) + " |" for row in rows)
    context.log.info(f"views applied: {views}")
    return dg.MaterializeResult(metadata={"views": views, "catalog_summary": dg.MetadataValue.md(table)})
