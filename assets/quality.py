"""Quality checks: the Great Expectations rules of ``sn_lake/quality/`` as blocking asset checks.

Each check validates one warehouse table right after the asset that writes it. Rows a rule rejects
move to ``catalog.quarantine`` (the rest of the table is then clean, so the check fails with WARN and
downstream assets go on); when more than ``MAX_REJECTED_FRACTION`` of a table is rejected the data,
not a few rows, is broken, and the check fails with ERROR, which blocks everything downstream.
"""

import dagster as dg

from assets.catalog import catalog_models
from assets.constants import DUCKDB_WRITE_POOL
from assets.evaluation import results_tables
from assets.papers import catalog_papers
from assets.resources import SnLake
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
        pool=DUCKDB_WRITE_POOL,
        description=f"Great Expectations rules of {table}; rejected rows move to catalog.quarantine. Rules: {listed}.",
    )
    def _check(context: dg.AssetCheckExecutionContext, sn_lake: SnLake) -> dg.AssetCheckResult:
        with sn_lake.warehouse() as con:
            report = validate.check_table(con, table)
        context.log.info(f"{table}: {report.n_rejected} quarantined, {report.n_flagged} flagged of {report.n_rows}")
        return check_result(report)

    return _check


catalog_models_rules = table_check(catalog_models, "catalog.models")
catalog_papers_rules = table_check(catalog_papers, "catalog.papers")
# results.* hold our evaluations (loaded by results_tables) and the study's published figures (written
# with the catalog); both are checked when results_tables has loaded.
results_task_accuracy_rules = table_check(results_tables, "results.task_accuracy")
results_model_stealing_rules = table_check(results_tables, "results.model_stealing")
results_membership_inference_rules = table_check(results_tables, "results.membership_inference")
results_adversarial_rules = table_check(results_tables, "results.adversarial")
results_backdoor_detection_rules = table_check(results_tables, "results.backdoor_detection")
