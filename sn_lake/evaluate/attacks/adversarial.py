"""Adversarial examples under an L-infinity budget on [0, 1] inputs.

White-box FGSM (Goodfellow et al. 2015) and PGD (Madry et al. 2018), black-box transfer (PGD on a
surrogate, e.g. the stealing attack's), and the query-based Square attack (Andriushchenko et al.,
ECCV 2020). Each attack maps ``(model, x, y)`` to adversarial images within ``eps`` of ``x``.

:func:`robustness` reports, per attack and epsilon, clean accuracy, robust accuracy and the drop.
An example counts as robust at epsilon when the model classifies it correctly clean and under the
attack at every budget up to epsilon (an adversary with budget epsilon may use any smaller one), so
robust accuracy never exceeds clean accuracy and the drop never decreases with epsilon.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from sn_lake import progress
from sn_lake.evaluate.data import Split


def _project(x_adv: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    return torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0, 1)


def _loss_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    (grad,) = torch.autograd.grad(loss, x)
    return grad


class FGSM:
    """Fast Gradient Sign Method: one step of size ``eps`` along the sign of the loss gradient."""

    def __init__(self, eps: float):
        self.eps = eps

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return _project(x + self.eps * _loss_gradient(model, x, y).sign(), x, self.eps).detach()


class PGD:
    """Projected Gradient Descent: ``steps`` signed-gradient steps of ``alpha`` (default 2.5 eps / steps), random start."""

    def __init__(self, eps: float, steps: int = 10, alpha: float | None = None, random_start: bool = True, seed: int = 0):
        self.eps, self.steps, self.random_start, self.seed = eps, steps, random_start, seed
        self.alpha = alpha if alpha is not None else 2.5 * eps / max(steps, 1)

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x_adv = x.clone()
        if self.random_start and self.eps > 0:
            gen = torch.Generator(device="cpu").manual_seed(self.seed)
            noise = (torch.rand(x.shape, generator=gen) * 2 - 1) * self.eps
            x_adv = _project(x + noise.to(x.device), x, self.eps)
        for _ in range(self.steps):
            x_adv = _project(x_adv + self.alpha * _loss_gradient(model, x_adv, y).sign(), x, self.eps).detach()
        return x_adv


class Transfer:
    """Black-box transfer: craft with ``attack`` on a ``surrogate`` model, then show the result to the target."""

    def __init__(self, surrogate: nn.Module, attack):
        self.surrogate, self.attack = surrogate, attack

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.attack(self.surrogate, x, y)


def _margin(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """z_y - max_{j != y} z_j: negative once the example is misclassified."""
    z_y = logits.gather(1, y[:, None]).squeeze(1)
    return z_y - logits.scatter(1, y[:, None], float("-inf")).max(1).values


class Square:
    """Square attack (L-infinity): random square updates of +-eps per channel, kept when the margin drops.

    ``n_queries`` bounds the model queries per example (including the initial one); ``p_init`` is the
    initial fraction of pixels a square covers, halved on the paper's schedule.
    """

    def __init__(self, eps: float, n_queries: int = 300, p_init: float = 0.05, seed: int = 0):
        self.eps, self.n_queries, self.p_init, self.seed = eps, n_queries, p_init, seed

    def _p(self, it: int) -> float:
        scaled = int(it / self.n_queries * 10000)
        for bound, factor in ((10, 1), (50, 2), (200, 4), (500, 8), (1000, 16), (2000, 32), (4000, 64), (6000, 128), (8000, 256)):
            if scaled <= bound:
                return self.p_init / factor
        return self.p_init / 512

    @torch.no_grad()
    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.eps == 0:
            return x.clone()
        gen = torch.Generator(device="cpu").manual_seed(self.seed)
        n, c, h, w = x.shape
        stripes = (torch.randint(0, 2, (n, c, 1, w), generator=gen).float() * 2 - 1).to(x.device)
        x_best = (x + self.eps * stripes).clamp(0, 1)
        margin = _margin(model(x_best), y)
        for it in range(1, self.n_queries):
            active = torch.nonzero(margin > 0).flatten()
            if len(active) == 0:
                break
            side = max(int(round(math.sqrt(self._p(it) * h * w))), 1)
            side = min(side, h - 1)
            r, s = (int(v) for v in torch.randint(0, h - side + 1, (2,), generator=gen))
            xa, xb = x[active], x_best[active]
            delta = xb - xa
            signs = (torch.randint(0, 2, (len(active), c, 1, 1), generator=gen).float() * 2 - 1).to(x.device)
            delta[:, :, r : r + side, s : s + side] = self.eps * signs
            candidate = _project(xa + delta, xa, self.eps)
            new_margin = _margin(model(candidate), y[active])
            better = new_margin < margin[active]
            x_best[active[better]] = candidate[better]
            margin[active[better]] = new_margin[better]
        return x_best


@torch.no_grad()
def _correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> torch.Tensor:
    return torch.cat([model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size] for i in range(0, len(x), batch_size)])


def attack_batched(attack, model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> torch.Tensor:
    return torch.cat([attack(model, x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def robustness(
    model: nn.Module, split: Split, attacks: dict[tuple[str, str], callable], epsilons: list[float],
    device: torch.device, batch_size: int = 128,
) -> list[dict]:
    """Rows of (setting, attack, epsilon, clean/robust accuracy, drop); ``attacks[(setting, name)](eps)`` builds one attack."""
    x, y = split.x.to(device), split.y.to(device)
    clean = _correct(model, x, y, batch_size)
    clean_accuracy = float(clean.double().mean())
    rows = []
    bar = progress.Progress("adversarial attacks", total=len(attacks) * len(epsilons), unit="attack runs")
    for (setting, name), make in attacks.items():
        still_correct = clean.clone()
        for eps in sorted(epsilons):
            x_adv = attack_batched(make(eps), model, x, y, batch_size)
            if float((x_adv - x).abs().max()) > eps + 1e-6:
                raise AssertionError(f"{name} left the eps={eps} ball ({float((x_adv - x).abs().max())}): this is a bug in the attack.")
            still_correct &= _correct(model, x_adv, y, batch_size)
            robust = float(still_correct.double().mean())
            rows.append({
                "setting": setting, "attack": name, "epsilon": float(eps), "clean_accuracy": clean_accuracy,
                "robust_accuracy": robust, "accuracy_drop": clean_accuracy - robust, "n_samples": len(y),
            })  # fmt: skip
            bar.update()
    bar.close()
    return rows
