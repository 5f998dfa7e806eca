"""Task accuracy: train and test accuracy and the overfitting gap."""

from __future__ import annotations

import torch
import torch.nn as nn

from sn_lake.evaluate.attacks.sampling import RowLogits, logits_at
from sn_lake.evaluate.data import Split


def _accuracy(model: nn.Module, split: Split, device: torch.device, rows: RowLogits | None) -> float:
    if len(split) == 0:
        return float("nan")
    return float((logits_at(model, split, None, device, rows).argmax(1) == split.y).double().mean())


class TaskAccuracy:
    """Top-1 accuracy on the members (train) and non-members (test), and their difference.

    ``member_logits`` / ``nonmember_logits`` give the model's logits of rows of each side (the forward passes
    membership inference shares, :mod:`sn_lake.evaluate.cache`); without them the model runs here.
    """

    def __call__(
        self,
        model: nn.Module,
        members: Split,
        nonmembers: Split,
        device: torch.device,
        member_logits: RowLogits | None = None,
        nonmember_logits: RowLogits | None = None,
    ) -> dict:
        train_accuracy = _accuracy(model, members, device, member_logits)
        test_accuracy = _accuracy(model, nonmembers, device, nonmember_logits)
        return {
            "train_accuracy": train_accuracy,
            "test_accuracy": test_accuracy,
            "overfit_gap": train_accuracy - test_accuracy,
        }
