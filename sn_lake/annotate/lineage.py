"""Model-tree rules: which models a model descends from, how, and on what evidence (pure functions).

A Hugging Face model declares its parents in what the listing already returns, so the tree costs no
request of its own:

* ``card``: the card's ``base_model`` (a repo id, or a list of them for a merge) with an optional
  ``base_model_relation``, as ``cardData`` (the card's YAML, in the listing) or the fetched card's
  front matter; failing any other declaration, the Trainer's sentence "fine-tuned version of [X]"
  in the card body (relation ``finetune``);
* ``tag``: the Hub's tags ``base_model:<relation>:<id>`` and ``base_model:<id>``;
* ``model_info``: the listing's ``baseModels`` (``{"relation": ..., "models": [{"id": ...}]}``).

One edge per (child, parent). Its evidence is the first of card, tag, model_info that names the
parent; its relation the first that is stated (the card's ``base_model_relation``, then the Hub's
relation in a tag or in ``baseModels``, then the Trainer's sentence), else what the listing shows
(``adapter`` for a PEFT repo, ``quantized`` for GGUF/GPTQ/AWQ/bitsandbytes weights, ``merge`` for
several parents), else ``unknown``. A model is never its own parent; cycles are kept as declared
(``analytics.model_lineage`` walks them safely). Parents are resolved to catalog ids where the
catalog knows them (Hub ids compare case-insensitively), else keep ``huggingface:<id as declared>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sn_lake.annotate.model_cards import body_facts, split_card

RELATIONS = ("finetune", "adapter", "merge", "quantized", "unknown")
EVIDENCE = ("card", "tag", "model_info")  # also the order of trust
MAX_DEPTH = 16  # analytics.model_lineage's depth cap (sql/views/model_lineage.sql)

# spellings met in cards and tags -> our relation
_RELATION_WORDS = {
    "finetune": "finetune", "fine-tune": "finetune", "fine_tune": "finetune", "finetuned": "finetune",
    "fine-tuned": "finetune", "adapter": "adapter", "adapters": "adapter", "lora": "adapter", "peft": "adapter",
    "merge": "merge", "merged": "merge", "merges": "merge", "quantized": "quantized", "quantization": "quantized",
    "quantised": "quantized", "quant": "quantized",
}  # fmt: skip
_QUANTIZED_TAGS = frozenset({"gguf", "gptq", "awq", "exl2", "bitsandbytes", "4-bit", "8-bit", "quantized", "onnx-int8"})
_ADAPTER_TAGS = frozenset({"peft", "lora", "adapter-transformers"})
_MERGE_TAGS = frozenset({"merge", "mergekit"})
_HUB_PREFIX = re.compile(r"^(?:https?://)?(?:www\.)?(?:huggingface\.co|hf\.co)/", re.I)
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.\-]{0,95}(?:/[\w.\-]{1,96})?$")
_NOT_AN_ID = frozenset({"none", "null", "n/a", "na", "unknown", "-", "todo", "base_model", "true", "false"})


@dataclass(frozen=True)
class Parent:
    """One declared parent: a Hub repo id as written, the relation and the evidence (see the module docstring)."""

    parent: str
    relation: str
    evidence: str


def parent_id(value: Any) -> str | None:
    """A declared base model as a Hub repo id (``org/name`` or a legacy ``name``), or None when it is not one
    (a local path, a placeholder, a URL elsewhere). Hub URLs lose their host and any ``/tree/...`` tail."""
    if not isinstance(value, str):
        return None
    text = _HUB_PREFIX.sub("", value.strip().strip("\"'"))
    text = re.split(r"/(?:tree|blob|resolve)/", text, maxsplit=1)[0].strip("/")
    if not _REPO_ID.match(text) or ".." in text or "--" in text or text.lower() in _NOT_AN_ID:
        return None
    return text


def relation_of(value: Any) -> str | None:
    """Our relation for a word cards and tags use (``fine-tune`` -> ``finetune``, ``lora`` -> ``adapter``), or None."""
    return _RELATION_WORDS.get(value.strip().lower()) if isinstance(value, str) else None


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def inferred_relation(n_parents: int, tags: Iterable[str], library: str | None) -> str:
    """The relation the listing shows when no declaration states one (``unknown`` when it shows none)."""
    lowered = {t.lower() for t in tags if isinstance(t, str)}
    if (library or "").lower() == "peft" or lowered & _ADAPTER_TAGS:
        return "adapter"
    if lowered & _QUANTIZED_TAGS:
        return "quantized"
    if n_parents > 1 or lowered & _MERGE_TAGS:
        return "merge"
    return "unknown"


def declared_parents(
    child: str,
    *,
    card_base: Any = None,
    card_relation: Any = None,
    card_text: str | None = None,
    tags: Iterable[str] | None = None,
    base_models: Any = None,
    library: str | None = None,
) -> list[Parent]:
    """The parents model ``child`` (a Hub repo id) declares, in declaration order (see the module docstring).

    ``card_base``/``card_relation`` are ``cardData``'s ``base_model``/``base_model_relation``; ``card_text`` the
    fetched README.md (its front matter stands in for a missing ``cardData.base_model``, its body is read last);
    ``tags`` the listing's tags; ``base_models`` the listing's ``baseModels``; ``library`` its ``library_name``.
    """
    tags = [t for t in tags or [] if isinstance(t, str)]
    meta, body = split_card(card_text) if card_text else ({}, "")
    if card_base is None or card_base == []:
        card_base, card_relation = meta.get("base_model"), card_relation or meta.get("base_model_relation")
    found: dict[str, dict] = {}  # lower-case id -> {"parent", "evidence", "relations": {evidence: relation}}

    def add(value: Any, evidence: str, relation: str | None) -> None:
        repo = parent_id(value)
        if repo is None or repo.lower() == child.lower():
            return
        entry = found.setdefault(repo.lower(), {"parent": repo, "evidence": evidence, "relations": {}})
        if relation:
            entry["relations"].setdefault(evidence, relation)

    for value in _as_list(card_base):
        add(value, "card", relation_of(card_relation))
    for tag in tags:
        if not tag.startswith("base_model:"):
            continue
        rest = tag[len("base_model:") :]
        word, _, repo = rest.partition(":")
        if repo and relation_of(word):
            add(repo, "tag", relation_of(word))
        elif ":" not in rest:
            add(rest, "tag", None)
    if isinstance(base_models, dict):
        hub_relation = relation_of(base_models.get("relation"))
        for model in _as_list(base_models.get("models")):
            add(model.get("id") if isinstance(model, dict) else model, "model_info", hub_relation)
    if not found and body:
        add(body_facts(body)["base_model"], "card", "finetune")  # "This model is a fine-tuned version of [X](...)"

    fallback = inferred_relation(len(found), tags, library)
    parents = []
    for entry in found.values():
        stated = next((entry["relations"][e] for e in ("card", "model_info", "tag") if e in entry["relations"]), None)
        parents.append(Parent(entry["parent"], stated or fallback, entry["evidence"]))
    return parents


def listing_parents(listing: dict, card_text: str | None = None) -> list[Parent]:
    """:func:`declared_parents` of a Hub listing object (``id``, ``cardData``, ``tags``, ``baseModels``, ...)."""
    card_data = listing.get("cardData") if isinstance(listing.get("cardData"), dict) else {}
    return declared_parents(
        str(listing.get("id", "")),
        card_base=card_data.get("base_model"),
        card_relation=card_data.get("base_model_relation"),
        card_text=card_text,
        tags=listing.get("tags"),
        base_models=listing.get("baseModels"),
        library=listing.get("library_name"),
    )


def candidates(parent: str, source: str = "huggingface") -> list[str]:
    """The catalog ids a declared parent may have, preferred first: the Hub id, then timm's own id for ``timm/...``."""
    found = [f"{source}:{parent}"]
    if source == "huggingface" and parent.lower().startswith("timm/"):
        found.append(f"timm:{parent.split('/', 1)[1]}")
    return found


def resolve(parent: str, known: Mapping[str, str], source: str = "huggingface") -> str:
    """The catalog id of a declared parent: the first of :func:`candidates` in ``known`` (lower-case id -> catalog
    id), else the Hub id as declared (a parent outside the catalog)."""
    options = candidates(parent, source)
    return next((known[o.lower()] for o in options if o.lower() in known), options[0])


def tree_edges(declared: Iterable[tuple[str, str, str, str]], known: Mapping[str, str]) -> list[dict]:
    """``catalog.model_tree`` rows from ``(child catalog id, declared parent, relation, evidence)`` tuples: parents
    resolved (:func:`resolve`), one row per (child, parent) (the first declaration wins), no self-edges."""
    rows: dict[tuple[str, str], dict] = {}
    for child_id, parent, relation, evidence in declared:
        if relation not in RELATIONS or evidence not in EVIDENCE:
            raise ValueError(
                f"Expected a relation in {RELATIONS} and evidence in {EVIDENCE}, found {relation!r}/{evidence!r} for "
                f"{child_id} -> {parent}: fix the rule that produced it."
            )
        source = child_id.split(":", 1)[0]
        parent_id_ = resolve(parent, known, source)
        if parent_id_ != child_id:
            rows.setdefault(
                (child_id, parent_id_),
                {
                    "child_id": child_id,
                    "parent_id": parent_id_,
                    "relation": relation,
                    "evidence": evidence,
                },
            )
    return list(rows.values())
