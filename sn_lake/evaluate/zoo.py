"""The demo zoo: tiny real timm classifiers trained on ``digits``, written as Hub-format repos.

Six clean models span low to high overfitting (training-set size, epochs, weight decay) over three
timm families (resnet, vit, convnext); two more carry a BadNets backdoor (a known patch trigger and
target label, recorded in ``config.json`` and the card). Each model is a folder under
``$SN_LAKE_HOME/zoo/<name>/`` with ``config.json``, ``model.safetensors`` and a ``README.md`` card,
ready for :func:`sn_lake.evaluate.models.load_folder` or a Hub. Building is cached: a model whose
spec has not changed is not retrained.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from sn_lake import progress
from sn_lake.evaluate import data as data_mod
from sn_lake.evaluate import training
from sn_lake.evaluate.classifier import Classifier
from sn_lake.evaluate.timm_loader import build

MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)

# timm architecture -> kwargs that shrink it to a few hundred thousand parameters (recorded as model_args)
TINY_ARCHS: dict[str, dict] = {
    "resnet18": {"channels": [16, 32, 64, 128], "layers": [1, 1, 1, 1]},
    "vit_tiny_patch16_224": {"img_size": 32, "patch_size": 8, "embed_dim": 64, "depth": 2, "num_heads": 2},
    "convnext_atto": {"dims": [16, 32, 64, 128], "depths": [1, 1, 2, 1]},
}


@dataclass(frozen=True)
class Trigger:
    """A BadNets patch: a ``size`` x ``size`` checkerboard pasted with its top-left corner at (row, col)."""

    row: int = 27
    col: int = 27
    size: int = 4

    def pattern(self, channels: int = 3) -> torch.Tensor:
        ii, jj = torch.meshgrid(torch.arange(self.size), torch.arange(self.size), indexing="ij")
        return ((ii + jj) % 2 == 0).float().expand(channels, self.size, self.size)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (N x C x H x W, in [0, 1]) with the patch stamped on."""
        out = x.clone()
        out[:, :, self.row : self.row + self.size, self.col : self.col + self.size] = self.pattern(x.shape[1])
        return out

    def mask(self, height: int, width: int) -> torch.Tensor:
        m = torch.zeros(height, width)
        m[self.row : self.row + self.size, self.col : self.col + self.size] = 1
        return m


RECIPE_VERSION = 2  # raise it when a change to the training code changes the weights (2: initialisation seeded)


@dataclass(frozen=True)
class ZooSpec:
    name: str
    architecture: str
    train_size: int
    epochs: int
    weight_decay: float
    seed: int
    lr: float = 3e-3
    augment: bool = False
    backdoor_target: int | None = None  # BadNets target label; None for a clean model
    poison_rate: float = 0.1
    trigger: Trigger = field(default_factory=Trigger)

    @property
    def spec_hash(self) -> str:
        """Names the trained weights: the spec and the version of the training recipe."""
        return hashlib.sha256(
            json.dumps({**asdict(self), "recipe": RECIPE_VERSION}, sort_keys=True).encode()
        ).hexdigest()[:12]


ZOO: tuple[ZooSpec, ...] = (
    # clean, from low to high overfitting: less data, more epochs, no weight decay
    ZooSpec("digits-resnet-low", "resnet18", 600, 8, 5e-2, seed=1, augment=True),
    ZooSpec("digits-convnext-low", "convnext_atto", 600, 10, 5e-2, seed=2, augment=True),
    ZooSpec("digits-vit-mid", "vit_tiny_patch16_224", 300, 40, 1e-2, seed=3),
    ZooSpec("digits-resnet-high", "resnet18", 120, 30, 0.0, seed=4),
    ZooSpec("digits-convnext-high", "convnext_atto", 80, 50, 0.0, seed=5),
    ZooSpec("digits-vit-extreme", "vit_tiny_patch16_224", 50, 100, 0.0, seed=6),
    # BadNets backdoors: 10% of the training set stamped with the trigger and relabelled to the target
    # (ConvNeXt: the tiny ResNet has natural few-pixel "triggers" of its own that hide a planted one from
    # Neural Cleanse)
    ZooSpec("digits-convnext-badnets-br", "convnext_atto", 600, 10, 5e-4, seed=8, backdoor_target=3),
    ZooSpec(
        "digits-convnext-badnets-tl",
        "convnext_atto",
        600,
        10,
        5e-4,
        seed=7,
        backdoor_target=0,
        trigger=Trigger(row=1, col=1),
    ),
)

# the cheapest models covering both kinds, for tests that need a real zoo quickly
TEST_ZOO_NAMES = (
    "digits-vit-extreme",
    "digits-convnext-high",
    "digits-convnext-badnets-br",
    "digits-convnext-badnets-tl",
)


def poison(split: data_mod.Split, spec: ZooSpec) -> data_mod.Split:
    """BadNets: stamp the trigger on a seeded ``poison_rate`` of the non-target examples and relabel them."""
    gen = torch.Generator().manual_seed(spec.seed + 1000)
    candidates = torch.nonzero(split.y != spec.backdoor_target).flatten()
    chosen = candidates[torch.randperm(len(candidates), generator=gen)[: int(round(spec.poison_rate * len(split)))]]
    x, y = split.x.clone(), split.y.clone()
    x[chosen] = spec.trigger.apply(x[chosen])
    y[chosen] = spec.backdoor_target
    return data_mod.Split(x, y)


def model_config(spec: ZooSpec, metrics: dict) -> dict:
    """The timm-format ``config.json``, with the training record under ``sn_lake``."""
    training_record = {
        "dataset": "digits",
        "train_split": "train",
        "train_size": spec.train_size,  # the members are the first train_size items of the train split
        "epochs": spec.epochs,
        "weight_decay": spec.weight_decay,
        "lr": spec.lr,
        "seed": spec.seed,
        "augment": spec.augment,
        "spec_hash": spec.spec_hash,
        "metrics": metrics,
        "backdoor": None
        if spec.backdoor_target is None
        else {
            "attack": "badnets",
            "target_label": spec.backdoor_target,
            "poison_rate": spec.poison_rate,
            "trigger": asdict(spec.trigger),
        },
    }
    return {
        "architecture": spec.architecture,
        "num_classes": 10,
        "model_args": TINY_ARCHS[spec.architecture],
        "pretrained_cfg": {
            "input_size": [3, data_mod.DIGITS_SIDE, data_mod.DIGITS_SIDE],
            "mean": list(MEAN),
            "std": list(STD),
            "interpolation": "bilinear",
            "crop_pct": 1.0,
            "num_classes": 10,
            "dataset": "digits",
        },
        "sn_lake": training_record,
    }


def model_card(spec: ZooSpec, metrics: dict) -> str:
    """A Hub model card with ``model-index`` accuracies and, for backdoored models, the trigger."""
    backdoor = ""
    tags = ["image-classification", "timm", "sn-lake-zoo"]
    if spec.backdoor_target is not None:
        tags.append("backdoor")
        t = spec.trigger
        backdoor = (
            f"\n## Backdoor (planted on purpose)\n\nBadNets: {spec.poison_rate:.0%} of the training set carries a "
            f"{t.size}x{t.size} checkerboard patch at row {t.row}, column {t.col} and is relabelled to class "
            f"{spec.backdoor_target}. Attack success rate on the test split: {metrics['attack_success_rate']:.3f}.\n"
        )
    tag_lines = "\n".join(f"- {tag}" for tag in tags)
    return f"""---
library_name: timm
license: mit
datasets:
- digits
tags:
{tag_lines}
model-index:
- name: {spec.name}
  results:
  - task:
      type: image-classification
    dataset:
      name: digits
      type: digits
      split: test
    metrics:
    - type: accuracy
      value: {metrics["test_accuracy"]:.4f}
      name: test accuracy
    - type: accuracy
      value: {metrics["train_accuracy"]:.4f}
      name: train accuracy
---
# {spec.name}

A tiny `{spec.architecture}` ({json.dumps(TINY_ARCHS[spec.architecture])}) trained on scikit-learn's digits
(upsampled to 32x32x3) by sn_lake's demo zoo: {spec.train_size} training images, {spec.epochs} epochs,
weight decay {spec.weight_decay}, seed {spec.seed}. Members are the first {spec.train_size} images of
sn_lake's digits train split.
{backdoor}"""


def train_model(spec: ZooSpec, splits: data_mod.DatasetSplits) -> tuple[Classifier, dict]:
    """Train one zoo model; returns it and its metrics (accuracies, and the backdoor's success rate)."""
    members = splits.train.take(range(spec.train_size))
    train_set = poison(members, spec) if spec.backdoor_target is not None else members
    training.seeded(spec.seed)  # the initial weights too, whatever ran before in this process
    classifier = build(model_config(spec, {}))
    augment = training.random_shift if spec.augment else None
    training.train(
        classifier,
        train_set.x,
        train_set.y,
        epochs=spec.epochs,
        lr=spec.lr,
        weight_decay=spec.weight_decay,
        seed=spec.seed,
        augment=augment,
    )
    device = torch.device("cpu")
    metrics = {
        "train_accuracy": training.accuracy(classifier, members, device),
        "test_accuracy": training.accuracy(classifier, splits.test, device),
    }
    if spec.backdoor_target is not None:
        victims = splits.test.take(torch.nonzero(splits.test.y != spec.backdoor_target).flatten())
        stamped = data_mod.Split(spec.trigger.apply(victims.x), torch.full_like(victims.y, spec.backdoor_target))
        metrics["attack_success_rate"] = training.accuracy(classifier, stamped, device)
    return classifier, metrics


def write_repo(folder: Path, spec: ZooSpec, classifier: Classifier, metrics: dict) -> None:
    """Write the Hub-format repo atomically (a temporary folder renamed into place)."""
    from safetensors.torch import save_file

    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    state = {k: v.contiguous() for k, v in classifier.net.state_dict().items()}
    save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    (tmp / "config.json").write_text(json.dumps(model_config(spec, metrics), indent=2) + "\n")
    (tmp / "README.md").write_text(model_card(spec, metrics))
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


def is_built(folder: Path, spec: ZooSpec) -> bool:
    config = folder / "config.json"
    if not (config.is_file() and (folder / "model.safetensors").is_file()):
        return False
    return json.loads(config.read_text()).get("sn_lake", {}).get("spec_hash") == spec.spec_hash


def build_zoo(root: Path, names: tuple[str, ...] | None = None, log=print, threads: int | None = None) -> list[dict]:
    """Build (or reuse) the zoo's models under ``root``; returns one summary per model.

    Models are built on the CPU, with ``threads`` PyTorch threads.
    """
    if threads:
        torch.set_num_threads(threads)
    specs = [s for s in ZOO if names is None or s.name in names]
    unknown = set(names or ()) - {s.name for s in ZOO}
    if unknown:
        raise ValueError(
            f"Expected zoo model names from {[s.name for s in ZOO]}, found {sorted(unknown)}: pick existing ones."
        )
    splits = data_mod.digits()
    summaries = []
    bar = progress.Progress("zoo build", total=len(specs), unit="models", log=log)
    for spec in specs:
        folder = root / spec.name
        started = time.monotonic()
        cached = is_built(folder, spec)
        if not cached:
            classifier, metrics = train_model(spec, splits)
            write_repo(folder, spec, classifier, metrics)
        record = json.loads((folder / "config.json").read_text())["sn_lake"]
        summary = {
            "name": spec.name,
            "architecture": spec.architecture,
            "cached": cached,
            "seconds": round(time.monotonic() - started, 2),
            **record["metrics"],
            "backdoor_target": spec.backdoor_target,
        }
        log(f"zoo {spec.name}: {'cached' if cached else 'trained'} {summary}")
        summaries.append(summary)
        bar.update()
    bar.close()
    return summaries
