"""The attack families: one registry that every layer enumerates instead of listing the families itself.

Each :class:`Family` names its configuration class (:mod:`sn_lake.evaluate.configs`), the function of
:mod:`sn_lake.evaluate.pipeline` that computes its rows, its results table (contract), the short name
``sn-lake evaluate --attacks`` takes, and what the quality rules of its table check. The Dagster assets
(``assets/evaluation.py``), the CLI, the results loader (:mod:`sn_lake.evaluate.results`) and the quality
rules (:mod:`sn_lake.quality.rules`) read it. This module imports neither PyTorch nor Dagster: the runner is
named, and imported only when a family runs.

Adding a family: a config dataclass in ``configs.py``, a runner ``_rows_<name>(ctx, cfg)`` in
``pipeline.py``, the table's DDL in ``sql/schema/30_results.sql``, and one entry below.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from sn_lake.evaluate import configs

RUNNERS_MODULE = "sn_lake.evaluate.pipeline"


@dataclass(frozen=True)
class Family:
    """One attack family and everything the layers above need to know about it."""

    name: str
    attack: str  # the name `sn-lake evaluate --attacks` takes
    config: type  # its configuration dataclass, with the defaults of sn_lake.evaluate.configs
    runner: str  # the function of RUNNERS_MODULE that computes its rows: (ctx, config) -> rows
    description: str  # what one partition of its asset computes (the asset's description)
    key: tuple[str, ...]  # the columns that, beside model_id, origin and config_hash, name one result row
    fractions: tuple[str, ...] = ()  # columns that are fractions in [0, 1]
    differences: tuple[str, ...] = ()  # differences of two fractions, in [-1, 1]
    train_not_below_test: bool = False  # flag rows whose train accuracy is well below the test accuracy
    after: tuple[str, ...] = ()  # families whose output this one reads (the transfer attack: stealing's surrogate)

    @property
    def table(self) -> str:
        """Its results table (contract): ``results.<name>``."""
        return f"results.{self.name}"

    @property
    def asset(self) -> str:
        """Its Dagster asset, partitioned by model: ``eval_<name>``."""
        return f"eval_{self.name}"

    def run_function(self) -> Callable:
        """The runner itself (imports PyTorch)."""
        return getattr(importlib.import_module(RUNNERS_MODULE), self.runner)


_ALL = (
    Family(
        "task_accuracy",
        "accuracy",
        configs.AccuracyConfig,
        "_rows_task_accuracy",
        "Task accuracy of one model: train (members) and test accuracy and the overfit gap.",
        key=("dataset",),
        fractions=("train_accuracy", "test_accuracy"),
        differences=("overfit_gap",),
        train_not_below_test=True,
    ),
    Family(
        "model_stealing",
        "stealing",
        configs.StealingConfig,
        "_rows_model_stealing",
        "Model stealing of one model: surrogate accuracy and agreement per query budget.",
        key=("aux_dataset", "query_budget", "surrogate_arch", "label_only"),
        fractions=("stealing_accuracy", "agreement"),
    ),
    Family(
        "membership_inference",
        "membership",
        configs.MembershipConfig,
        "_rows_membership_inference",
        "Membership inference on one model: AUC and TPR at low FPR with bootstrap intervals per attack.",
        key=("attack",),
        fractions=("auc", "auc_ci_low", "auc_ci_high", "tpr_at_1pct_fpr", "tpr_at_01pct_fpr"),
    ),
    Family(
        "adversarial",
        "adversarial",
        configs.AdversarialConfig,
        "_rows_adversarial",
        "Adversarial robustness of one model: FGSM, PGD, transfer from the stealing surrogate, Square, per epsilon.",
        key=("setting", "attack", "epsilon"),
        fractions=("clean_accuracy", "robust_accuracy"),
        differences=("accuracy_drop",),
        after=("model_stealing",),
    ),
    Family(
        "backdoor_detection",
        "backdoor",
        configs.BackdoorConfig,
        "_rows_backdoor_detection",
        "Backdoor detection on one model: Neural Cleanse, STRIP and NEO verdicts, scores and runtimes.",
        key=("detector",),
    ),
)

FAMILIES: dict[str, Family] = {f.name: f for f in _ALL}
NAMES: tuple[str, ...] = tuple(FAMILIES)
BY_ATTACK: dict[str, Family] = {f.attack: f for f in _ALL}  # `sn-lake evaluate --attacks` names
TABLES: dict[str, str] = {f.name: f.table for f in _ALL}  # family -> results table (contract)


def get(name: str) -> Family:
    """The family called ``name``, or a ValueError that lists the known ones."""
    if name not in FAMILIES:
        raise ValueError(f"Expected an attack family from {NAMES}, found {name!r}: use one of them.")
    return FAMILIES[name]
