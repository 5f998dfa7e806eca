"""Cross-source link rule: which catalog rows are the same weights (or the same published model) seen twice.

Only rows of *different* sources are linked, by three keys, strongest first (:data:`LINK_TYPES`):

* ``same_hub_id``: both name the same Hugging Face repository (a ``huggingface:`` row's own id,
  or a weights URL on the Hub such as timm's ``https://huggingface.co/timm/resnet18.a1_in1k``);
* ``same_weights_url``: both point at the same download, after :func:`weights_key` (scheme,
  ``www.``, query, fragment, trailing ``/`` and GitHub ``tree/<branch>`` dropped; Zenodo
  ``record/`` read as ``records/``);
* ``same_paper_and_family``: the same paper id and the same architecture family (the same model
  published by a paper, not necessarily the same file).

API: ``weights_key(url)``, ``hub_repo_id(model_id, weights_url, hub_hosts)``, ``find_links(models, hub_hosts)``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

LINK_TYPES = ("same_hub_id", "same_weights_url", "same_paper_and_family")
HUB_HOSTS = ("huggingface.co", "hf.co")

# Hub paths that are pages of the Hub, not model repositories.
_HUB_NON_REPOS = {"datasets", "spaces", "docs", "api", "models", "papers", "blog", "organizations"}


def weights_key(url: str | None) -> str | None:
    """A comparable form of a weights URL: ``https://github.com/IVRL/X/tree/master`` -> ``github.com/ivrl/x``."""
    if not url or not re.match(r"https?://", url.strip(), re.IGNORECASE):
        return None
    parts = urlsplit(url.strip())
    host = parts.netloc.lower().removeprefix("www.")
    path = parts.path.rstrip("/")
    if host == "github.com":
        path = re.sub(r"^(/[^/]+/[^/]+)/tree/(?:main|master)(?=/|$)", r"\1", path).lower()
        path = path.removesuffix(".git")
    elif host == "zenodo.org":
        path = re.sub(r"^/record/", "/records/", path)
    return f"{host}{path}" if path else host


def hub_repo_id(model_id: str, weights_url: str | None, hub_hosts: Iterable[str] = HUB_HOSTS) -> str | None:
    """The Hugging Face repository a catalog row names: its own id for ``huggingface:`` rows, else its Hub weights
    URL's."""
    if model_id.startswith("huggingface:"):
        return model_id.split(":", 1)[1]
    if not weights_url or not re.match(r"https?://", weights_url, re.IGNORECASE):
        return None
    parts = urlsplit(weights_url)
    if parts.netloc.lower().removeprefix("www.") not in {h.lower() for h in hub_hosts}:
        return None
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2 or segments[0] in _HUB_NON_REPOS:
        return None
    return f"{segments[0]}/{segments[1]}"


def _source(model_id: str) -> str:
    return model_id.split(":", 1)[0]


def find_links(models: Iterable[Mapping], hub_hosts: Iterable[str] = HUB_HOSTS) -> list[dict]:
    """Links between catalog rows (``model_id``, ``weights_url``, ``paper_id``, ``model_type``), both directions.

    Each pair gets the strongest link type that holds; returned sorted by model_id, linked_model_id.
    """
    hosts = tuple(hub_hosts)
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in models:
        model_id = row["model_id"]
        hub = hub_repo_id(model_id, row.get("weights_url"), hosts)
        if hub:
            groups[("same_hub_id", hub.lower())].append(model_id)
        else:
            key = weights_key(row.get("weights_url"))
            if key:
                groups[("same_weights_url", key)].append(model_id)
        if row.get("paper_id") and row.get("model_type"):
            groups[("same_paper_and_family", f"{row['paper_id']} + {row['model_type']}")].append(model_id)
    best: dict[tuple[str, str], tuple[str, str]] = {}
    for (link_type, evidence), members in groups.items():
        if len({_source(m) for m in members}) < 2:
            continue
        for a in members:
            for b in members:
                if _source(a) == _source(b):
                    continue
                current = best.get((a, b))
                if current is None or LINK_TYPES.index(link_type) < LINK_TYPES.index(current[0]):
                    best[(a, b)] = (link_type, evidence)
    return [
        {"model_id": a, "linked_model_id": b, "link_type": t, "evidence": e} for (a, b), (t, e) in sorted(best.items())
    ]
