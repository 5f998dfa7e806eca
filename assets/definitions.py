"""The code location: every asset, check, schedule and resource of sn_lake."""

import dagster as dg

from assets import analytics, catalog, crawl
from assets.resources import SnLake

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([crawl, catalog, analytics]),
    resources={"sn_lake": SnLake()},
)
