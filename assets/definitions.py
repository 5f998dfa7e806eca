"""The code location: every asset, check, schedule and resource of sn_lake."""

import dagster as dg

from assets import analytics, automation, catalog, crawl, evaluation, papers, profile, quality, weights
from assets.resources import SnLake

all_assets = dg.load_assets_from_modules([crawl, catalog, papers, weights, evaluation, analytics])

defs = dg.Definitions(
    assets=all_assets,
    asset_checks=dg.load_asset_checks_from_modules([quality]),
    resources={"sn_lake": SnLake()},
    schedules=automation.crawl_schedules(all_assets),
    sensors=[automation.new_evaluable_models, automation.load_results_after_evaluation],
    executor=profile.executor(),  # SN_LAKE_PROFILE=distributed: dagster-celery workers
)
