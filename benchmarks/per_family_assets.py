"""The evaluation before one step per model, kept as the baseline of ``benchmarks/evaluate_throughput.py``: one
asset per attack family, each its own step. Under Dagster's default executor (what the sensor, the daemon and the UI
launch) each step is its own process, which imports PyTorch, loads the model and decodes the dataset again.

    dagster asset materialize -f benchmarks/per_family_assets.py --select '*' --partition <model id>
"""

import dagster as dg

from assets.constants import GPU_POOL
from assets.partitions import models_partitions
from assets.resources import SnLake
from sn_lake.evaluate import families


def _family_asset(family: families.Family, deps: list) -> dg.AssetsDefinition:
    @dg.asset(name=family.asset, partitions_def=models_partitions, deps=deps, pool=GPU_POOL)
    def _evaluate(context: dg.AssetExecutionContext, sn_lake: SnLake) -> dg.MaterializeResult:
        from sn_lake.evaluate import pipeline

        summary = pipeline.run_family(sn_lake.settings(), context.partition_key, family.name)
        return dg.MaterializeResult(metadata={"rows": summary["rows"], "config_hash": summary["config_hash"]})

    return _evaluate


_made: dict[str, dg.AssetsDefinition] = {}
for _family in families.FAMILIES.values():  # the registry lists a family after those it reads
    _made[_family.name] = _family_asset(_family, [_made[a] for a in _family.after])

defs = dg.Definitions(assets=list(_made.values()), resources={"sn_lake": SnLake()})
