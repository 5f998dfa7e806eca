"""Dataset rules: canonical dataset ids, their data category, and the dataset named by a timm tag.

Canonical ids follow Hugging Face dataset ids in lower case (docs/evaluation.md, "Datasets"): our short
alias where we know the set (``cifar10``, ``beans``, ``bloodmnist``), else the Hub id a card declares in
lower case (``someone/my-xray-set``). ``imagefolder`` (the Trainer's placeholder for "my own folder"), other
placeholders (``None``, ``custom``), generic words (``the following dataset``), paths and undeclared datasets are NULL.
"""

from __future__ import annotations

import re

# MedMNIST v2's sets, the 2D ones, then the 3D ones (SecurityNet's benchmark table)
MEDMNIST = (
    "pathmnist", "chestmnist", "dermamnist", "octmnist", "pneumoniamnist", "retinamnist",
    "breastmnist", "bloodmnist", "tissuemnist", "organamnist", "organcmnist", "organsmnist",
    "organmnist3d", "nodulemnist3d", "adrenalmnist3d", "fracturemnist3d", "vesselmnist3d", "synapsemnist3d",
)  # fmt: skip

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
    "stanford-dogs": "natural",
    "chest-xray-pneumonia": "medical",
    "ham10000": "medical",
    # ImageNet-1k's shifted test sets, as timm's result tables name them (results.distribution_shift)
    "imagenet-real": "natural",  # the validation images with re-assessed labels
    "imagenetv2-matched-frequency": "natural",
    "imagenet-sketch": "sketch",
    "imagenet-a": "natural",  # natural adversarial examples, 200 classes
    "imagenet-r": "rendition",  # renditions (art, cartoons, toys, ...), 200 classes
    **{name: "medical" for name in MEDMNIST},
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
    "stanforddogs": "stanford-dogs",
    "stanforddogsdataset": "stanford-dogs",
    "catsanddogs": "cats_vs_dogs",
    "oxfordiiitpetdataset": "oxford-iiit-pet",
    # the shifted ImageNet test sets; Hub repos: axiong/imagenet-r (seen with the search tool); from memory, not
    # confirmed: axiong/imagenet-a, songweig/imagenet_sketch (the legacy `imagenet_sketch`), vaishaal/ImageNetV2
    # and the clip-benchmark/wds_* WebDataset copies. ImageNet-ReaL's labels ship with no Hub repo we know of.
    "imagenetreal": "imagenet-real",
    "imagenetreallabels": "imagenet-real",
    "imagenetv2": "imagenetv2-matched-frequency",  # the variant timm and most papers report
    "imagenetv2matchedfrequency": "imagenetv2-matched-frequency",
    "imagenetv2mf": "imagenetv2-matched-frequency",
    "wdsimagenetv2": "imagenetv2-matched-frequency",
    "imagenetsketch": "imagenet-sketch",
    "wdsimagenetsketch": "imagenet-sketch",
    "imageneta": "imagenet-a",
    "naturaladversarialexamples": "imagenet-a",
    "wdsimageneta": "imagenet-a",
    "imagenetr": "imagenet-r",
    "imagenetrendition": "imagenet-r",
    "imagenetrenditions": "imagenet-r",
    "wdsimagenetr": "imagenet-r",
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


# what a card declares when the data is the author's own folder, files or nothing at all, not a published set:
# placeholder (lower case) -> what it is, for the note that says why the dataset is NULL
_EMPTY = "an empty value that names no dataset"
_LOCAL_FILES = "the name of a `datasets` loader for local files, the author's own data"
PLACEHOLDERS: dict[str, str] = {
    "imagefolder": "the `datasets` loader for a local image folder (the Trainer's placeholder for the author's own "
    "images)",
    "none": _EMPTY,
    "null": _EMPTY,
    "nan": _EMPTY,
    "n/a": _EMPTY,
    "unknown": _EMPTY,
    "custom": "a generic word for the author's own data",
    **{
        loader: _LOCAL_FILES
        for loader in (
            "generator",
            "json",
            "csv",
            "parquet",
            "text",
            "arrow",
            "pandas",
            "webdataset",
            "audiofolder",
            "videofolder",
        )
    },
}
PLACEHOLDER_DATASETS = frozenset(PLACEHOLDERS)
PLACEHOLDER_NOTE = "the card declares {name!r}, {reason}: no published dataset"
# words (compared as spellings) that prose and careless YAML put where a dataset name goes, and directory names of a
# relative path (`data/train`): none names a dataset, so they give no id and no note
GENERIC_WORDS = frozenset(_spelling(w) for w in (
    "following", "same", "above", "below", "given", "provided", "specified", "mentioned", "aforementioned", "previous",
    "respective", "corresponding", "selected", "chosen", "said", "this", "that", "these", "our", "my", "your", "their",
    "own", "new", "original", "full", "whole", "entire", "complete", "small", "large", "big", "private", "public",
    "local", "internal", "proprietary", "in-house", "sample", "samples", "toy", "dummy", "demo", "example", "synthetic",
    "augmented", "combined", "merged", "cleaned", "clean", "labeled", "labelled", "unlabeled", "raw", "final",
    "modified", "processed", "preprocessed", "downstream", "target", "source", "standard", "default", "benchmark",
    "train", "training", "trainset", "test", "testing", "testset", "val", "valid", "validation", "eval", "evaluation",
    "dev", "split", "splits", "subset", "fold", "data", "dataset", "datasets", "my_dataset", "my-data", "mydata",
    "your_dataset", "dataset_name", "image", "images", "img", "imgs", "photos", "pictures", "classification",
    "folder", "dir", "directory", "files", "input", "output", "content", "drive", "home", "tmp", "mnt",
))  # fmt: skip
HUB_DATASET_ID = r"[a-z0-9][a-z0-9._-]*/[a-z0-9][a-z0-9._-]*"  # owner/name, lower case
_HUB_ID = re.compile(rf"^(?:{HUB_DATASET_ID}|[a-z0-9][a-z0-9._-]*)$")  # a namespaced id, or a legacy one without owner
_MARKDOWN_LINK = re.compile(r"^\[(?P<text>[^\]]*)\]\((?P<url>[^)]*)\)$")
_HUB_DATASET_URL = re.compile(  # a dataset page on the Hub (or a mirror), or a page of its repo
    r"^(?:https?://(?:[\w-]+\.)*(?:huggingface\.co|hf\.co|hf-mirror\.com))?/datasets/(?P<id>[\w.-]+(?:/[\w.-]+)?)"
    r"(?:/(?:tree|blob|viewer|resolve|discussions)(?:/\S*)?)?/?(?:[?#]\S*)?$",
    re.I,
)
_QUOTES = "`'\"\u2018\u2019\u201c\u201d"
_CONFIG = re.compile(r"\s*\([^()]{0,80}\)$")  # "cifar10 (plain_text)": the config a Trainer sentence may add
_DATASET_WORD = re.compile(r"\s+(?:data ?sets?)$", re.I)  # "Beans dataset", a link's text
# umbrella repos that hold many sets as configs -> the sets; a card naming one of them too names the one it used
UMBRELLAS: dict[str, frozenset[str]] = {
    key: frozenset(
        name for name, category in CATEGORIES.items() if category == "medical" and name.endswith(("mnist", "mnist3d"))
    )
    for key in ("medmnist", "medmnistv2", "medmnistplus")
}


def _is_path(text: str) -> bool:
    """A file-system path (``./data``, ``/content/x``, ``data/a/b``, ``C:\\x``), not a Hub id."""
    return text.startswith(("./", "../", "/", "~")) or text.count("/") > 1 or "\\" in text or ":" in text


def declared_dataset(name: object, *, prose: bool = False) -> tuple[str | None, str | None]:
    """``(dataset id, note)`` for a dataset a card, tag or model-index declares.

    Our alias when we know the set (``AI-Lab-Makerere/beans`` -> ``beans``, ``Oxford-IIIT Pet`` ->
    ``oxford-iiit-pet``), else the declared Hub id in lower case (``Someone/My-Xray-Set`` ->
    ``someone/my-xray-set``); a markdown link or a Hub URL is read for the id it names, quotes and a trailing
    ``(config)`` are dropped. ``imagefolder`` and other placeholders give ``(None, note)``; generic words
    (``following``, ``data/train``), paths, unknown multi-word phrases and other text give ``(None, None)``.
    ``prose``: the name comes from a sentence, where a single word we hold no alias for is read as a word, not as
    a legacy Hub id.
    """
    if not isinstance(name, str) or not name.strip() or len(name) > 400:
        return None, None
    text = name.strip().strip(_QUOTES).strip().rstrip(".,;:").strip(_QUOTES)  # a Hub id never ends with a dot
    link = _MARKDOWN_LINK.match(text)
    if link:
        url = _HUB_DATASET_URL.match(link.group("url").strip())
        text = url.group("id") if url else _DATASET_WORD.sub("", link.group("text").strip()).strip(_QUOTES)
    elif "://" in text:
        url = _HUB_DATASET_URL.match(text)
        if not url:
            return None, None  # a page elsewhere (Kaggle, GitHub): no Hub id
        text = url.group("id")
    text = _CONFIG.sub("", text).strip()
    lowered = text.lower()
    placeholder = lowered if lowered in PLACEHOLDERS else lowered.rsplit("/", 1)[-1]  # n/a; owner/imagefolder
    if placeholder in PLACEHOLDERS and not _is_path(lowered):
        return None, PLACEHOLDER_NOTE.format(name=text, reason=PLACEHOLDERS[placeholder])
    if not text or _is_path(lowered):
        return None, None
    canonical = canonical_dataset(text)
    if canonical:
        return canonical, None
    if not _HUB_ID.match(lowered) or len(lowered) > 200:
        return None, None  # a phrase ("Stanford Cars" without an alias), not an id: no guess
    parts = lowered.split("/")
    if any(_spelling(part) in GENERIC_WORDS for part in parts):
        return None, None
    if len(parts) == 1 and prose:
        return None, None
    return lowered, None


def is_umbrella(name: object) -> bool:
    """Whether ``name`` is an umbrella repo of several sets (``albertvillanova/medmnist-v2``)."""
    return isinstance(name, str) and _spelling(name.rsplit("/", 1)[-1]) in UMBRELLAS


def specific_dataset(declared: list[str]) -> str | None:
    """The first of ``declared`` (dataset ids), unless it is an umbrella repo (``albertvillanova/medmnist-v2``) and a
    later id names one of the umbrella's sets (``bloodmnist``): then that set, which the evaluation can read."""
    if not declared:
        return None
    members = UMBRELLAS.get(_spelling(declared[0].rsplit("/", 1)[-1]))
    if members:
        return next((d for d in declared[1:] if d in members), declared[0])
    return declared[0]


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
