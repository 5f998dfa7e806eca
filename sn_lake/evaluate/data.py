"""Datasets by canonical id: a train split (the model's members) and a test split (non-members).

Images are float tensors in [0, 1] shaped ``N x 3 x H x W``; a model's own preprocessing (resize,
mean, std) is applied by :class:`sn_lake.evaluate.models.Classifier`, so attacks work on [0, 1].
``digits`` (scikit-learn) is always available offline; the torchvision datasets live under
``$SN_LAKE_HOME/datasets`` (downloaded there when online, used from there when offline).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sn_lake.config import Settings
from sn_lake.evaluate.configs import TORCHVISION

DIGITS_SEED = 0
DIGITS_TEST_SIZE = 597  # a third of scikit-learn's 1,797 digits; the other 1,200 are the train split
DIGITS_SIDE = 32


class DatasetUnavailable(RuntimeError):
    """A dataset is unknown, or not on disk while offline."""


@dataclass(frozen=True)
class Split:
    x: torch.Tensor  # float32, N x 3 x H x W, in [0, 1]
    y: torch.Tensor  # int64, N

    def __len__(self) -> int:
        return len(self.y)

    def take(self, index) -> "Split":
        index = torch.as_tensor(index, dtype=torch.long)
        return Split(self.x[index], self.y[index])

    def shuffled(self, seed: int) -> "Split":
        """All items in a seeded random order."""
        return self.take(torch.randperm(len(self), generator=torch.Generator().manual_seed(seed)))

    def sample(self, n: int, seed: int) -> "Split":
        """A seeded random subset of ``n`` items (all of them when ``n`` is at least the size)."""
        if n >= len(self):
            return self
        gen = torch.Generator().manual_seed(seed)
        return self.take(torch.randperm(len(self), generator=gen)[:n])


@dataclass(frozen=True)
class DatasetSplits:
    name: str
    train: Split
    test: Split
    num_classes: int


def datasets_dir(settings: Settings) -> Path:
    return settings.home / "datasets"


def digits() -> DatasetSplits:
    """scikit-learn's 8x8 digits upsampled to 32x32x3, split 1,200 train / 597 test with a fixed seed."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32) / 16.0
    images = F.interpolate(images[:, None], size=(DIGITS_SIDE, DIGITS_SIDE), mode="bilinear", align_corners=False)
    images = images.clamp(0, 1).repeat(1, 3, 1, 1).contiguous()
    labels = torch.tensor(bunch.target, dtype=torch.long)
    order = torch.from_numpy(np.random.default_rng(DIGITS_SEED).permutation(len(labels)))
    test, train = order[:DIGITS_TEST_SIZE], order[DIGITS_TEST_SIZE:]
    return DatasetSplits("digits", Split(images[train], labels[train]), Split(images[test], labels[test]), 10)


def _torchvision_split(name: str, root: Path, train: bool, download: bool) -> Split:
    import torchvision

    cls = getattr(torchvision.datasets, TORCHVISION[name])
    kwargs = {"split": "train" if train else "test"} if name == "svhn" else {"train": train}
    try:
        ds = cls(root=str(root), download=False, **kwargs)
    except RuntimeError as missing:
        try:
            if not download:
                raise missing
            ds = cls(root=str(root), download=True, **kwargs)
        except Exception as exc:
            raise DatasetUnavailable(
                f"Expected dataset {name!r} under {root}, found nothing there and could not download it ({exc}); "
                f"put torchvision's {TORCHVISION[name]} files in {root} or go online once."
            ) from exc
    data = np.asarray(ds.data)
    targets = np.asarray(getattr(ds, "targets", None) if hasattr(ds, "targets") else ds.labels)
    x = torch.from_numpy(data)
    if x.ndim == 3:  # MNIST: N x H x W, grey
        x = x[:, None].repeat(1, 3, 1, 1)
    elif x.shape[-1] == 3:  # CIFAR: N x H x W x C
        x = x.permute(0, 3, 1, 2)
    return Split(x.float().div(255.0).contiguous(), torch.from_numpy(targets).long())


def load(dataset: str, settings: Settings, download: bool = True) -> DatasetSplits:
    """The train and test splits of a canonical dataset id (``digits``, ``cifar10``, ``cifar100``, ``svhn``, ``mnist``).

    ``download=False`` never goes online: a dataset missing from ``$SN_LAKE_HOME/datasets`` is an error.
    """
    if dataset == "digits":
        return digits()
    if dataset not in TORCHVISION:
        known = ", ".join(["digits", *TORCHVISION])
        raise DatasetUnavailable(f"Expected one of the datasets {known}, found {dataset!r}: evaluate a model trained on one of them.")
    root = datasets_dir(settings) / dataset
    train, test = _torchvision_split(dataset, root, True, download), _torchvision_split(dataset, root, False, download)
    num_classes = 100 if dataset == "cifar100" else 10
    return DatasetSplits(dataset, train, test, num_classes)
