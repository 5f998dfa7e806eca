"""Each attack family's configuration, with the issue's defaults, importable without PyTorch.

This module is the one home of every attack default: the Dagster config classes in ``assets/evaluation.py``
and the attack classes in ``sn_lake/evaluate/attacks/`` take theirs from here (the config dataclasses, and
below them the few fixed parameters that are not run config), so loading the code location does not import
torch and no two places disagree; :mod:`sn_lake.evaluate.pipeline` runs a family with one of these.
"""

from __future__ import annotations

from dataclasses import dataclass

METRIC_ATTACKS = ("correctness", "confidence", "entropy", "modified_entropy", "loss")
# datasets sn_lake.evaluate.data reads through torchvision (besides digits, always there): id -> torchvision class
TORCHVISION = {"cifar10": "CIFAR10", "cifar100": "CIFAR100", "svhn": "SVHN", "mnist": "MNIST"}


@dataclass(frozen=True)
class AccuracyConfig:
    pass


@dataclass(frozen=True)
class StealingConfig:
    query_budgets: tuple[int, ...] = (100, 200, 400)
    label_only: bool = False
    surrogate_arch: str = "resnet18"  # a timm architecture (tiny kwargs for the zoo's), or "same" as the target
    aux_dataset: str | None = None  # None: the study's partial training set (a sample of the train split)
    epochs: int = 15
    test_samples: int = 600
    seed: int = 0


@dataclass(frozen=True)
class MembershipConfig:
    attacks: tuple[str, ...] = METRIC_ATTACKS
    max_per_side: int = 500
    n_bootstrap: int = 200
    lira_max_parameters: int = 0  # opt in: run LiRA offline on models with at most this many parameters
    lira_reference_models: int = 4
    lira_epochs: int = 10
    seed: int = 0


@dataclass(frozen=True)
class AdversarialConfig:
    epsilons: tuple[float, ...] = (1 / 255, 2 / 255, 4 / 255, 8 / 255)
    n_samples: int = 100
    pgd_steps: int = 10
    pgd_alpha: float | None = None  # None: 2.5 * eps / steps
    square_queries: int = 100
    transfer: bool = True
    seed: int = 0


@dataclass(frozen=True)
class BackdoorConfig:
    nc_steps: int = 150  # fewer left a planted backdoor of the zoo (badnets-br) below the anomaly threshold
    nc_lr: float = 0.1
    nc_lambda: float = 1e-3
    nc_batch_size: int = 16  # clean images per label per step
    nc_samples: int = 200
    nc_threshold: float = 2.0
    strip_superimpose: int = 20
    strip_frr: float = 0.01
    neo_window: int = 6
    neo_stride: int = 3
    n_inputs: int = 50  # held-out clean inputs STRIP and NEO judge
    flag_rate: float = 0.05
    seed: int = 0


# Fixed attack parameters (not run config, so not in the config hash): the classes' defaults.
SQUARE_P_INIT = 0.05  # Square: the initial fraction of the image a square covers
STEALING_LR = 3e-3  # model stealing: the surrogate's peak learning rate (AdamW, one-cycle)
LIRA_LR = 3e-3  # LiRA offline: the reference models' peak learning rate
NC_SUCCESS = 0.95  # Neural Cleanse: the attack success a trigger must reach for its norm to count
NC_PATIENCE = 5  # Neural Cleanse: steps at (or below) that success before lambda moves
NC_LAMBDA_UP = 1.5  # Neural Cleanse: lambda's factor up (down by its 1.5th power)
NEO_VERIFY = 10  # NEO: clean images a candidate trigger is pasted on
NEO_CONFIRM_RATE = 0.8  # NEO: share of them that must turn to the input's label
