"""Automation: a daily re-crawl schedule per source, and a sensor that sends newly seen evaluable
models to the evaluation assets. All of them show, and can be switched on or off, in the UI's
Automation tab; run retries are set in dagster_home/dagster.yaml.
"""

import dagster as dg
import duckdb

from assets.partitions import models_partitions
from assets.resources import SnLake
from sn_lake import config, search, warehouse
from sn_lake.catalog import CRAWLS
from sn_lake.catalog.contract import crawl_asset

MAX_NEW_MODELS_PER_TICK = 25  # a large first crawl is queued over several ticks, not all at once
EVALUATION = dg.AssetSelection.groups("evaluation")


def _source(crawl_asset: dg.AssetsDefinition) -> str:
    return crawl_asset.key.to_user_string().removeprefix("raw_")


def crawl_and_downstream(crawl_asset) -> dg.AssetSelection:
    """A crawl asset (a definition, key or key string) and what is downstream of it (catalog, checks, views), but
    neither other crawls nor the evaluation: what the daily schedule and `sn-lake crawl SOURCE` run."""
    crawl = dg.AssetSelection.assets(crawl_asset)
    return crawl | (crawl.downstream() - dg.AssetSelection.groups("crawl") - EVALUATION)


def crawl_schedule(crawl_asset: dg.AssetsDefinition) -> dg.ScheduleDefinition:
    """The daily re-crawl of one source, then what is downstream of it (catalog, checks, views), but neither
    other crawls (they have their own schedules) nor the evaluation (the sensor requests it)."""
    source = _source(crawl_asset)
    cron = config.crawl_cron(source)
    try:
        return dg.ScheduleDefinition(
            name=f"{source}_daily_crawl",
            target=crawl_and_downstream(crawl_asset),
            cron_schedule=cron,
            execution_timezone="UTC",
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description=f"Re-crawl {source} (cron {cron!r} from SN_LAKE_CRAWL_CRON_{source.upper()} / "
            "SN_LAKE_CRAWL_CRON), then rebuild the catalog, its checks and the views.",
        )
    except dg.DagsterInvalidDefinitionError as exc:
        raise ValueError(
            f"Expected a cron string for the {source} re-crawl, found {cron!r}: "
            f"fix SN_LAKE_CRAWL_CRON_{source.upper()} or SN_LAKE_CRAWL_CRON (e.g. '0 4 * * *')."
        ) from exc


def crawl_schedules(assets) -> list[dg.ScheduleDefinition]:
    """One daily re-crawl schedule per crawl of the registry (``sn_lake.catalog.CRAWLS``) among ``assets``."""
    crawls = {dg.AssetKey(crawl_asset(name)) for name in CRAWLS}
    return [crawl_schedule(a) for a in assets if isinstance(a, dg.AssetsDefinition) and a.keys <= crawls]


@dg.sensor(
    name="new_evaluable_models",
    target=EVALUATION,
    minimum_interval_seconds=600,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Adds the models catalog.evaluability says the evaluation can load (sn_lake.evaluate.evaluability) "
    f"to the 'models' partitions and requests their evaluation (at most {MAX_NEW_MODELS_PER_TICK} per tick).",
)
def new_evaluable_models(context: dg.SensorEvaluationContext, sn_lake: SnLake) -> dg.SensorResult | dg.SkipReason:
    """Newly seen evaluable models become partitions of ``models`` and evaluation runs."""
    settings = sn_lake.settings()
    try:
        con = warehouse.connect(settings, read_only=True)
    except warehouse.WarehouseError as exc:
        return dg.SkipReason(str(exc))
    try:
        candidates = search.evaluable_models(con)
    except duckdb.Error as exc:
        return dg.SkipReason(f"The catalog could not be read ({exc}); the next tick tries again.")
    finally:
        con.close()
    known = set(context.instance.get_dynamic_partitions(models_partitions.name))
    new = [m for m in candidates if m not in known][:MAX_NEW_MODELS_PER_TICK]
    if not new:
        return dg.SkipReason(f"No new evaluable models among the {len(candidates)} the catalog holds.")
    context.log.info(f"{len(new)} new evaluable models: {new}")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"evaluate:{m}", partition_key=m) for m in new],
        dynamic_partitions_requests=[models_partitions.build_add_request(new)],
    )


# Runs the loader's automation condition (assets/evaluation.py: LOAD_WHEN_EVALUATED), so results.*
# follow every evaluation, whoever launched it. On by default: it only acts after an evaluation.
load_results_after_evaluation = dg.AutomationConditionSensorDefinition(
    "load_results_after_evaluation",
    target=dg.AssetSelection.assets("results_tables"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Loads results.* into the warehouse after evaluation partitions were materialized.",
)
