"""Model-card rules: what a Hugging Face model card (README.md) and its metadata say about a model.

A card is YAML front matter (``license``, ``datasets``, ``base_model``, ``model-index``, ...)
followed by markdown. Cards written by the ``transformers`` Trainer carry their facts only in the
markdown (``fine-tuned version of [base](...) on the cifar10 dataset`` / ``- Accuracy: 0.98``),
so those sentences are read too. Every function returns None or an empty list when it does not
know; none of them guesses.

Cards are strangers' text, so reading one is bounded: the front matter is at most
:data:`FRONT_MATTER_MAX` characters, parsed by PyYAML's safe loader (libyaml's, which caps nesting
depth, where it is installed) and refused when it uses YAML aliases (a 534-byte "billion laughs"
card expands to gigabytes); only the first :data:`BODY_MAX` characters of the markdown are read. A
refused front matter reads as ``{}`` and :func:`read_card` says why (``card.front_matter_too_long``,
``card.yaml_alias``, ``card.yaml_invalid``), so the model keeps its listing metadata and the catalog
quarantines the card. Accuracies and counts pass the rules of :mod:`sn_lake.annotate.numbers`.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from sn_lake.annotate import numbers
from sn_lake.annotate.architectures import model_family
from sn_lake.annotate.datasets import (
    canonical_dataset,
    dataset_from_timm_tag,
    declared_dataset,
    is_umbrella,
    specific_dataset,
)
from sn_lake.annotate.papers import arxiv_ids

_FRONT_MATTER = re.compile(r"\A\ufeff?\s*---[ \t]*\r?\n(?P<yaml>.*?)(?:\r?\n)?^---[ \t]*$\r?\n?", re.S | re.M)
_FINE_TUNED_FROM = re.compile(r"fine-tuned version of \[(?P<base>[^\]]+)\]", re.I)
# The Trainer's sentence: "on the beans dataset", "on the a, the b and the c datasets"; and what people write
# instead: a link ("the [beans](https://huggingface.co/datasets/...) dataset", "the [Beans dataset](...)"), a bare
# Hub URL, a name in backticks or quotes, several words ("the Oxford-IIIT Pet dataset"), a config in parentheses
# ("the cifar10 (plain_text) dataset"). Each part is bounded and the words exclude "the", "and" and "dataset", so a
# name splits one way only (no backtracking blow-up on a stranger's text).
_LINK = r"\[[^\]\n]{1,200}\]\([^)\s]{0,300}\)"
_QUOTED = (
    r"`[^`\n]{1,100}`|\"[^\"\n]{1,100}\"|'[^'\n]{1,100}'"
    r"|\u201c[^\u201d\n]{1,100}\u201d|\u2018[^\u2019\n]{1,100}\u2019"
)  # `x`, "x", 'x', and typographic quotes
_URL = r"https?://[^\s()\[\]<>]{1,300}"
_WORD = r"(?!(?:the|and|datasets?)\b)[\w./-]{1,100}"
_WORDS = rf"{_WORD}(?: {_WORD}){{0,5}}(?: \([^()\n]{{1,60}}\))?"
_ITEM = re.compile(rf"{_LINK}|{_QUOTED}|{_URL}|{_WORDS}", re.I)
_SEPARATOR = re.compile(r",? and (?:the )?|, (?:the )?", re.I)
_LIST = rf"(?:{_ITEM.pattern})(?:(?:,? and |, )(?:the )?(?:{_ITEM.pattern})){{0,20}}"
_TRAINED_ON = re.compile(
    rf"\bon (?:the )?(?:(?P<names>{_LIST}) data ?sets?\b"
    rf"|(?P<link>\[[^\]\n]{{0,200}}\bdata ?sets?\b[^\]\n]{{0,200}}\]\([^)\s]{{0,300}}\))"
    r"|(?P<url>https?://(?:[\w-]+\.)*(?:huggingface\.co|hf\.co)/datasets/[\w.-]*[\w-](?:/[\w.-]*[\w-])?))",
    re.I,
)
_ACCURACY_LINE = re.compile(
    r"^\s*[-*]\s*(?:top[- ]?1\s+)?accuracy\s*:\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<pct>%?)\s*$", re.I | re.M
)

# model-index metric types (lower case, compared without spaces, '-' and '_') that mean top-1 accuracy
TOP1_METRICS = {"accuracy", "top1accuracy", "top1", "acc", "acc@1", "top1acc", "evalaccuracy"}


FRONT_MATTER_MAX = 64 * 1024  # characters of YAML front matter read; a longer one is refused
BODY_MAX = 256 * 1024  # characters of markdown read after the front matter; the rest is ignored
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml refuses nesting deeper than 1000 levels


def _card_problem(rule: str, detail: str) -> numbers.Problem:
    return numbers.Problem("card", rule, f"{detail}; the card's metadata is ignored, the listing's kept")


def load_front_matter(text: str) -> tuple[dict, numbers.Problem | None]:
    """YAML front matter as a mapping, or ``{}`` and the problem that refused it (too long, aliases, invalid)."""
    if len(text) > FRONT_MATTER_MAX:
        return {}, _card_problem(
            "card.front_matter_too_long",
            f"front matter of {len(text)} characters, expected at most {FRONT_MATTER_MAX}",
        )
    try:
        for event in yaml.parse(text, Loader=_YAML_LOADER):
            if isinstance(event, yaml.AliasEvent):
                alias = numbers.show(event.anchor)[1:-1]
                return {}, _card_problem("card.yaml_alias", f"front matter uses the YAML alias *{alias}, expected none")
        meta = yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader, and no alias can expand
    except Exception as exc:  # noqa: BLE001 - YAMLError, RecursionError (pure-Python loader), bad dates
        reason = numbers.clean_text(str(exc)).replace("\n", " ")[:200]
        detail = f"front matter is not valid YAML ({type(exc).__name__}: {reason})"
        return {}, _card_problem("card.yaml_invalid", detail)
    if meta is None:
        return {}, None
    if not isinstance(meta, dict):
        kind = type(meta).__name__
        return {}, _card_problem("card.yaml_invalid", f"front matter is a YAML {kind}, expected a mapping")
    return meta, None


def read_card(text: str | None) -> tuple[dict, str, numbers.Problem | None]:
    """The card's YAML metadata (``{}`` when absent or refused), its markdown body (at most :data:`BODY_MAX`
    characters), and the problem that refused the metadata (None when there is none)."""
    if not text or not isinstance(text, str):
        return {}, "", None
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text[:BODY_MAX], None
    meta, problem = load_front_matter(match.group("yaml"))
    return meta, text[match.end() : match.end() + BODY_MAX], problem


def split_card(text: str | None) -> tuple[dict, str]:
    """The card's YAML metadata (``{}`` when absent, unreadable or refused) and its markdown body."""
    meta, body, _ = read_card(text)
    return meta, body


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _tag_values(tags: list[str] | None, prefix: str) -> list[str]:
    return [t[len(prefix) :] for t in tags or [] if isinstance(t, str) and t.startswith(prefix)]


def _results(model_index: Any) -> list[dict]:
    """Every ``results`` entry of a ``model-index`` list (malformed parts skipped)."""
    found = []
    for entry in _as_list(model_index):
        if isinstance(entry, dict):
            found.extend(r for r in _as_list(entry.get("results")) if isinstance(r, dict))
    return found


def model_index_datasets(model_index: Any) -> list[str]:
    """Dataset names the ``model-index`` results were measured on (``type`` first, then ``name``; then ``config``
    when ``type`` is an umbrella repo of several sets, where the Trainer writes the set: ``config: bloodmnist``)."""
    names = []
    for result in _results(model_index):
        dataset = result.get("dataset")
        if isinstance(dataset, dict):
            names.extend(str(dataset[k]) for k in ("type", "name") if dataset.get(k))
            if is_umbrella(dataset.get("type")) and isinstance(dataset.get("config"), str):
                names.append(dataset["config"])
    return names


def _model_index_accuracy(model_index: Any, dataset: str | None) -> tuple[float | None, list[numbers.Problem]]:
    """The top-1 accuracy :func:`model_index_accuracy` picks, and a problem per top-1 value it refused."""
    candidates: list[tuple[bool, float]] = []
    problems: list[numbers.Problem] = []
    for entry_no, entry in enumerate(_as_list(model_index)):
        if not isinstance(entry, dict):
            continue
        for result_no, result in enumerate(_as_list(entry.get("results"))):
            if not isinstance(result, dict):
                continue
            ds = result.get("dataset") if isinstance(result.get("dataset"), dict) else {}
            on_dataset = dataset is not None and dataset in {
                canonical_dataset(str(ds.get(k))) for k in ("type", "name") if ds.get(k)
            }
            for metric_no, metric in enumerate(_as_list(result.get("metrics"))):
                if not isinstance(metric, dict):
                    continue
                kind = re.sub(r"[\s_\-]", "", str(metric.get("type") or metric.get("name") or "")).lower()
                if kind not in TOP1_METRICS:
                    continue
                where = f"model-index[{entry_no}].results[{result_no}].metrics[{metric_no}].value"
                value, problem = numbers.accuracy(metric.get("value"), where=where)
                if problem is not None:
                    problems.append(problem)
                elif value is not None:
                    candidates.append((on_dataset, value))
    if not candidates:
        return None, problems
    preferred = [v for on, v in candidates if on]
    return (preferred or [v for _, v in candidates])[0], problems


def model_index_accuracy(model_index: Any, dataset: str | None = None) -> float | None:
    """Top-1 accuracy (a fraction) from ``model-index`` results, preferring those on ``dataset``.

    Values pass :func:`sn_lake.annotate.numbers.accuracy`: percentages (``97.9``) become fractions, booleans
    and values out of range are refused; top-5 and other metrics are ignored.
    """
    return _model_index_accuracy(model_index, dataset)[0]


def _body_accuracy(body: str) -> tuple[float | None, numbers.Problem | None]:
    """The accuracy a Trainer-written body states (``- Accuracy: 0.98`` / ``95.1%``), through the accuracy rule."""
    match = _ACCURACY_LINE.search(body or "")
    if not match:
        return None, None
    return numbers.accuracy(match.group("value") + match.group("pct"), where="card body 'Accuracy:' line")


def _declares(name: str) -> bool:
    """True when a name read from prose declares something: a dataset id, or a placeholder (with its note)."""
    dataset, note = declared_dataset(name, prose=True)
    return bool(dataset or note)


def _split_names(names: str) -> list[str]:
    """The names of one "on the a, the b and the c datasets" match: the whole phrase when it is one name we know
    ("cats and dogs"), else its parts."""
    if _SEPARATOR.search(names) and declared_dataset(names, prose=True)[0]:
        return [names]
    parts, pos = [], 0
    while pos < len(names):
        separator = _SEPARATOR.match(names, pos)
        if separator and separator.end() > pos:
            pos = separator.end()
            continue
        item = _ITEM.match(names, pos)
        if not item:
            break
        parts.append(item.group(0))
        pos = item.end()
    return parts


def prose_datasets(body: str) -> list[str]:
    """The dataset names a card's prose declares (as written): those of the first "on the X dataset" sentence that
    names a dataset or a placeholder. Generic words ("on the following dataset"), paths and unknown phrases
    declare nothing, so a later sentence can."""
    for match in _TRAINED_ON.finditer(body or ""):
        names = (
            [match.group("link") or match.group("url")]
            if match.group("names") is None
            else _split_names(match.group("names"))
        )
        declared = [n for n in names if _declares(n)]
        if declared:
            return declared
    return []


def body_facts(body: str) -> dict[str, Any]:
    """What a Trainer-written card body states: ``base_model``, ``datasets`` (as written), ``accuracy``, ``papers``."""
    base = _FINE_TUNED_FROM.search(body or "")
    value, _ = _body_accuracy(body)
    return {
        "base_model": base.group("base").strip() if base else None,
        "datasets": prose_datasets(body),
        "accuracy": value,
        "papers": arxiv_ids(body),
    }


def first_dataset(names: list[str]) -> tuple[str | None, str | None]:
    """``(dataset id, note)``: the first of ``names`` that declares a dataset (``declared_dataset``), unless it is an
    umbrella repo and a later name is one of its sets (``specific_dataset``); else the note of a placeholder such
    as ``imagefolder``."""
    note, found = None, []
    for name in names:
        dataset, why = declared_dataset(name)
        if dataset:
            found.append(dataset)
        note = note or why
    return (specific_dataset(found), None) if found else (None, note)


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
    read last. Keys: ``datasets`` (raw names), ``dataset``, ``dataset_note`` (why a declared one is NULL),
    ``papers``, ``accuracy``, ``base_model``, ``license``, ``architecture``, ``model_type``, ``num_classes``,
    ``input_size``, and ``problems``: a
    :class:`~sn_lake.annotate.numbers.Problem` per value read as NULL by a rule (a refused front matter, an
    accuracy or a count out of range), for ``catalog.quarantine``.
    """
    tags = listing.get("tags") if isinstance(listing.get("tags"), list) else []  # `tags: true` keeps the rest
    tags = [t for t in tags if isinstance(t, str)]
    card_data = listing.get("cardData") if isinstance(listing.get("cardData"), dict) else {}
    card_meta, body, card_problem = read_card(card_text)
    problems = [card_problem] if card_problem else []
    meta = {**card_meta, **card_data}
    model_index = listing.get("model-index") or card_data.get("model-index") or card_meta.get("model-index")
    facts = body_facts(body)

    datasets = [
        *_tag_values(tags, "dataset:"),
        *map(str, _as_list(meta.get("datasets"))),
        *model_index_datasets(model_index),
    ]
    datasets.extend(facts["datasets"])
    dataset, dataset_note = first_dataset(datasets)
    repo_id = str(listing.get("id", ""))
    if dataset is None and listing.get("library_name") == "timm" and "." in repo_id:
        dataset = dataset_from_timm_tag(repo_id.rsplit(".", 1)[1])  # timm/resnet18.a1_in1k -> imagenet-1k

    papers: list[str] = []
    for source in (*(f"arxiv:{t}" for t in _tag_values(tags, "arxiv:")), body):
        papers.extend(p for p in arxiv_ids(source) if p not in papers)

    accuracy, refused = _model_index_accuracy(model_index, dataset)
    problems.extend(refused)
    if accuracy is None:
        accuracy, body_problem = _body_accuracy(body)
        problems.extend([body_problem] if body_problem else [])

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
    num_classes, problem_classes = numbers.whole_number("num_classes", num_classes, zero_is_none=True)
    sizes = _as_list(pretrained.get("input_size") or config.get("input_size"))
    input_size, problem_size = numbers.whole_number("input_size", sizes[-1] if sizes else None)
    problems.extend(p for p in (problem_classes, problem_size) if p)
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
        "num_classes": num_classes,
        "input_size": input_size,
        "problems": problems,
    }


def needs_card(listing: dict) -> bool:
    """True when the listing metadata lacks a dataset, a paper or a reported accuracy (the card may have them)."""
    summary = card_summary(listing)
    return summary["dataset"] is None or not summary["papers"] or summary["accuracy"] is None
