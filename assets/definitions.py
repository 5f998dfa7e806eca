"""The code location: every asset, check, schedule and resource of sn_lake."""

import dagster as dg

from assets import analytics, automation, catalog, crawl, evaluation, papers, profile, quality, weights
from assets.resources import SnLake

all_assets = dg.load_assets_from_modules([crawl, catalog, papers, weights, evaluation, analytics])

# Every asset and check in one job, which `sn-lake` runs select from (sn_lake/cli.py points Dagster's public
# build_reconstructable_job at code_location_job below). It is the implicit asset job under a name of our own:
# the implicit one's reserved name cannot be rebuilt from a pointer.
SN_LAKE_JOB = "sn_lake_assets"
sn_lake_assets = dg.define_asset_job(
    SN_LAKE_JOB,
    selection=dg.AssetSelection.all(),
    description="Every asset and check of sn_lake; `sn-lake` runs select from it.",
)

defs = dg.Definitions(
    assets=all_assets,
    asset_checks=dg.load_asset_checks_from_modules([quality]),
    jobs=[sn_lake_assets],
    resources={"sn_lake": SnLake()},
    schedules=automation.crawl_schedules(all_assets),
    sensors=[automation.new_evaluable_models, automation.load_results_after_evaluation],
    executor=profile.executor(),  # SN_LAKE_PROFILE=distributed: dagster-celery workers
)


def code_location_job() -> dg.JobDefinition:
    """The code location's asset job (every asset; each run selects its own): what `sn-lake` runs execute.

    A module-level function, so ``dagster.build_reconstructable_job`` can point at it and the executor's other
    processes (step subprocesses, Celery workers) rebuild the same job from this file.
    """
    return defs.resolve_job_def(SN_LAKE_JOB)
