"""Model-card rules: what a Hugging Face model card (README.md) and its metadata say about a model.

A card is YAML front matter (``license``, ``datasets``, ``base_model``, ``model-index``, ...)
followed by markdown. Cards written by the ``transformers`` Trainer carry their facts only in the
markdown (``fine-tuned version of [base](...) on the cifar10 dataset`` / ``- Accuracy: 0.98``),
so those sentences are read too. Every function returns None or an empty list when it does not
know; none of them guesses.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from sn_lake.annotate.architectures import model_family
from sn_lake.annotate.datasets import canonical_dataset, dataset_from_timm_tag, declared_dataset
from sn_lake.annotate.papers import arxiv_ids

_FRONT_MATTER = re.compile(r"\A\ufeff?\s*---[ \t]*\r?\n(?P<yaml>.*?)(?:\r?\n)?^---[ \t]*$\r?\n?", re.S | re.M)
_FINE_TUNED_FROM = re.compile(r"fine-tuned version of \[(?P<base>[^\]]+)\]", re.I)
# "on the beans dataset", "on the [beans](https://huggingface.co/datasets/beans) dataset", "on the a, b and c datasets"
_TRAINED_ON = re.compile(r"\bon the (?P<names>(?:\[[^\]\n]{1,200}\]\([^)\s]{0,300}\)|[\w./-]{1,200})"
                         r"(?:(?:, | and )(?:\[[^\]\n]{1,200}\]\([^)\s]{0,300}\)|[\w./-]{1,200})){0,20}) datasets?\b", re.I)
_NAME_SEPARATOR = re.compile(r", | and ")
_ACCURACY_LINE = re.compile(r"^\s*[-*]\s*(?:top[- ]?1\s+)?accuracy\s*:\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<pct>%?)\s*$", re.I | re.M)

# model-index metric types (lower case, compared without spaces, '-' and '_') that mean top-1 accuracy
TOP1_METRICS = {"accuracy", "top1accuracy", "top1", "acc", "acc@1", "top1acc", "evalaccuracy"}


def split_card(text: str | None) -> tuple[dict, str]:
    """The card's YAML metadata (``{}`` when absent or unreadable) and its markdown body."""
    if not text:
        return {}, ""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group("yaml"))
    except yaml.YAMLError:
        meta = None
    return (meta if isinstance(meta, dict) else {}), text[match.end():]


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _tag_values(tags: list[str] | None, prefix: str) -> list[str]:
    return [t[len(prefix):] for t in tags or [] if isinstance(t, str) and t.startswith(prefix)]


def _results(model_index: Any) -> list[dict]:
    """Every ``results`` entry of a ``model-index`` list (malformed parts skipped)."""
    found = []
    for entry in _as_list(model_index):
        if isinstance(entry, dict):
            found.extend(r for r in _as_list(entry.get("results")) if isinstance(r, dict))
    return found


def model_index_datasets(model_index: Any) -> list[str]:
    """Dataset names the ``model-index`` results were measured on (``type`` first, then ``name``)."""
    names = []
    for result in _results(model_index):
        dataset = result.get("dataset")
        if isinstance(dataset, dict):
            names.extend(str(dataset[k]) for k in ("type", "name") if dataset.get(k))
    return names


def _fraction(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if 1 < number <= 100:  # reported as a percentage
        number /= 100
    return number if 0 <= number <= 1 else None


def model_index_accuracy(model_index: Any, dataset: str | None = None) -> float | None:
    """Top-1 accuracy (a fraction) from ``model-index`` results, preferring those on ``dataset``.

    Percentages (``97.9``) become fractions; top-5 and other metrics are ignored.
    """
    candidates: list[tuple[bool, float]] = []
    for result in _results(model_index):
        ds = result.get("dataset") if isinstance(result.get("dataset"), dict) else {}
        on_dataset = dataset is not None and dataset in {canonical_dataset(str(ds.get(k))) for k in ("type", "name") if ds.get(k)}
        for metric in _as_list(result.get("metrics")):
            if not isinstance(metric, dict):
                continue
            kind = re.sub(r"[\s_\-]", "", str(metric.get("type") or metric.get("name") or "")).lower()
            value = _fraction(metric.get("value"))
            if kind in TOP1_METRICS and value is not None:
                candidates.append((on_dataset, value))
    if not candidates:
        return None
    preferred = [v for on, v in candidates if on]
    return (preferred or [v for _, v in candidates])[0]


def body_facts(body: str) -> dict[str, Any]:
    """What a Trainer-written card body states: ``base_model``, ``datasets`` (as written), ``accuracy``, ``papers``."""
    base = _FINE_TUNED_FROM.search(body or "")
    trained = _TRAINED_ON.search(body or "")
    accuracy = _ACCURACY_LINE.search(body or "")
    value = None
    if accuracy:
        value = _fraction(float(accuracy.group("value")) / 100 if accuracy.group("pct") else accuracy.group("value"))
    return {
        "base_model": base.group("base").strip() if base else None,
        "datasets": [n for n in _NAME_SEPARATOR.split(trained.group("names")) if n] if trained else [],
        "accuracy": value,
        "papers": arxiv_ids(body),
    }


def first_dataset(names: list[str]) -> tuple[str | None, str | None]:
    """``(dataset id, note)``: the first of ``names`` that declares a dataset (``declared_dataset``), and the
    note of a placeholder such as ``imagefolder`` when none does."""
    note = None
    for name in names:
        dataset, why = declared_dataset(name)
        if dataset:
            return dataset, None
        note = note or why
    return None, note


def architecture(config: dict | None, repo_id: str, library: str | None) -> tuple[str | None, str | None]:
    """``(architecture, model_type)`` from the Hub's ``config`` summary, else from a timm repo name.

    timm configs name the architecture (``resnet50``); transformers configs name a class
    (``ViTForImageClassification``) and a ``model_type`` (``vit``), which gives the family.
    """
    config = config if isinstance(config, dict) else {}
    arch = config.get("architecture")
    if not arch and config.get("architectures"):
        arch = _as_list(config["architectures"])[0]
    if not arch and library == "timm":
        arch = repo_id.split("/")[-1].split(".")[0]  # timm/resnet18.a1_in1k -> resnet18
    arch = str(arch) if arch else None
    kind = config.get("model_type")
    family = model_family(str(kind)) if kind else (model_family(arch) if arch and library == "timm" else None)
    return arch, family


def card_summary(listing: dict, card_text: str | None = None) -> dict[str, Any]:
    """Everything the catalog reads from one model's listing metadata and (optionally) its card.

    ``listing`` is the Hub API's model object (``tags``, ``cardData``, ``model-index``, ``config``,
    ``library_name``, ...). The card's front matter fills what ``cardData`` lacks; the body is
    read last. Keys: ``datasets`` (raw names), ``dataset``, ``dataset_note`` (why a declared one is NULL), ``papers``, ``accuracy``, ``base_model``,
    ``license``, ``architecture``, ``model_type``, ``num_classes``, ``input_size``.
    """
    tags = [t for t in listing.get("tags") or [] if isinstance(t, str)]
    card_data = listing.get("cardData") if isinstance(listing.get("cardData"), dict) else {}
    card_meta, body = split_card(card_text)
    meta = {**card_meta, **card_data}
    model_index = listing.get("model-index") or card_data.get("model-index") or card_meta.get("model-index")
    facts = body_facts(body)

    datasets = [*_tag_values(tags, "dataset:"), *map(str, _as_list(meta.get("datasets"))), *model_index_datasets(model_index)]
    datasets.extend(facts["datasets"])
    dataset, dataset_note = first_dataset(datasets)
    repo_id = str(listing.get("id", ""))
    if dataset is None and listing.get("library_name") == "timm" and "." in repo_id:
        dataset = dataset_from_timm_tag(repo_id.rsplit(".", 1)[1])  # timm/resnet18.a1_in1k -> imagenet-1k

    papers: list[str] = []
    for source in (*(f"arxiv:{t}" for t in _tag_values(tags, "arxiv:")), body):
        papers.extend(p for p in arxiv_ids(source) if p not in papers)

    accuracy = model_index_accuracy(model_index, dataset)
    if accuracy is None:
        accuracy = facts["accuracy"]

    base = [str(b) for b in _as_list(meta.get("base_model")) if b]
    base_tags = [t.split(":", 1)[-1] for t in _tag_values(tags, "base_model:")]  # base_model:finetune:x -> x
    base_model = (base or base_tags or [facts["base_model"]])[0]

    licenses = _as_list(meta.get("license")) or _tag_values(tags, "license:")
    config = listing.get("config") if isinstance(listing.get("config"), dict) else {}
    arch, family = architecture(config, repo_id, listing.get("library_name"))
    pretrained = config.get("pretrained_cfg") if isinstance(config.get("pretrained_cfg"), dict) else {}
    num_classes = config.get("num_classes", pretrained.get("num_classes"))
    if num_classes is None and isinstance(config.get("id2label"), dict):
        num_classes = len(config["id2label"])
    input_size = _as_list(pretrained.get("input_size") or config.get("input_size"))
    return {
        "datasets": datasets,
        "dataset": dataset,
        "dataset_note": None if dataset else dataset_note,
        "papers": papers,
        "accuracy": accuracy,
        "base_model": base_model or None,
        "license": str(licenses[0]) if licenses else None,
        "architecture": arch,
        "model_type": family,
        "num_classes": int(num_classes) if isinstance(num_classes, int) and num_classes > 0 else None,
        "input_size": int(input_size[-1]) if input_size and isinstance(input_size[-1], int) else None,
    }


def needs_card(listing: dict) -> bool:
    """True when the listing metadata lacks a dataset, a paper or a reported accuracy (the card may have them)."""
    summary = card_summary(listing)
    return summary["dataset"] is None or not summary["papers"] or summary["accuracy"] is None
