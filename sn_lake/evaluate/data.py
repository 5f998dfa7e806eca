"""Datasets by canonical id: a train split (the model's members) and a test split (non-members).

Images are float tensors in [0, 1] shaped ``N x 3 x H x W``; a model's own preprocessing (resize,
mean, std) is applied by :class:`sn_lake.evaluate.models.Classifier`, so attacks work on [0, 1].
``digits`` (scikit-learn) is always available offline. ``cifar10``, ``cifar100``, ``svhn`` and ``mnist`` are read
from torchvision's files under ``$SN_LAKE_HOME/datasets/<id>`` when they are there (offline, as before). Every
other id, and those four when their torchvision files are absent, is read from the Hugging Face Hub by
:mod:`sn_lake.evaluate.hub_datasets` (our table of ids, or a Hub dataset id itself): the first
``SN_LAKE_EVAL_MEMBERS`` rows of its train split and ``SN_LAKE_EVAL_NONMEMBERS`` of its test (else validation)
split, cached under ``$SN_LAKE_HOME/datasets/<owner>/<name>/<revision>/`` and read from there offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sn_lake.config import Settings
from sn_lake.evaluate import hub_datasets
from sn_lake.evaluate.configs import TORCHVISION
from sn_lake.evaluate.hub_datasets import DatasetUnavailable  # noqa: F401 -- defined torch-free, raised from here too

DIGITS_SEED = 0
DIGITS_TEST_SIZE = 597  # a third of scikit-learn's 1,797 digits; the other 1,200 are the train split
DIGITS_SIDE = 32


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
    train: Split  # members
    test: Split  # non-members
    num_classes: int
    labels: tuple[str, ...] | None = None  # class names in class-index order (a Hub dataset's ClassLabel names)
    repo: str | None = None  # the Hub dataset repo read, None for digits and torchvision files
    revision: str | None = None  # the commit its shards were read at
    test_split: str | None = None  # the split the non-members come from ("train" when the set has no held-out split)


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
    names = tuple(str(d) for d in range(10))
    return DatasetSplits(
        "digits",
        Split(images[train], labels[train]),
        Split(images[test], labels[test]),
        10,
        labels=names,
        test_split="test",
    )


def _torchvision_split(name: str, root: Path, train: bool) -> tuple[Split, tuple[str, ...]] | None:
    """One split from torchvision's files under ``root``, with its class names; None when they are not there."""
    import torchvision

    cls = getattr(torchvision.datasets, TORCHVISION[name])
    kwargs = {"split": "train" if train else "test"} if name == "svhn" else {"train": train}
    try:
        ds = cls(root=str(root), download=False, **kwargs)
    except RuntimeError:
        return None
    data = np.asarray(ds.data)
    targets = np.asarray(getattr(ds, "targets", None) if hasattr(ds, "targets") else ds.labels)
    x = torch.from_numpy(data)
    if x.ndim == 3:  # MNIST: N x H x W, grey
        x = x[:, None].repeat(1, 3, 1, 1)
    elif x.shape[-1] == 3:  # CIFAR: N x H x W x C
        x = x.permute(0, 3, 1, 2)
    classes = getattr(ds, "classes", None)
    named = name in ("cifar10", "cifar100") and classes
    names = tuple(str(c) for c in classes) if named else tuple(map(str, range(10)))  # MNIST's are "0 - zero"
    return Split(x.float().div(255.0).contiguous(), torch.from_numpy(targets).long()), names


def _from_uint8(images: np.ndarray, labels: np.ndarray) -> Split:
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0).contiguous()  # N x H x W x 3 -> N x 3 x H x W
    return Split(x, torch.from_numpy(labels).long())


def load(
    dataset: str,
    settings: Settings,
    download: bool = True,
    *,
    revision: str | None = None,
    members: int | None = None,
    nonmembers: int | None = None,
) -> DatasetSplits:
    """The members (train split) and non-members (test split) of a dataset id: ``digits``, torchvision's files
    for ``cifar10``/``cifar100``/``svhn``/``mnist`` when present, else the Hub (:mod:`sn_lake.evaluate.hub_datasets`).

    ``download=False`` never goes online: a dataset neither on disk nor in the Hub cache is an error.
    ``members``/``nonmembers`` (Hub datasets only) default to ``SN_LAKE_EVAL_MEMBERS``/``SN_LAKE_EVAL_NONMEMBERS``.
    """
    if dataset == "digits":
        return digits()
    if dataset in TORCHVISION:
        root = datasets_dir(settings) / dataset
        train = _torchvision_split(dataset, root, True)
        test = _torchvision_split(dataset, root, False) if train else None
        if train and test:
            num_classes = 100 if dataset == "cifar100" else 10
            return DatasetSplits(dataset, train[0], test[0], num_classes, labels=train[1], test_split="test")
        try:
            hub = hub_datasets.load(
                dataset, settings, revision=revision, download=download, members=members, nonmembers=nonmembers
            )
        except DatasetUnavailable as exc:
            if download:
                raise
            raise DatasetUnavailable(
                f"{hub_datasets.REASON_NOT_CACHED}: expected dataset {dataset!r} as torchvision's "
                f"{TORCHVISION[dataset]} files under {root} or in the Hub cache, found neither ({exc}); "
                f"put the files in {root} or go online once.",
                hub_datasets.REASON_NOT_CACHED,
            ) from exc
    else:
        hub = hub_datasets.load(
            dataset, settings, revision=revision, download=download, members=members, nonmembers=nonmembers
        )
    return DatasetSplits(
        dataset,
        _from_uint8(hub.train_images, hub.train_labels),
        _from_uint8(hub.test_images, hub.test_labels),
        hub.num_classes,
        labels=hub.labels,
        repo=hub.repo,
        revision=hub.revision,
        test_split=hub.test_split,
    )
