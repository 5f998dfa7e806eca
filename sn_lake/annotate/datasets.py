"""Dataset rules: canonical dataset ids, their data category, and the dataset named by a timm tag.

Canonical ids follow Hugging Face dataset ids in lower case (docs/evaluation.md, "Datasets"): our short
alias where we know the set (``cifar10``, ``beans``, ``bloodmnist``), else the Hub id a card declares in
lower case (``someone/my-xray-set``). ``imagefolder`` (the Trainer's placeholder for "my own folder") and
undeclared datasets are NULL.
"""

from __future__ import annotations

import re

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
    # the Hub's common image-classification sets
    "beans": "plant",
    "food101": "food",
    "cats_vs_dogs": "natural",
    "eurosat": "satellite",
    "gtsrb": "traffic-sign",
    "stl10": "natural",
    "oxford-iiit-pet": "natural",
    "flowers102": "natural",
    "caltech101": "natural",
    "caltech256": "natural",
    "tiny-imagenet": "natural",
    "emnist": "digit",
    "kmnist": "digit",
    "chest-xray-pneumonia": "medical",
    "ham10000": "medical",
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
    "imagenet1kwds": "imagenet-1k",
    "beans": "beans",
    "food101": "food101",
    "catsvsdogs": "cats_vs_dogs",
    "dogsvscats": "cats_vs_dogs",
    "eurosat": "eurosat",
    "eurosatrgb": "eurosat",
    "gtsrb": "gtsrb",
    "germantrafficsignrecognitionbenchmark": "gtsrb",
    "stl10": "stl10",
    "oxfordiiitpet": "oxford-iiit-pet",
    "oxfordpets": "oxford-iiit-pet",
    "oxfordiiitpets": "oxford-iiit-pet",
    "flowers102": "flowers102",
    "oxfordflowers": "flowers102",
    "oxfordflowers102": "flowers102",
    "oxford102flowers": "flowers102",
    "caltech101": "caltech101",
    "caltech256": "caltech256",
    "tinyimagenet": "tiny-imagenet",
    "tinyimagenet200": "tiny-imagenet",
    "emnist": "emnist",
    "kmnist": "kmnist",
    "chestxray": "chest-xray-pneumonia",
    "chestxraypneumonia": "chest-xray-pneumonia",
    "chestxrayimagespneumonia": "chest-xray-pneumonia",
    "chestxrayclassification": "chest-xray-pneumonia",
    "ham10000": "ham10000",
    "skincancermnistham10000": "ham10000",
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


# what a card declares when the data is the author's own folder or loader, not a published set
PLACEHOLDER_DATASETS = frozenset({"imagefolder", "none", "null", "unknown", "custom", "generator", "json", "csv", "parquet"})
PLACEHOLDER_NOTE = "the card declares {name!r}, the Trainer's placeholder for the author's own image folder: no published dataset"
HUB_DATASET_ID = r"[a-z0-9][a-z0-9._-]*/[a-z0-9][a-z0-9._-]*"  # owner/name, lower case
_HUB_ID = re.compile(rf"^(?:{HUB_DATASET_ID}|[a-z0-9][a-z0-9._-]*)$")  # a namespaced id, or a legacy one without owner
_MARKDOWN_LINK = re.compile(r"^\[(?P<text>[^\]]*)\]\((?P<url>[^)]*)\)$")
_HUB_DATASET_URL = re.compile(r"/datasets/(?P<id>[\w.-]+(?:/[\w.-]+)?)/?$")


def declared_dataset(name: object) -> tuple[str | None, str | None]:
    """``(dataset id, note)`` for a dataset a card, tag or model-index declares.

    Our alias when we know the set (``AI-Lab-Makerere/beans`` -> ``beans``), else the declared Hub id in
    lower case (``Someone/My-Xray-Set`` -> ``someone/my-xray-set``); a markdown link or a Hub URL is read
    for the id it names. ``imagefolder`` and other placeholders give ``(None, note)``; text that is not a
    dataset id gives ``(None, None)``.
    """
    if not isinstance(name, str) or not name.strip():
        return None, None
    text = name.strip().strip("`'\"")
    link = _MARKDOWN_LINK.match(text)
    if link:
        url = _HUB_DATASET_URL.search(link.group("url"))
        text = url.group("id") if url else link.group("text").strip()
    elif (url := _HUB_DATASET_URL.search(text)) and "://" in text:
        text = url.group("id")
    lowered = text.lower()
    if lowered.rsplit("/", 1)[-1] in PLACEHOLDER_DATASETS:
        return None, PLACEHOLDER_NOTE.format(name=text)
    canonical = canonical_dataset(text)
    if canonical:
        return canonical, None
    return (lowered, None) if _HUB_ID.match(lowered) and len(lowered) <= 200 else (None, None)


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
