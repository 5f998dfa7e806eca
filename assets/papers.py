"""Paper assets: metadata for the catalog's paper ids, fetched into the lake, then resolved into catalog.papers."""

import dagster as dg

from assets.catalog import catalog_models
from assets.constants import DUCKDB_WRITE_POOL
from assets.crawl import reachable_check
from assets.resources import SnLake
from sn_lake import lake
from sn_lake.catalog import papers as papers_catalog
from sn_lake.quality import validate
from sn_lake.sources.papers import crawl


class PapersCrawlConfig(dg.Config):
    """Run config of ``raw_papers`` (``sn-lake crawl papers --full`` sets ``full``)."""

    full: bool = False  # ask every API about every paper again, not only about the ids it has not answered


@dg.asset(
    group_name="crawl",
    deps=[catalog_models],
    kinds={"python", "parquet"},
    check_specs=[
        reachable_check(
            "papers",
            "WARN when a public paper API (arXiv, Semantic Scholar, OpenAlex, DBLP, Papers with Code) could not be "
            "reached.",
        )
    ],
)
def raw_papers(context: dg.AssetExecutionContext, sn_lake: SnLake, config: PapersCrawlConfig) -> dg.MaterializeResult:
    """arXiv, Semantic Scholar, Papers with Code, OpenAlex and DBLP answers for catalog.models' paper ids (only ids
    not asked yet)."""
    settings = sn_lake.settings()
    ids, other = papers_catalog.catalog_paper_ids(settings)  # the crawl takes its ids from the catalog, as arguments
    summary = crawl.crawl(settings, ids, full=config.full)
    metadata = {
        "paper_ids": len(ids),
        "non_arxiv_paper_ids": len(other),
        "records": summary["records"],
        "requests": summary["requests"],
        "asked": dg.MetadataValue.json(summary["asked"]),
        "found": dg.MetadataValue.json(summary["found"]),
        "unreachable": ", ".join(summary["unreachable"]) or "none",
        "errors": dg.MetadataValue.json(summary["errors"]),
        "crawls_in_lake": len(lake.finished_crawls(settings, crawl.SOURCE)),
    }
    if other:
        context.log.info(f"{len(other)} paper ids are not arXiv ids and are not looked up, e.g. {other[:3]}")
    if summary["unreachable"]:
        context.log.warning(
            f"paper APIs unreachable, skipped this run: {summary['unreachable']}; "
            "catalog.papers keeps what the lake holds."
        )
    check = dg.AssetCheckResult(
        check_name="papers_reachable",
        passed=not summary["unreachable"],
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"unreachable": ", ".join(summary["unreachable"]) or "none"},
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])


@dg.asset(group_name="catalog", deps=[raw_papers], pool=DUCKDB_WRITE_POOL, kinds={"duckdb"})
def catalog_papers(context: dg.AssetExecutionContext, sn_lake: SnLake) -> dg.MaterializeResult:
    """catalog.paper_candidates (every value every API states) and catalog.papers (the resolution chain's pick),
    from the lake."""
    with sn_lake.warehouse() as con:
        counts = papers_catalog.build_papers(sn_lake.settings(), con)
        refused = validate.quarantine_table(con, "catalog.papers")  # its check then observes what remains
        n_papers, with_venue = con.execute("SELECT count(*), count(venue) FROM catalog.papers").fetchone()
    context.log.info(f"catalog papers rebuilt: {counts}; {refused.n_rejected} rows quarantined")
    return dg.MaterializeResult(
        metadata={
            **counts,
            "dagster/row_count": n_papers,
            "with_venue": with_venue,
            "rows_quarantined": refused.n_rejected,
        }
    )
