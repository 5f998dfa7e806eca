"""Row indices the attacks draw, and precomputed logits handed to them by row.

An attack that scores examples from the target's logits can take them precomputed (one forward pass per
split shared by every family of a run, :mod:`sn_lake.evaluate.cache`) as a :data:`RowLogits`: a function
from row indices of the split it was given to those rows' logits (float64, on the CPU, as
:func:`sn_lake.evaluate.training.logits_of` returns them). Without one it runs the model itself.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn

from sn_lake.evaluate import training
from sn_lake.evaluate.data import Split

RowLogits = Callable[[torch.Tensor], torch.Tensor]


def sample_index(n_items: int, n: int, seed: int) -> torch.Tensor:
    """The rows ``Split.sample(n, seed)`` picks from a split of ``n_items``: all in order, or a seeded subset."""
    if n >= n_items:
        return torch.arange(n_items)
    return torch.randperm(n_items, generator=torch.Generator().manual_seed(seed))[:n]


def logits_at(
    model: nn.Module, split: Split, index: torch.Tensor | None, device: torch.device, rows: RowLogits | None
) -> torch.Tensor:
    """The logits of ``split``'s rows ``index`` (None: all, in order).

    From ``rows`` when given, else by running ``model``.
    """
    if rows is not None:
        return rows(torch.arange(len(split)) if index is None else index)
    return training.logits_of(model, split.x if index is None else split.x[index], device)
