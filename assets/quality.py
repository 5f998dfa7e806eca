"""Quality checks: the Great Expectations rules of ``sn_lake/quality/`` as blocking asset checks that observe.

The asset that builds a checked table refuses the rows its rules reject right after writing it
(``sn_lake.quality.validate.quarantine_table``: they move to ``catalog.quarantine`` with the rule and the
reason), so its ``dagster/row_count`` is what the table holds. The check then runs the rules on what
remains, on a read-only connection, and reports what the build refused: a few refused rows fail it with
WARN and downstream assets go on; when more than ``MAX_REJECTED_FRACTION`` of a table was refused the data,
not a few rows, is broken, and the check fails with ERROR, which blocks everything downstream.
"""

import dagster as dg

from assets.catalog import PUBLISHED_TABLES, catalog_models
from assets.constants import DUCKDB_WRITE_POOL
from assets.evaluation import results_tables
from assets.papers import catalog_papers
from assets.resources import SnLake
from sn_lake import warehouse
from sn_lake.evaluate import families
from sn_lake.quality import validate
from sn_lake.quality.rules import TABLES

MAX_REJECTED_FRACTION = 0.2


def _markdown_examples(report: validate.TableReport) -> str:
    lines = ["| rule | rows | examples |", "|---|---|---|"]
    for rule, count in sorted(report.failed.items(), key=lambda item: -item[1]):
        shown = "<br>".join(e.replace("|", "\\|") for e in report.examples[rule])
        lines.append(f"| {rule} | {count} | {shown} |")
    return "\n".join(lines)


def check_result(report: validate.TableReport) -> dg.AssetCheckResult:
    """The check result of one table's report: counts per rule and a few example rows as metadata."""
    metadata = {
        "table": report.table,
        "rows_checked": report.n_rows,
        "rows_kept": report.n_kept,
        "rows_quarantined": report.n_rejected,
        "rows_flagged": report.n_flagged,
        "failed_by_rule": dg.MetadataValue.json(report.failed),
        "rules_skipped": dg.MetadataValue.json(report.skipped),
    }
    if report.failed:
        metadata["examples"] = dg.MetadataValue.md(_markdown_examples(report))
    broken = report.rejected_fraction > MAX_REJECTED_FRACTION
    return dg.AssetCheckResult(
        passed=report.n_rejected == 0,
        severity=dg.AssetCheckSeverity.ERROR if broken else dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=(
            f"{report.n_rejected} of {report.n_rows} rows of {report.table} quarantined, {report.n_flagged} flagged"
            + (f": more than {MAX_REJECTED_FRACTION:.0%} rejected, downstream assets are blocked" if broken else "")
        ),
    )


def table_check(asset, table: str) -> dg.AssetChecksDefinition:
    """A blocking check running ``table``'s rules after ``asset`` writes it."""
    rules = TABLES[table].rules
    listed = "; ".join(f"{r.name} ({r.action})" for r in rules)

    @dg.asset_check(
        asset=asset,
        name=f"{table.replace('.', '_')}_rules",
        blocking=True,
        pool=DUCKDB_WRITE_POOL,  # a read-only connection, which DuckDB refuses while a writer holds the file
        description=f"Great Expectations rules of {table}, run on what remains after its build refused the rows "
        f"they reject (those are in catalog.quarantine). Rules: {listed}.",
    )
    def _check(context: dg.AssetCheckExecutionContext, sn_lake: SnLake) -> dg.AssetCheckResult:
        con = warehouse.connect(sn_lake.settings(), read_only=True)
        try:
            report = validate.observe_table(con, table)
        finally:
            con.close()
        context.log.info(f"{table}: {report.n_rejected} quarantined, {report.n_flagged} flagged of {report.n_rows}")
        return check_result(report)

    return _check


catalog_models_rules = table_check(catalog_models, "catalog.models")
catalog_papers_rules = table_check(catalog_papers, "catalog.papers")
PUBLISHED_CHECKS = [table_check(catalog_models, table) for table in PUBLISHED_TABLES]
# results.* hold our evaluations (loaded by results_tables) and the study's published figures (written
# with the catalog); both are checked when results_tables has loaded. One check per attack family's table.
RESULTS_CHECKS = [table_check(results_tables, family.table) for family in families.FAMILIES.values()]
