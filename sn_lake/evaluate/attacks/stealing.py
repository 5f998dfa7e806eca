"""Model stealing (Tramer et al. 2016; Orekondy et al., Knockoff Nets 2019): train a surrogate on the target's answers.

The adversary queries the target on auxiliary data (the study's "partial training set", or another
dataset) for probabilities or, with ``label_only``, top-1 labels only, and trains a surrogate of a
configurable architecture on the answers. Reported per query budget: the surrogate's test accuracy
and its agreement (same top-1 label) with the target on the test split.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from sn_lake.evaluate import training
from sn_lake.evaluate.data import Split


class ModelStealing:
    """Steal with each of ``query_budgets`` queries; ``fresh_surrogate()`` builds an untrained surrogate."""

    def __init__(self, query_budgets=(100, 200, 400), label_only: bool = False, epochs: int = 30, lr: float = 3e-3, seed: int = 0):
        self.query_budgets, self.label_only = tuple(sorted(query_budgets)), label_only
        self.epochs, self.lr, self.seed = epochs, lr, seed

    def answers(self, model: nn.Module, x: torch.Tensor, device: torch.device) -> torch.Tensor:
        """What the target returns: probabilities, or one-hot top-1 labels when ``label_only``."""
        logits = training.logits_of(model, x, device).float()
        if self.label_only:
            return F.one_hot(logits.argmax(1), logits.shape[1]).float()
        return logits.softmax(1)

    def __call__(
        self, model: nn.Module, fresh_surrogate: Callable[[], nn.Module], aux: Split, test: Split, device: torch.device
    ) -> tuple[list[dict], dict[int, nn.Module]]:
        """Rows per budget (budgets above the auxiliary set's size use all of it) and the surrogates by budget."""
        queries = aux.sample(max(self.query_budgets), self.seed)
        answers = self.answers(model, queries.x, device)
        target_test = training.logits_of(model, test.x, device).argmax(1)
        rows, surrogates = [], {}
        for budget in self.query_budgets:
            n = min(budget, len(queries))
            torch.manual_seed(self.seed + budget)
            surrogate = fresh_surrogate()
            training.train(
                surrogate, queries.x[:n], answers[:n], epochs=self.epochs, lr=self.lr, seed=self.seed + budget, device=device,
                progress=f"stealing surrogate (budget {budget})",
            )  # fmt: skip
            predicted = training.logits_of(surrogate, test.x, device).argmax(1)
            rows.append({
                "query_budget": budget, "queries_used": n, "label_only": self.label_only,
                "stealing_accuracy": float((predicted == test.y).double().mean()),
                "agreement": float((predicted == target_test).double().mean()),
            })  # fmt: skip
            surrogates[budget] = surrogate
        return rows, surrogates
