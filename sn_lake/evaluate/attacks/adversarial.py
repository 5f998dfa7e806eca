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

import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from sn_lake import progress
from sn_lake.evaluate.configs import SQUARE_P_INIT, AdversarialConfig
from sn_lake.evaluate.data import Split

_ADV = AdversarialConfig()
# the float slack of the eps-ball check: x + eps - x can round one float32 ulp past eps
BALL_TOLERANCE = 1e-6


def _ball(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-pixel bounds of the eps-ball around ``x`` within [0, 1]: clipping to them is the projection."""
    return (x - eps).clamp_(min=0), (x + eps).clamp_(max=1)


def _loss_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """d CE(model(x), y) / dx and the logits of ``x``, whatever the caller's grad mode.

    The model's parameters stay frozen.
    """
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        logits = model(x)
        (grad,) = torch.autograd.grad(F.cross_entropy(logits, y), x)
    return grad, logits.detach()


class FGSM:
    """Fast Gradient Sign Method: one step of size ``eps`` along the sign of the loss gradient."""

    def __init__(self, eps: float):
        self.eps = eps

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.eps == 0:
            return x.clone()
        # x + eps * sign is on the ball's surface, and clipping to [0, 1] only moves towards x: no other projection
        return x.add(_loss_gradient(model, x, y)[0].sign_(), alpha=self.eps).clamp_(0, 1)


class PGD:
    """Projected Gradient Descent: ``steps`` signed-gradient steps of ``alpha`` (default 2.5 eps / steps), random start.

    With ``stop_when_fooled`` (the default), an example the model already misclassifies at a step keeps that
    image and leaves the batch: its attack has succeeded, so the rest run on fewer examples. The others follow
    the same path as without it, so the attack is never weaker than plain PGD's last step, and costs less
    when examples break early. A transfer attack crafts on a surrogate and wants the surrogate's loss pushed
    through every step: it turns this off.
    """

    def __init__(
        self,
        eps: float,
        steps: int = _ADV.pgd_steps,
        alpha: float | None = _ADV.pgd_alpha,
        random_start: bool = True,
        seed: int = _ADV.seed,
        stop_when_fooled: bool = True,
    ):
        self.eps, self.steps, self.random_start, self.seed = eps, steps, random_start, seed
        self.alpha = alpha if alpha is not None else 2.5 * eps / max(steps, 1)
        self.stop_when_fooled = stop_when_fooled

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.eps == 0:
            return x.clone()
        low, high = _ball(x, self.eps)
        if self.random_start:
            gen = torch.Generator(device="cpu").manual_seed(self.seed)
            noise = (torch.rand(x.shape, generator=gen) * 2 - 1) * self.eps
            out = torch.clamp(x + noise.to(x.device), low, high)
        else:
            out = x.clone()
        work, rows = out, None  # the examples still attacked (out itself until one is fooled) and their rows of out
        for _ in range(self.steps):
            grad, logits = _loss_gradient(model, work, y)
            if self.stop_when_fooled:
                fooled = logits.argmax(1) != y
                if bool(fooled.any()):
                    rows = torch.arange(len(out), device=out.device) if rows is None else rows
                    out[rows[fooled]] = work[fooled]
                    keep = ~fooled
                    rows, work, low, high, y, grad = rows[keep], work[keep], low[keep], high[keep], y[keep], grad[keep]
                    if len(rows) == 0:
                        return out
            # work += alpha * sign(grad), clipped to the ball: two passes, in place
            torch.clamp(work.add_(grad.sign_(), alpha=self.alpha), low, high, out=work)
        if rows is not None:
            out[rows] = work
        return out


class Transfer:
    """Black-box transfer: craft with ``attack`` on a ``surrogate`` model, then show the result to the target.

    The attack runs all its steps (a copy with ``stop_when_fooled`` off): the surrogate being fooled says little
    about the target, and pushing the surrogate's loss further is what makes the images transfer.
    """

    def __init__(self, surrogate: nn.Module, attack):
        if getattr(attack, "stop_when_fooled", False):
            attack = copy.copy(attack)
            attack.stop_when_fooled = False
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
    initial fraction of pixels a square covers, halved on the paper's schedule. Only the square changes
    from the current best, so only it is rebuilt; an example whose new square equals its current one (the
    same signs, or pixels clipped alike) would score its current margin again and is not queried.
    """

    def __init__(
        self, eps: float, n_queries: int = _ADV.square_queries, p_init: float = SQUARE_P_INIT, seed: int = _ADV.seed
    ):
        self.eps, self.n_queries, self.p_init, self.seed = eps, n_queries, p_init, seed

    def _p(self, it: int) -> float:
        scaled = int(it / self.n_queries * 10000)
        for bound, factor in (
            (10, 1),
            (50, 2),
            (200, 4),
            (500, 8),
            (1000, 16),
            (2000, 32),
            (4000, 64),
            (6000, 128),
            (8000, 256),
        ):
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
        x_best = (x + self.eps * stripes).clamp_(0, 1)
        margin = _margin(model(x_best), y)
        for it in range(1, self.n_queries):
            active = torch.nonzero(margin > 0).flatten()
            if len(active) == 0:
                break
            side = max(int(round(math.sqrt(self._p(it) * h * w))), 1)
            side = min(side, h - 1)
            r, s = (int(v) for v in torch.randint(0, h - side + 1, (2,), generator=gen))
            signs = (torch.randint(0, 2, (len(active), c, 1, 1), generator=gen).float() * 2 - 1).to(x.device)
            window = (slice(None), slice(None), slice(r, r + side), slice(s, s + side))
            # the square at +-eps from x, clipped to [0, 1]: on the ball's surface, so within it
            square = x[window][active].add_(signs, alpha=self.eps).clamp_(0, 1)
            changed = (square != x_best[window][active]).flatten(1).any(1)
            active, square = active[changed], square[changed]
            if len(active) == 0:
                continue
            candidate = x_best[active]
            candidate[window] = square
            new_margin = _margin(model(candidate), y[active])
            better = new_margin < margin[active]
            x_best[active[better]] = candidate[better]
            margin[active[better]] = new_margin[better]
        return x_best


@torch.no_grad()
def _correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> torch.Tensor:
    return torch.cat(
        [model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size] for i in range(0, len(x), batch_size)]
    )


def attack_batched(attack, model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> torch.Tensor:
    return torch.cat(
        [attack(model, x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    )


def robustness(
    model: nn.Module,
    split: Split,
    attacks: dict[tuple[str, str], callable],
    epsilons: list[float],
    device: torch.device,
    batch_size: int = 128,
    clean_logits: torch.Tensor | None = None,
) -> list[dict]:
    """Rows of (setting, attack, epsilon, clean/robust accuracy, drop); ``attacks[(setting, name)](eps)`` builds one.

    Robust at epsilon means correct clean and under every budget up to it, so each budget attacks only the
    examples still robust at the budgets below it (the others count as broken whatever it does).
    ``clean_logits`` (the model's logits of ``split``, e.g. from :mod:`sn_lake.evaluate.cache`) spare the clean pass.
    """
    x, y = split.x.to(device), split.y.to(device)
    if clean_logits is not None:
        clean = clean_logits.argmax(1).to(device) == y
    else:
        clean = _correct(model, x, y, batch_size)
    clean_accuracy = float(clean.double().mean())
    rows = []
    bar = progress.Progress("adversarial attacks", total=len(attacks) * len(epsilons), unit="attack runs")
    for (setting, name), make in attacks.items():
        still_correct = clean.clone()
        for eps in sorted(epsilons):
            todo = torch.nonzero(still_correct).flatten()
            if len(todo):
                x_todo, y_todo = x[todo], y[todo]
                x_adv = attack_batched(make(eps), model, x_todo, y_todo, batch_size)
                distance = float((x_adv - x_todo).abs_().max())  # the one check every attack must pass: one reduction
                if distance > eps + BALL_TOLERANCE:
                    raise AssertionError(
                        f"Expected {name} to stay within the eps={eps} ball, found a distance of {distance}: "
                        "this is a bug in the attack."
                    )
                still_correct[todo] = _correct(model, x_adv, y_todo, batch_size)
            robust = float(still_correct.double().mean())
            rows.append(
                {
                    "setting": setting,
                    "attack": name,
                    "epsilon": float(eps),
                    "clean_accuracy": clean_accuracy,
                    "robust_accuracy": robust,
                    "accuracy_drop": clean_accuracy - robust,
                    "n_samples": len(y),
                }
            )
            bar.update()
    bar.close()
    return rows
