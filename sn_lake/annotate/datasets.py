"""Dataset rules: canonical dataset ids, their data category, and the dataset named by a timm tag.

Canonical ids follow Hugging Face dataset ids in lower case (DESIGN.md, "Identifiers").
"""

from __future__ import annotations

# canonical id -> data category
CATEGORIES: dict[str, str] = {
    "imagenet-1k": "natural",
    "imagenet-12k": "natural",
    "imagenet-21k": "natural",
    "imagenet-22k": "natural",
    "cifar10": "natural",
    "cifar100": "natural",
    "cub-200-2011": "natural",
    "inaturalist-2021": "natural",
    "places365": "natural",
    "svhn": "digit",
    "mnist": "digit",
    "digits": "digit",
    "fashion-mnist": "clothing",
    "jft-300m": "web",
    "instagram-1b": "web",
    "instagram-3.5b": "web",
    "yfcc100m": "web",
    "yfcc15m": "web",
    "laion-2b": "web",
    "laion-400m": "web",
    "webli": "web",
    "datacomp-1b": "web",
    "lvd-142m": "web",
    "lvd-1689m": "web",
    "sa-1b": "segmentation",
    **{
        name: "medical"
        for name in (
            "pathmnist", "chestmnist", "dermamnist", "octmnist", "pneumoniamnist", "retinamnist",
            "breastmnist", "bloodmnist", "tissuemnist", "organamnist", "organcmnist", "organsmnist",
            # MedMNIST v2's 3D datasets (SecurityNet's benchmark table)
            "organmnist3d", "nodulemnist3d", "adrenalmnist3d", "fracturemnist3d", "vesselmnist3d", "synapsemnist3d",
        )
    },
}

# timm tag component -> canonical dataset id. Components not listed (training recipes such as
# `a1`, `augreg`, `ra2`, or sources such as `fb`, `openai`) name no dataset.
TIMM_TAG_DATASETS: dict[str, str] = {
    "in1k": "imagenet-1k",
    "in12k": "imagenet-12k",
    "in21k": "imagenet-21k",
    "inw21k": "imagenet-21k",  # ImageNet-21k, winter 2021 release
    "in22k": "imagenet-22k",
    "jft": "jft-300m",
    "ig1b": "instagram-1b",
    "yfcc100m": "yfcc100m",
    "yfcc15m": "yfcc15m",
    "laion2b": "laion-2b",
    "laion400m": "laion-400m",
    "webli": "webli",
    "datacomp1b": "datacomp-1b",
    "lvd142m": "lvd-142m",
    "lvd1689m": "lvd-1689m",
    "sa1b": "sa-1b",
}


# spelling (compared on letters and digits only, lower case) -> canonical id
ALIASES: dict[str, str] = {
    "cifar10": "cifar10",
    "cifar100": "cifar100",
    "svhn": "svhn",
    "mnist": "mnist",
    "digits": "digits",
    "fashionmnist": "fashion-mnist",
    "imagenet": "imagenet-1k",
    "imagenet1k": "imagenet-1k",
    "ilsvrc2012": "imagenet-1k",
    "imagenet12k": "imagenet-12k",
    "imagenet21k": "imagenet-21k",
    "imagenet22k": "imagenet-22k",
    "cub2002011": "cub-200-2011",
    "cub200": "cub-200-2011",
    "caltechucsdbirds2002011": "cub-200-2011",
    "inaturalist2021": "inaturalist-2021",
    "places365": "places365",
    **{name: name for name, category in CATEGORIES.items() if category == "medical"},
}


def _spelling(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def canonical_dataset(name: str | None) -> str | None:
    """The canonical id of a dataset name as sources write it, or None when it is not one we know.

    ``CIFAR-10``, ``cifar_10``, ``uoft-cs/cifar10`` -> ``cifar10``; ``ImageNet1k``,
    ``ILSVRC/imagenet-1k`` -> ``imagenet-1k``; ``BloodMNIST`` -> ``bloodmnist``; ``my-photos`` -> None.
    """
    if not name or not name.strip():
        return None
    text = name.strip()
    if "/" in text:  # a Hub dataset id: owner/name
        text = text.rsplit("/", 1)[1]
    if text.lower() in CATEGORIES:
        return text.lower()
    return ALIASES.get(_spelling(text))


def data_category(dataset: str | None) -> str | None:
    """The kind of images a canonical dataset holds (``natural``, ``medical``, ``digit``, ...)."""
    return CATEGORIES.get(dataset) if dataset else None


def dataset_from_timm_tag(tag: str | None) -> str | None:
    """The dataset a timm weight was last trained on: the last dataset named in its tag.

    ``in22k_ft_in1k`` was pre-trained on ImageNet-22k and fine-tuned on ImageNet-1k, so it is an
    ImageNet-1k classifier; ``clip_laion2b`` was trained on LAION-2B; ``a1h`` names no dataset.
    """
    if not tag:
        return None
    named = [TIMM_TAG_DATASETS[part] for part in tag.lower().split("_") if part in TIMM_TAG_DATASETS]
    return named[-1] if named else None
