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
from sn_lake.evaluate.attacks.sampling import RowLogits, logits_at, sample_index
from sn_lake.evaluate.configs import STEALING_LR, StealingConfig
from sn_lake.evaluate.data import Split

_STEAL = StealingConfig()


def channels_last(module: nn.Module) -> nn.Module:
    """``module`` with its 4-d weights in channels-last order: convolutions and pooling run faster so (oneDNN on a
    CPU, cuDNN on a GPU), with the same results up to float rounding; a network without convolutions is unchanged."""
    return module.to(memory_format=torch.channels_last)


class ModelStealing:
    """Steal with each of ``query_budgets`` queries; ``fresh_surrogate()`` builds an untrained surrogate.

    The surrogate trains in channels-last memory order (:func:`channels_last`), on the same batches and
    schedule; the saved weights are plain tensors either way.
    """

    def __init__(
        self,
        query_budgets=_STEAL.query_budgets,
        label_only: bool = _STEAL.label_only,
        epochs: int = _STEAL.epochs,
        lr: float = STEALING_LR,
        seed: int = _STEAL.seed,
    ):
        self.query_budgets, self.label_only = tuple(sorted(query_budgets)), label_only
        self.epochs, self.lr, self.seed = epochs, lr, seed

    def answers_from_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """What the target returns for these logits: probabilities, or one-hot top-1 labels when ``label_only``."""
        logits = logits.float()
        if self.label_only:
            return F.one_hot(logits.argmax(1), logits.shape[1]).float()
        return logits.softmax(1)

    def answers(self, model: nn.Module, x: torch.Tensor, device: torch.device) -> torch.Tensor:
        """What the target returns for ``x``: probabilities, or one-hot top-1 labels when ``label_only``."""
        return self.answers_from_logits(training.logits_of(model, x, device))

    def __call__(
        self,
        model: nn.Module,
        fresh_surrogate: Callable[[], nn.Module],
        aux: Split,
        test: Split,
        device: torch.device,
        aux_logits: RowLogits | None = None,
        test_logits: RowLogits | None = None,
    ) -> tuple[list[dict], dict[int, nn.Module]]:
        """Rows per budget (budgets above the auxiliary set's size use all of it) and the surrogates by budget.

        ``aux_logits`` / ``test_logits`` give the target's logits of rows of ``aux`` / ``test`` (one shared forward
        pass, :mod:`sn_lake.evaluate.cache`); without them the target is queried here.
        """
        index = sample_index(len(aux), max(self.query_budgets), self.seed)  # the rows aux.sample(budget, seed) holds
        queries = aux.take(index)
        answers = self.answers_from_logits(logits_at(model, aux, index, device, aux_logits))
        target_test = logits_at(model, test, None, device, test_logits).argmax(1)
        x = queries.x.contiguous(memory_format=torch.channels_last)
        rows, surrogates = [], {}
        for budget in self.query_budgets:
            n = min(budget, len(queries))
            torch.manual_seed(self.seed + budget)
            surrogate = channels_last(fresh_surrogate())
            training.train(
                surrogate,
                x[:n],
                answers[:n],
                epochs=self.epochs,
                lr=self.lr,
                seed=self.seed + budget,
                device=device,
                progress=f"stealing surrogate (budget {budget})",
            )
            predicted = training.logits_of(surrogate, test.x, device).argmax(1)
            rows.append(
                {
                    "query_budget": budget,
                    "queries_used": n,
                    "label_only": self.label_only,
                    "stealing_accuracy": float((predicted == test.y).double().mean()),
                    "agreement": float((predicted == target_test).double().mean()),
                }
            )
            surrogates[budget] = surrogate
        return rows, surrogates
