"""Which catalog models the evaluation can load, and why not the others: one rule for the catalog's
``catalog.evaluability``, the ``new_evaluable_models`` sensor and ``sn-lake evaluate``.

The rule reads only what the crawl already holds (the listing's ``library_name``, ``config``,
``safetensors`` and ``tags``, and the catalog's dataset), so deciding costs no download. It mirrors what
:mod:`sn_lake.evaluate.models` will accept when the files arrive: a timm architecture, or a transformers
``*ForImageClassification`` class the pinned transformers ships, never remote code, safetensors weights, a
parameter count within ``SN_LAKE_MAX_PARAMETERS``, and a dataset :mod:`sn_lake.evaluate.data` can read.
A model that passes and still fails to load gets the failure's reason recorded
(:mod:`sn_lake.evaluate.failures`), and the catalog then shows it as not evaluable at that revision.

Each ``reason`` starts with a short fixed phrase (before any ``:``), which is what
``analytics.evaluation_coverage`` counts as ``top_reason``. Torch-free: no transformers or timm import.
"""

from __future__ import annotations

from dataclasses import dataclass

from sn_lake.evaluate import hub_datasets

# Every *ForImageClassification class of transformers 5.23.0 (the pin in pyproject.toml), from its
# MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES; tests/test_evaluability.py checks it against the installed
# package, so a transformers upgrade shows here. Kept as data because importing transformers imports torch.
TRANSFORMERS_IMAGE_CLASSIFIERS = frozenset(
    {
        "BeitForImageClassification",
        "BitForImageClassification",
        "CLIPForImageClassification",
        "ConvNextForImageClassification",
        "ConvNextV2ForImageClassification",
        "CvtForImageClassification",
        "Data2VecVisionForImageClassification",
        "DeiTForImageClassification",
        "DeiTForImageClassificationWithTeacher",
        "DinatForImageClassification",
        "Dinov2ForImageClassification",
        "Dinov2WithRegistersForImageClassification",
        "DonutSwinForImageClassification",
        "EfficientNetForImageClassification",
        "FocalNetForImageClassification",
        "HGNetV2ForImageClassification",
        "HieraForImageClassification",
        "IJepaForImageClassification",
        "ImageGPTForImageClassification",
        "LevitForImageClassification",
        "LevitForImageClassificationWithTeacher",
        "MetaClip2ForImageClassification",
        "MobileNetV1ForImageClassification",
        "MobileNetV2ForImageClassification",
        "MobileViTForImageClassification",
        "MobileViTV2ForImageClassification",
        "PPLCNetForImageClassification",
        "PerceiverForImageClassificationConvProcessing",
        "PerceiverForImageClassificationFourier",
        "PerceiverForImageClassificationLearned",
        "PoolFormerForImageClassification",
        "PvtForImageClassification",
        "PvtV2ForImageClassification",
        "RegNetForImageClassification",
        "ResNetForImageClassification",
        "SegformerForImageClassification",
        "ShieldGemma2ForImageClassification",
        "Siglip2ForImageClassification",
        "SiglipForImageClassification",
        "SwiftFormerForImageClassification",
        "SwinForImageClassification",
        "Swinv2ForImageClassification",
        "TextNetForImageClassification",
        "TimmWrapperForImageClassification",
        "ViTForImageClassification",
        "ViTMSNForImageClassification",
    }
)

# datasets read without the Hub (sn_lake.evaluate.data): scikit-learn's digits, always there
LOCAL_DATASETS = {"digits": "scikit-learn:digits"}
PYTORCH_LIBRARIES = {None, "", "timm", "transformers", "pytorch", "pyTorch"}
# sources that publish figures about models, not weights this loader can fetch
PUBLISHED_ONLY = {"securitynet", "robustbench", "timm_results"}

LOADERS = ("timm", "transformers")


@dataclass(frozen=True)
class Candidate:
    """What the catalog and the crawl know of one model, as the rule needs it."""

    model_id: str
    source: str
    library: str | None = None
    architecture: str | None = None  # timm: config.json's ``architecture``; Kaggle: the model slug
    architectures: tuple[str, ...] = ()  # transformers: config.json's ``architectures``
    remote_code: bool = False  # config.json's ``auto_map`` or the Hub's ``custom_code`` tag
    has_safetensors: bool | None = None
    n_parameters: int | None = None  # the listing's safetensors.total
    dataset: str | None = None
    dataset_note: str | None = None  # why a declared dataset is NULL (imagefolder)


@dataclass(frozen=True)
class Verdict:
    evaluable: bool
    reason: str | None
    loader: str | None
    dataset_repo: str | None


def _loader(candidate: Candidate, timm_architectures: frozenset[str]) -> tuple[str | None, str | None]:
    """``(loader, None)`` or ``(None, reason)`` from the model's format."""
    if candidate.remote_code:
        return None, (
            "remote code required: its config asks for modeling code of its own (auto_map / custom_code), "
            "which sn_lake never runs"
        )
    if candidate.library not in PYTORCH_LIBRARIES:
        return None, f"no PyTorch weights: library {candidate.library} has no loader here"
    classifiers = [a for a in candidate.architectures if "ForImageClassification" in a]
    if candidate.architectures:
        shipped = [a for a in candidate.architectures if a in TRANSFORMERS_IMAGE_CLASSIFIERS]
        if shipped:
            return "transformers", None
        named = ", ".join(candidate.architectures[:3])
        if classifiers:
            return None, f"unsupported architecture: {named} is not a class the pinned transformers ships"
        return None, f"not an image classifier: config.json's architectures are {named}"
    if candidate.architecture:
        if candidate.architecture in timm_architectures:
            return "timm", None
        return None, f"unsupported architecture: {candidate.architecture!r} is not a timm architecture"
    return None, "no known model format: config.json names neither a timm architecture nor a transformers class"


def _dataset(candidate: Candidate, has_token: bool) -> tuple[str | None, str | None]:
    """``(dataset repo, None)`` or ``(None, reason)``."""
    if not candidate.dataset:
        return None, f"no dataset: {candidate.dataset_note}" if candidate.dataset_note else "no dataset declared"
    if candidate.dataset in LOCAL_DATASETS:
        return LOCAL_DATASETS[candidate.dataset], None
    found = hub_datasets.resolve(candidate.dataset)
    if found is None:
        return None, f"dataset not on the Hub: {candidate.dataset!r} has no known Hub dataset repo"
    _, facts = found
    if facts.gated and not has_token:
        return None, f"{hub_datasets.REASON_GATED} ({facts.repo})"
    return facts.repo, None


def decide(
    candidate: Candidate, *, timm_architectures: frozenset[str], max_parameters: int, has_token: bool
) -> Verdict:
    """The verdict on one model: evaluable, or the first reason it is not (format, weights, size, dataset)."""
    if candidate.source in PUBLISHED_ONLY:
        return Verdict(False, f"published results only: the {candidate.source} source publishes no weights", None, None)
    if candidate.source == "timm":
        return Verdict(False, "registry entry: evaluate its Hub copy (huggingface:timm/<name>)", None, None)
    loader, why = _loader(candidate, timm_architectures)
    repo, why_data = _dataset(candidate, has_token)
    if why:
        return Verdict(False, why, None, repo)
    if candidate.source == "huggingface" and not candidate.has_safetensors:
        return Verdict(
            False, "no safetensors weights: the listing shows none (torch pickles are not fetched)", loader, repo
        )
    if candidate.n_parameters and candidate.n_parameters > max_parameters:
        return Verdict(
            False,
            f"over the parameter budget: {candidate.n_parameters:,} parameters > SN_LAKE_MAX_PARAMETERS "
            f"{max_parameters:,}",
            loader,
            repo,
        )
    if why_data:
        return Verdict(False, why_data, loader, None)
    return Verdict(True, None, loader, repo)


def reason_kind(reason: str | None) -> str | None:
    """The fixed phrase a reason starts with (``no dataset: ...`` -> ``no dataset``)."""
    return reason.split(":", 1)[0].split(" (", 1)[0].strip() if reason else None
