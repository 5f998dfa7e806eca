"""Evaluation assets: one per attack family (``eval_<family>``), partitioned by model (dynamic partitions ``models``),
all computed by one multi-asset step per model, ``evaluate_model``.

Each partition's step loads the model once, runs the selected families on the ``gpu`` pool and writes Parquet under
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


class _NotEvaluated(Exception):
    """The model cannot be evaluated by this family (its reason is the message)."""


def _evaluate_family(settings, model_id: str, family: families.Family, config, dataset, revision) -> dict:
    """One family's evaluation of one model: its results' metadata. A model it cannot evaluate raises
    :class:`_NotEvaluated`, after recording why when the reason lasts (its files, labels or data)."""
    from sn_lake.evaluate import pipeline  # PyTorch: imported by the step that evaluates, not by the code location

    try:
        summary = pipeline.run_family(settings, model_id, family.name, config, dataset=dataset)
    except pipeline.NOT_EVALUABLE as exc:
        if pipeline.is_lasting(exc):  # the model's files, labels or data: kept, so nothing queues it again
            results.record_failure(settings, model_id, revision, family.name, str(exc))
        raise _NotEvaluated(str(exc)) from exc
    results.clear_failure(settings, model_id, family.name)
    frame = summary["frame"]
    shown = frame.drop([c for c in ("roc_fpr", "roc_tpr", "per_label_norms", "computed_at") if c in frame.columns])
    return {
        "notes": summary["notes"],
        "metadata": {
            "model_id": model_id,
            "config_hash": summary["config_hash"],
            "config": dataclasses.asdict(config),
            "rows": summary["rows"],
            "runtime_s": summary["runtime_s"],
            "path": dg.MetadataValue.path(summary["path"]),
            "results": dg.MetadataValue.md(shown.to_pandas().to_markdown(index=False)),
        },
    }


class EvaluationRunConfig(dg.Config):
    """The run config of each configurable family, under its asset's name: what the UI's launchpad and
    ``sn-lake evaluate --config`` take (fields and defaults: docs/evaluation.md). A family without a field here runs
    with its dataclass's defaults."""

    eval_model_stealing: StealingRunConfig = StealingRunConfig()
    eval_membership_inference: MembershipRunConfig = MembershipRunConfig()
    eval_adversarial: AdversarialRunConfig = AdversarialRunConfig()
    eval_backdoor_detection: BackdoorRunConfig = BackdoorRunConfig()


# how a family's run config becomes its dataclass's values, where they differ (dict: as they are)
_DATACLASS_VALUES: dict[str, Callable[[dict], dict]] = {"adversarial": _adversarial_values}


EVALUATION_OP = "evaluate_model"  # the one op (and step) of the five assets


def run_config(per_asset: dict) -> dict:
    """``ops`` run config of the evaluation from run config per evaluation asset (``{"eval_adversarial":
    {"config": {"n_samples": 50}}}``, what ``sn-lake evaluate --config`` takes)."""
    return {EVALUATION_OP: {"config": {asset: value.get("config", {}) for asset, value in per_asset.items()}}}


def _family_config(family: families.Family, config: EvaluationRunConfig):
    """The family's configuration dataclass from the step's run config (its defaults when it takes none)."""
    run = getattr(config, family.asset, None)
    if run is None:
        return family.config()
    values = _DATACLASS_VALUES.get(family.name, dict)
    return _as_dataclass(family.config, values(run.model_dump()))


@dg.multi_asset(
    name=EVALUATION_OP,
    specs=[
        dg.AssetSpec(
            family.asset,
            description=family.description,
            deps=[catalog_evaluability, *(families.get(a).asset for a in family.after)],
            group_name="evaluation",
            kinds={"pytorch", "parquet"},
            skippable=True,
        )
        for family in families.FAMILIES.values()  # the registry lists a family after those it reads
    ],
    partitions_def=models_partitions,
    pool=GPU_POOL,
    can_subset=True,
)
def evaluate_model(context: dg.AssetExecutionContext, sn_lake: SnLake, config: EvaluationRunConfig):
    """Every selected family's evaluation of one model (the partition), one family after the other in one step: they
    share one model load, one dataset decode and one set of logits per split (``sn_lake.evaluate.cache``), whichever
    executor runs the step. Selecting one asset re-runs that family alone.

    A family that cannot evaluate the model records its reason and the others go on; a family whose input (``after``)
    failed in this step is left out. The step fails at the end, naming each family that did not materialize.
    """
    from sn_lake.evaluate import cache  # PyTorch, as above

    model_id = context.partition_key
    settings = sn_lake.settings()
    dataset, revision = _catalog_facts(settings, model_id)
    before = cache.CACHE.stats()
    evaluated = 0
    failed: dict[str, str] = {}
    unexpected: Exception | None = None
    for family in families.FAMILIES.values():
        if dg.AssetKey(family.asset) not in context.selected_asset_keys:
            continue
        missing = [a for a in family.after if a in failed]
        if missing:
            failed[family.name] = f"left out: it reads the output of {', '.join(missing)}, which failed"
            continue
        try:
            done = _evaluate_family(settings, model_id, family, _family_config(family, config), dataset, revision)
        except _NotEvaluated as exc:
            failed[family.name] = f"could not be evaluated: {exc}"
            continue
        except Exception as exc:  # noqa: BLE001 - a bug in one family: the others still run, the step fails below
            context.log.exception(f"{family.asset} failed on {model_id}")
            failed[family.name] = f"failed: {type(exc).__name__}: {exc}"
            unexpected = unexpected or exc
            continue
        for note in done["notes"]:
            context.log.info(note)
        evaluated += 1
        yield dg.MaterializeResult(asset_key=family.asset, metadata=done["metadata"])
    after = cache.CACHE.stats()
    context.log.info(
        f"{model_id}: {evaluated} families evaluated in one step with {after['model_loads'] - before['model_loads']} "
        f"model load(s) and {after['dataset_decodes'] - before['dataset_decodes']} dataset decode(s)"
    )
    if failed:
        reasons = "; ".join(f"{name} {reason}" for name, reason in failed.items())
        raise dg.Failure(
            description=f"{model_id}: {reasons}",
            allow_retries=unexpected is not None,  # a lasting reason is recorded; retrying cannot change it
            metadata={"model_id": model_id, "reason": reasons[:2000]},
        ) from unexpected


ASSETS_BY_FAMILY = {name: dg.AssetKey(families.get(name).asset) for name in families.NAMES}

# Load results whenever an evaluation partition was materialized (a sensor's run, a UI launch), even
# while other models' partitions are still missing or failed: eager, without waiting for every partition.
LOAD_WHEN_EVALUATED = dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())


@dg.asset(
    group_name="analytics",
    deps=[evaluate_model],
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
