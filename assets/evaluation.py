"""Evaluation assets: one per attack family, partitioned by model (dynamic partitions ``models``).

Each partition loads one model, runs one family on the ``gpu`` pool and writes Parquet under
``lake/results/<family>/``; ``results_tables`` (``duckdb_write`` pool) moves every results file into
``results.*``. GPU work never holds the warehouse's write connection. The config classes take their
defaults from the torch-free ``sn_lake.evaluate.configs``; ``sn_lake.evaluate.pipeline`` (PyTorch) is
imported only when a step runs, so loading the code location does not import torch.
"""

import dataclasses
from collections.abc import Callable

import dagster as dg
import duckdb

from assets.catalog import catalog_evaluability
from assets.constants import DUCKDB_WRITE_POOL, GPU_POOL
from assets.partitions import models_partitions
from assets.resources import SnLake
from sn_lake import warehouse
from sn_lake.catalog import evaluability as catalog_evaluability_rules
from sn_lake.evaluate import configs, families, results
from sn_lake.quality import validate

_STEAL, _MIA = configs.StealingConfig(), configs.MembershipConfig()
_ADV, _BD = configs.AdversarialConfig(), configs.BackdoorConfig()


class StealingRunConfig(dg.Config):
    """Model stealing: query budgets, probabilities or labels only, surrogate architecture, auxiliary data."""

    query_budgets: list[int] = list(_STEAL.query_budgets)
    label_only: bool = _STEAL.label_only
    surrogate_arch: str = _STEAL.surrogate_arch
    aux_dataset: str | None = _STEAL.aux_dataset
    epochs: int = _STEAL.epochs
    test_samples: int = _STEAL.test_samples
    seed: int = _STEAL.seed


class MembershipRunConfig(dg.Config):
    """Membership inference: metric attacks, sample size, bootstrap, and the opt-in LiRA offline by model size."""

    attacks: list[str] = list(_MIA.attacks)
    max_per_side: int = _MIA.max_per_side
    n_bootstrap: int = _MIA.n_bootstrap
    lira_max_parameters: int = _MIA.lira_max_parameters
    lira_reference_models: int = _MIA.lira_reference_models
    lira_epochs: int = _MIA.lira_epochs
    seed: int = _MIA.seed


class AdversarialRunConfig(dg.Config):
    """Adversarial examples: L-infinity budgets in units of 1/255, PGD steps and step size, Square queries."""

    epsilons_255: list[float] = [round(e * 255, 6) for e in _ADV.epsilons]
    n_samples: int = _ADV.n_samples
    pgd_steps: int = _ADV.pgd_steps
    pgd_alpha_255: float | None = None  # None: 2.5 * eps / steps
    square_queries: int = _ADV.square_queries
    transfer: bool = _ADV.transfer
    seed: int = _ADV.seed


class BackdoorRunConfig(dg.Config):
    """Backdoor detection: Neural Cleanse optimisation, STRIP and NEO settings, the model-level flag rate."""

    nc_steps: int = _BD.nc_steps
    nc_lr: float = _BD.nc_lr
    nc_lambda: float = _BD.nc_lambda
    nc_batch_size: int = _BD.nc_batch_size
    nc_samples: int = _BD.nc_samples
    nc_threshold: float = _BD.nc_threshold
    strip_superimpose: int = _BD.strip_superimpose
    strip_frr: float = _BD.strip_frr
    neo_window: int = _BD.neo_window
    neo_stride: int = _BD.neo_stride
    n_inputs: int = _BD.n_inputs
    flag_rate: float = _BD.flag_rate
    seed: int = _BD.seed


def _adversarial_values(values: dict) -> dict:
    """AdversarialRunConfig's values in AdversarialConfig's units (budgets and step size in 1/255 -> fractions)."""
    values["epsilons"] = [e / 255 for e in values.pop("epsilons_255")]
    alpha = values.pop("pgd_alpha_255")
    values["pgd_alpha"] = None if alpha is None else alpha / 255
    return values


def _as_dataclass(cls, values: dict):
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def _catalog_facts(settings, model_id: str) -> tuple[str | None, str | None]:
    """The catalog's ``(dataset, revision)`` of a model (Nones when the warehouse is busy or does not know it)."""
    try:
        con = warehouse.connect(settings, read_only=True)
    except (warehouse.WarehouseError, duckdb.Error):
        return None, None
    try:
        row = con.execute("SELECT dataset, revision FROM catalog.models WHERE model_id = ?", [model_id]).fetchone()
    except duckdb.Error:
        return None, None
    finally:
        con.close()
    return (row[0], row[1]) if row else (None, None)


def _evaluate(context: dg.AssetExecutionContext, sn_lake: SnLake, family: str, config) -> dg.MaterializeResult:
    from sn_lake.evaluate import pipeline  # PyTorch: imported by the step that evaluates, not by the code location

    model_id = context.partition_key
    settings = sn_lake.settings()
    dataset, revision = _catalog_facts(settings, model_id)
    try:
        summary = pipeline.run_family(settings, model_id, family, config, dataset=dataset)
    except pipeline.NOT_EVALUABLE as exc:
        if pipeline.is_lasting(exc):  # the model's files, labels or data: kept, so nothing queues it again
            results.record_failure(settings, model_id, revision, family, str(exc))
        raise dg.Failure(
            description=f"{model_id} could not be evaluated with {family}: {exc}",
            allow_retries=False,
            metadata={"model_id": model_id, "reason": str(exc)[:2000]},
        ) from exc
    results.clear_failure(settings, model_id, family)
    frame = summary.pop("frame")
    for note in summary["notes"]:
        context.log.info(note)
    shown = frame.drop([c for c in ("roc_fpr", "roc_tpr", "per_label_norms", "computed_at") if c in frame.columns])
    return dg.MaterializeResult(
        metadata={
            "model_id": model_id,
            "config_hash": summary["config_hash"],
            "config": dataclasses.asdict(config),
            "rows": summary["rows"],
            "runtime_s": summary["runtime_s"],
            "path": dg.MetadataValue.path(summary["path"]),
            "results": dg.MetadataValue.md(shown.to_pandas().to_markdown(index=False)),
        }
    )


_EVAL = {
    "group_name": "evaluation",
    "partitions_def": models_partitions,
    "pool": GPU_POOL,
    "kinds": {"pytorch", "parquet"},
}

# The Dagster face of each family's configuration (sn_lake.evaluate.families): the run config its asset takes
# in the UI and in `sn-lake evaluate --config`, and how it becomes the family's dataclass. A family missing
# here runs with its dataclass's defaults and takes no run config.
RUN_CONFIGS: dict[str, tuple[type[dg.Config], Callable[[dict], dict]]] = {
    "model_stealing": (StealingRunConfig, dict),
    "membership_inference": (MembershipRunConfig, dict),
    "adversarial": (AdversarialRunConfig, _adversarial_values),
    "backdoor_detection": (BackdoorRunConfig, dict),
}


def _evaluation_asset(family: families.Family, deps: list) -> dg.AssetsDefinition:
    """The asset of one attack family, partitioned by model; its registry entry gives name, description and deps."""
    spec = {"name": family.asset, "description": family.description, "deps": deps, **_EVAL}
    if family.name not in RUN_CONFIGS:

        @dg.asset(**spec)
        def _without_config(context: dg.AssetExecutionContext, sn_lake: SnLake) -> dg.MaterializeResult:
            return _evaluate(context, sn_lake, family.name, family.config())

        return _without_config
    run_config, values = RUN_CONFIGS[family.name]

    @dg.asset(**spec)
    def _with_config(context: dg.AssetExecutionContext, sn_lake: SnLake, config: run_config) -> dg.MaterializeResult:
        return _evaluate(context, sn_lake, family.name, _as_dataclass(family.config, values(config.model_dump())))

    return _with_config


def _evaluation_assets() -> list[dg.AssetsDefinition]:
    made: dict[str, dg.AssetsDefinition] = {}
    for family in families.FAMILIES.values():  # the registry lists a family after those it reads
        made[family.name] = _evaluation_asset(family, [catalog_evaluability, *(made[a] for a in family.after)])
    return list(made.values())


EVALUATION_ASSETS = _evaluation_assets()  # eval_task_accuracy, eval_model_stealing, ... in the registry's order
ASSETS_BY_FAMILY = dict(zip(families.NAMES, EVALUATION_ASSETS, strict=True))

# Load results whenever an evaluation partition was materialized (a sensor's run, a UI launch), even
# while other models' partitions are still missing or failed: eager, without waiting for every partition.
LOAD_WHEN_EVALUATED = dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())


@dg.asset(
    group_name="analytics",
    deps=EVALUATION_ASSETS,
    pool=DUCKDB_WRITE_POOL,
    kinds={"duckdb", "parquet"},
    automation_condition=LOAD_WHEN_EVALUATED,
)
def results_tables(context: dg.AssetExecutionContext, sn_lake: SnLake) -> dg.MaterializeResult:
    """results.* loaded from the lake's results Parquet (a model's rows for a config replace that config's earlier
    rows)."""
    with sn_lake.warehouse() as con:
        counts = results.load_into_warehouse(sn_lake.settings(), con)
        catalog_evaluability_rules.apply_failures(sn_lake.settings(), con)
        # each results table's rules refuse their rows here; the checks of results_tables observe what remains
        refused = {f.table: validate.quarantine_table(con, f.table).n_rejected for f in families.FAMILIES.values()}
        totals = {
            f.table: con.execute(f"SELECT count(*) FROM {f.table}").fetchone()[0] for f in families.FAMILIES.values()
        }
    context.log.info(f"results loaded: {counts}; quarantined: {refused}")
    return dg.MaterializeResult(
        metadata={
            **{f"loaded {t}": n for t, n in counts.items()},
            **{f"rows {t}": n for t, n in totals.items()},
            **{f"quarantined {t}": n for t, n in refused.items()},
        }
    )
