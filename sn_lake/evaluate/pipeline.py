"""Evaluate one model with one attack family and write its rows to the lake (what each Dagster partition runs).

The families are registered in :mod:`sn_lake.evaluate.families` (config class, runner, results table);
each runner here is ``_rows_<family>(ctx, config) -> rows``, named by its registry entry.
Each family's configuration dataclass, with its defaults, is in the torch-free
:mod:`sn_lake.evaluate.configs` (re-exported here; the Dagster config classes in ``assets/evaluation.py``
take their defaults from there). Members are the model's training set (the zoo records which part of
the train split that was; otherwise the whole train split), non-members the test split.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl
import torch

from sn_lake import lake
from sn_lake.config import Settings
from sn_lake.evaluate import cache, families, models, results
from sn_lake.evaluate import data as data_mod
from sn_lake.evaluate.attacks.accuracy import TaskAccuracy
from sn_lake.evaluate.attacks.adversarial import FGSM, PGD, Square, Transfer, robustness
from sn_lake.evaluate.attacks.backdoor import NEO, STRIP, NeuralCleanse
from sn_lake.evaluate.attacks.membership import LiRAOffline, MetricAttacks
from sn_lake.evaluate.attacks.sampling import RowLogits, sample_index
from sn_lake.evaluate.attacks.stealing import ModelStealing
from sn_lake.evaluate.configs import (  # also reached as pipeline.StealingConfig, ...
    AccuracyConfig,
    AdversarialConfig,
    BackdoorConfig,
    MembershipConfig,
    StealingConfig,
)
from sn_lake.evaluate.families import NAMES as FAMILIES  # noqa: F401  (pipeline.FAMILIES, as before)
from sn_lake.evaluate.zoo import TINY_ARCHS, Trigger

log = logging.getLogger(__name__)


@dataclass
class Context:
    settings: Settings
    model: models.LoadedModel
    splits: data_mod.DatasetSplits
    device: torch.device
    notes: list[str] = field(default_factory=list)
    config_hash: str = ""  # of the family's config being run: names what a runner keeps beside its rows

    @property
    def members(self) -> data_mod.Split:
        n = self.model.training.get("train_size")
        return self.splits.train.take(range(n)) if n else self.splits.train

    @property
    def outside_members(self) -> data_mod.Split | None:
        """Train-split items the model never saw (the zoo's models train on a prefix), or None."""
        n = self.model.training.get("train_size")
        return self.splits.train.take(range(n, len(self.splits.train))) if n and n < len(self.splits.train) else None

    def rows(self, split: str) -> RowLogits | None:
        """The model's logits of rows of ``splits.<split>``, shared by the run's families (None: cache off)."""
        return cache.CACHE.logits(self.model, self.splits, split)

    def sample(self, split: str, n: int, seed: int) -> tuple[data_mod.Split, RowLogits | None]:
        """``splits.<split>.sample(n, seed)`` and the shared logits of its rows (None: cache off)."""
        whole, rows = getattr(self.splits, split), self.rows(split)
        index = sample_index(len(whole), n, seed)
        return whole.sample(n, seed), None if rows is None else (lambda i: rows(index[i]))

    def held_out(self, seed: int) -> data_mod.Split:
        """The test split in a seeded order (for detectors that need clean data of their own)."""
        return self.splits.test.shuffled(seed)

    def fresh(self, architecture: str = "same") -> torch.nn.Module:
        """An untrained network: the target's own architecture, or a (tiny, for the zoo's) timm one."""
        if architecture == "same" and self.model.loader == "transformers":
            return models.fresh_like(self.model).to(self.device)
        if architecture == "same":
            config = {k: v for k, v in self.model.config.items() if k != "sn_lake"}
        else:
            size = list(self.splits.train.x.shape[1:])
            config = {
                "architecture": architecture,
                "num_classes": self.model.num_classes,
                "model_args": TINY_ARCHS.get(architecture, {}),
                "pretrained_cfg": {"input_size": size, "mean": [0.5] * 3, "std": [0.5] * 3},
            }
        try:
            return models.build(config).to(self.device)
        except models.ModelLoadError as exc:
            if architecture == "same":
                raise  # the model's own architecture: a reason of the model's
            # a surrogate architecture the run config names: the config's error, never recorded against the model
            raise ValueError(f"Expected a surrogate_arch timm can build, found {architecture!r} ({exc})") from exc


def _rows_task_accuracy(ctx: Context, cfg: AccuracyConfig) -> list[dict]:
    shared = ctx.rows("train"), ctx.rows("test")  # the passes membership inference shares
    row = TaskAccuracy()(ctx.model.classifier, ctx.members, ctx.splits.test, ctx.device, *shared)
    return [{**row, "n_train": len(ctx.members), "n_test": len(ctx.splits.test)}]


def surrogate_path(settings: Settings, model_id: str, chash: str) -> Path:
    return results.model_dir(settings, "model_stealing", model_id) / f"{chash}.surrogate.safetensors"


def _aux(ctx: Context, cfg: StealingConfig) -> data_mod.Split:
    if cfg.aux_dataset in (None, "", ctx.splits.name):
        return ctx.splits.train
    other = data_mod.load(cfg.aux_dataset, ctx.settings).train
    size = tuple(ctx.splits.train.x.shape[-2:])
    x = (
        torch.nn.functional.interpolate(other.x, size=size, mode="bilinear", align_corners=False)
        if other.x.shape[-2:] != size
        else other.x
    )
    return data_mod.Split(x, other.y)


def _steal(ctx: Context, cfg: StealingConfig) -> tuple[list[dict], dict]:
    test, test_logits = ctx.sample("test", cfg.test_samples, cfg.seed)
    aux = _aux(ctx, cfg)
    aux_logits = ctx.rows("train") if aux is ctx.splits.train else None
    attack = ModelStealing(cfg.query_budgets, cfg.label_only, cfg.epochs, seed=cfg.seed)
    rows, surrogates = attack(
        ctx.model.classifier, lambda: ctx.fresh(cfg.surrogate_arch), aux, test, ctx.device, aux_logits, test_logits
    )
    aux_name = cfg.aux_dataset or f"{ctx.splits.name}:train (partial training set)"
    return [{**r, "aux_dataset": aux_name, "surrogate_arch": cfg.surrogate_arch} for r in rows], surrogates


def _rows_model_stealing(ctx: Context, cfg: StealingConfig) -> list[dict]:
    from safetensors.torch import save_file

    rows, surrogates = _steal(ctx, cfg)
    biggest = surrogates[max(surrogates)]
    path = surrogate_path(ctx.settings, ctx.model.model_id, ctx.config_hash)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous().cpu() for k, v in biggest.state_dict().items()}, str(path))
    path.with_suffix(".json").write_text(
        json.dumps({"surrogate_arch": cfg.surrogate_arch, "query_budget": max(surrogates)})
    )
    return rows


def _surrogate(ctx: Context) -> torch.nn.Module:
    """The latest stealing surrogate of this model, or a freshly stolen one (default stealing config)."""
    folder = results.model_dir(ctx.settings, "model_stealing", ctx.model.model_id)
    saved = sorted(folder.glob("*.surrogate.safetensors"), key=lambda p: p.stat().st_mtime) if folder.exists() else []
    if saved:
        from safetensors.torch import load_file

        meta = json.loads(saved[-1].with_suffix(".json").read_text())
        surrogate = ctx.fresh(meta["surrogate_arch"])
        surrogate.load_state_dict(load_file(str(saved[-1])))
        ctx.notes.append(f"transfer surrogate: {saved[-1].name} ({meta})")
    else:
        cfg = StealingConfig()
        _, surrogates = _steal(ctx, StealingConfig(query_budgets=(max(cfg.query_budgets),)))
        surrogate = surrogates[max(cfg.query_budgets)]
        ctx.notes.append("transfer surrogate: none saved by model_stealing, stole one with the default config")
    surrogate.eval()
    for p in surrogate.parameters():
        p.requires_grad_(False)
    return surrogate.to(ctx.device)


def _rows_membership_inference(ctx: Context, cfg: MembershipConfig) -> list[dict]:
    attack = MetricAttacks(cfg.attacks, cfg.max_per_side, True, cfg.n_bootstrap, cfg.seed)
    rows = attack(ctx.model.classifier, ctx.members, ctx.splits.test, ctx.device, ctx.rows("train"), ctx.rows("test"))
    if cfg.lira_max_parameters and ctx.model.num_parameters <= cfg.lira_max_parameters:
        reference = ctx.outside_members
        if reference is None or len(reference) < 50:
            ctx.notes.append(
                "lira_offline skipped: fewer than 50 train-split items outside the model's members "
                "to train reference models on"
            )
        else:
            lira = LiRAOffline(
                cfg.lira_reference_models,
                cfg.lira_epochs,
                max_per_side=cfg.max_per_side,
                n_bootstrap=cfg.n_bootstrap,
                seed=cfg.seed,
            )
            rows += lira(
                ctx.model.classifier, lambda: ctx.fresh("same"), ctx.members, ctx.splits.test, reference, ctx.device
            )
    return rows


def _rows_adversarial(ctx: Context, cfg: AdversarialConfig) -> list[dict]:
    split, clean_logits = ctx.sample("test", cfg.n_samples, cfg.seed)
    attacks = {
        ("white-box", "fgsm"): lambda eps: FGSM(eps),
        ("white-box", "pgd"): lambda eps: PGD(eps, cfg.pgd_steps, cfg.pgd_alpha, seed=cfg.seed),
        ("black-box-query", "square"): lambda eps: Square(eps, cfg.square_queries, seed=cfg.seed),
    }
    if cfg.transfer:
        surrogate = _surrogate(ctx)
        attacks[("black-box-transfer", "pgd")] = lambda eps: Transfer(
            surrogate, PGD(eps, cfg.pgd_steps, cfg.pgd_alpha, seed=cfg.seed)
        )
    clean = None if clean_logits is None else clean_logits(torch.arange(len(split)))
    rows = robustness(ctx.model.classifier, split, attacks, list(cfg.epsilons), ctx.device, clean_logits=clean)

    def attack_config(attack: str, setting: str, eps: float) -> str:
        """The threat model's attack settings as JSON: steps, step size, restarts (runs per example), queries."""
        if attack == "fgsm":
            settings = {"steps": 1, "step_size": eps, "restarts": 1, "queries": None, "random_start": False}
        elif attack == "square":
            settings = {
                "steps": None,
                "step_size": eps,
                "restarts": 1,
                "queries": cfg.square_queries,
                "random_start": True,
            }
        else:  # pgd, on the model or (transfer) on a surrogate
            step_size = cfg.pgd_alpha if cfg.pgd_alpha is not None else 2.5 * eps / max(cfg.pgd_steps, 1)
            settings = {
                "steps": cfg.pgd_steps,
                "step_size": step_size,
                "restarts": 1,
                "queries": None,
                "random_start": True,
            }
        return json.dumps({**settings, **({"crafted_on": "surrogate"} if setting == "black-box-transfer" else {})})

    return [
        {
            **row,
            "norm": "Linf",
            "n_examples": row["n_samples"],
            "seed": cfg.seed,
            "attack_config": attack_config(row["attack"], row["setting"], row["epsilon"]),
        }
        for row in rows
    ]


def _rows_backdoor_detection(ctx: Context, cfg: BackdoorConfig) -> list[dict]:
    pool = ctx.held_out(cfg.seed)
    n = cfg.n_inputs
    nc_clean = pool.take(range(min(cfg.nc_samples, len(pool))))
    calibration, evaluation = pool.take(range(0, n)), pool.take(range(n, 2 * n))
    overlay = pool.take(range(2 * n, len(pool))) if len(pool) > 3 * n else pool
    backdoor = ctx.model.training.get("backdoor")
    triggered = trigger_mask = None
    if backdoor:
        trigger = Trigger(**backdoor["trigger"])
        victims = evaluation.take(torch.nonzero(evaluation.y != backdoor["target_label"]).flatten())
        triggered = trigger.apply(victims.x)
        trigger_mask = trigger.mask(*victims.x.shape[-2:])
    model, device = ctx.model.classifier, ctx.device
    detectors = [
        (
            "neural_cleanse",
            lambda: NeuralCleanse(
                cfg.nc_steps, cfg.nc_lr, cfg.nc_lambda, cfg.nc_batch_size, cfg.nc_threshold, seed=cfg.seed
            )(model, nc_clean, ctx.model.num_classes, device),
        ),
        (
            "strip",
            lambda: STRIP(cfg.strip_superimpose, cfg.strip_frr, cfg.flag_rate, cfg.seed)(
                model, calibration, overlay, evaluation, device, triggered
            ),
        ),
        (
            "neo",
            lambda: NEO(cfg.neo_window, cfg.neo_stride, flag_rate=cfg.flag_rate, seed=cfg.seed)(
                model, evaluation, overlay, device, triggered, trigger_mask
            ),
        ),
    ]
    rows = []
    for _, run in detectors:
        started = time.monotonic()
        row = run()
        rows.append({**row, "runtime_s": time.monotonic() - started, "hardware": models.hardware(device)})
    return rows


def run_family(
    settings: Settings,
    model_id: str,
    family: str,
    config=None,
    loaded: models.LoadedModel | None = None,
    dataset: str | None = None,
) -> dict:
    """Evaluate ``model_id`` with one family, write its Parquet file, and return a summary (path, rows, notes).

    ``dataset`` (e.g. the catalog's annotation) is used when the model's own config does not name its training set.
    """
    entry = families.get(family)
    config = config or entry.config()
    device = models.resolve_device(settings)
    loaded = loaded or cache.CACHE.model(model_id, settings, device)  # one load per (model, revision, device) a run
    if not loaded.dataset and dataset:
        loaded.training = {**loaded.training, "dataset": dataset}
    if not loaded.dataset:
        raise data_mod.DatasetUnavailable(
            f"Expected the training dataset of {model_id} in its config (sn_lake.dataset or pretrained_cfg.dataset) "
            "or in catalog.models.dataset, found neither: annotate the model's dataset."
        )
    torch.manual_seed(getattr(config, "seed", 0))
    splits = cache.CACHE.dataset(loaded.dataset, settings)  # one decode per dataset a run
    models.align_labels(loaded, splits)  # logits in the dataset's class order, or LabelMismatch with the reason
    chash = results.config_hash(family, asdict(config))
    ctx = Context(settings, loaded, splits, device, config_hash=chash)
    started = time.monotonic()
    rows = entry.run_function()(ctx, config)
    runtime = time.monotonic() - started
    common = {
        "model_id": model_id,
        "revision": loaded.revision,
        "dataset": loaded.dataset,
        "origin": "computed",
        "config_hash": chash,
        "device": device.type,
        "runtime_s": runtime,
        "computed_at": lake.utcnow(),
    }
    frame = pl.DataFrame([{**common, **row} for row in rows], infer_schema_length=None)
    path = results.write(settings, family, model_id, chash, frame)
    for note in ctx.notes:
        log.info(note)
    return {
        "path": str(path),
        "rows": frame.height,
        "config_hash": chash,
        "runtime_s": round(runtime, 2),
        "notes": ctx.notes,
        "frame": frame,
    }


# What makes a model not evaluable (rather than a bug): its files, its labels or its data. A failure of these
# is recorded (sn_lake.evaluate.results.record_failure) unless it is a passing outage of the Hub.
NOT_EVALUABLE = (models.ModelLoadError, data_mod.DatasetUnavailable)
PASSING_REASONS = ("hub unreachable", "hub request failed")


def is_lasting(exc: BaseException) -> bool:
    """Whether a NOT_EVALUABLE error says something about the model (kept) rather than a passing outage (not kept)."""
    return getattr(exc, "reason", None) not in PASSING_REASONS
