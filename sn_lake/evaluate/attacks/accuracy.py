"""Task accuracy: train and test accuracy and the overfitting gap."""

from __future__ import annotations

import torch
import torch.nn as nn

from sn_lake.evaluate import training
from sn_lake.evaluate.data import Split


class TaskAccuracy:
    """Top-1 accuracy on the members (train) and non-members (test), and their difference."""

    def __call__(self, model: nn.Module, members: Split, nonmembers: Split, device: torch.device) -> dict:
        train_accuracy = training.accuracy(model, members, device)
        test_accuracy = training.accuracy(model, nonmembers, device)
        return {"train_accuracy": train_accuracy, "test_accuracy": test_accuracy, "overfit_gap": train_accuracy - test_accuracy}
