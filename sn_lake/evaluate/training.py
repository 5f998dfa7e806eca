"""Small, seeded training loops shared by the zoo, the stealing surrogates and the reference models."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from sn_lake.evaluate.data import Split
from sn_lake.progress import Progress

_CPU = torch.device("cpu")


def seeded(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def train(
    model: nn.Module,
    x: torch.Tensor,
    targets: torch.Tensor,
    *,
    epochs: int,
    lr: float = 2e-3,
    weight_decay: float = 0.0,
    batch_size: int = 64,
    seed: int = 0,
    device: torch.device = _CPU,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    progress: str | None = None,
) -> nn.Module:
    """Train with AdamW and a cosine schedule; ``targets`` are labels (N) or probabilities (N x K).

    ``progress`` names one progress bar over this run's batches, closed when the run ends; None shows
    none (as in the zoo build, whose own bar counts models: no bar inside a bar).
    """
    gen = seeded(seed)
    model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * ((len(x) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 1), pct_start=0.15)
    soft = targets.ndim == 2
    with Progress(progress or "training", total=steps, unit="batches", mode=None if progress else "off") as bar:
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=gen)
            for start in range(0, len(x), batch_size):
                idx = order[start : start + batch_size]
                xb = x[idx]
                if augment is not None:
                    xb = augment(xb, gen)
                xb, tb = xb.to(device), targets[idx].to(device)
                logits = model(xb)
                loss = F.cross_entropy(logits, tb) if not soft else -(tb * F.log_softmax(logits, 1)).sum(1).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                bar.update()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def random_shift(x: torch.Tensor, gen: torch.Generator, pad: int = 2) -> torch.Tensor:
    """Random translations by up to ``pad`` pixels (the zoo's only augmentation)."""
    dx, dy = (int(v) for v in torch.randint(-pad, pad + 1, (2,), generator=gen))
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


@torch.no_grad()
def logits_of(model: nn.Module, x: torch.Tensor, device: torch.device, batch_size: int = 256) -> torch.Tensor:
    """The model's logits for ``x`` as float64 on the CPU (scores are computed in float64)."""
    model.eval()
    out = [model(x[i : i + batch_size].to(device)).double().cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(out) if out else torch.empty(0, 0, dtype=torch.float64)


def accuracy(model: nn.Module, split: Split, device: torch.device) -> float:
    if len(split) == 0:
        return float("nan")
    return float((logits_of(model, split.x, device).argmax(1) == split.y).double().mean())
