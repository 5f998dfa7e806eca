"""Purpose rule: why a model was published, ``security``, ``benchmark`` or ``other`` (docs/kaggle_papers.md).

- ``security``: the paper appeared at a security venue, or its title/abstract is about adversarial
  robustness, backdoors, poisoning, privacy, membership inference, model stealing or inversion;
- ``benchmark``: the model is a standard release of an architecture (a registry such as timm), or
  its paper's title proposes an architecture (networks, convolutions, transformers, backbones);
- ``other``: anything else we know something about, such as a dataset paper (the SecurityNet
  annotators label MedMNIST's "benchmark for biomedical image classification" paper ``other``).

API: ``paper_purpose(...) -> str | None``, ``explain_paper_purpose(...) -> (purpose, reason)``,
``model_purpose(...) -> str | None``.
"""

from __future__ import annotations

import re

from sn_lake.annotate.venues import venue_type

PURPOSES = ("security", "benchmark", "other")

# Topics that make a paper a security paper, looked for in its title and abstract.
SECURITY_TOPICS: dict[str, str] = {
    "adversarial": r"\badversarial(?:ly)?\b",
    "robustness certification": r"\bcertif(?:ied|iably) robust",
    "backdoor": r"\bback ?doors?\b|\btrojan(?:ed|s)?\b",
    "poisoning": r"\bpoison(?:ing|ed)?\b",
    "membership inference": r"\bmembership inference\b",
    "privacy": r"\bprivacy\b|\bdifferentially private\b|\bprivate (?:training|learning)\b",
    "model stealing": r"\bmodel (?:stealing|extraction)\b|\bstealing\b",
    "model inversion": r"\bmodel inversion\b|\binversion attacks?\b",
    "attack": r"\battacks?\b",
    "watermarking": r"\bwatermark(?:s|ing)?\b",
}

# Papers that release a dataset or benchmark suite rather than a model design: `other`.
DATASET_PAPER = r"\bdatasets?\b|\bbenchmark (?:for|of|suite)\b|\bbenchmarks\b"

# Title words that say a paper proposes an architecture (a model design others benchmark): `benchmark`.
ARCHITECTURE_TOPICS: dict[str, str] = {
    "network": r"\bnet(?:work)?s?\b|[a-z]nets?\b",
    "convolution": r"\bconvolution(?:al|s)?\b|\bcnns?\b",
    "transformer": r"\btransformers?\b|\bvit\b",
    "residual": r"\bresidual\b",
    "architecture": r"\barchitectures?\b|\barchitecture search\b|\bbackbones?\b",
    "mlp": r"\bmlps?\b|\bmulti ?layer perceptrons?\b",
    "normalization": r"\bbatch normali[sz]ation\b",
    "image recognition": r"\bimage recognition\b",
}

_SECURITY = {topic: re.compile(p, re.IGNORECASE) for topic, p in SECURITY_TOPICS.items()}
_ARCHITECTURE = {topic: re.compile(p, re.IGNORECASE) for topic, p in ARCHITECTURE_TOPICS.items()}
_DATASET = re.compile(DATASET_PAPER, re.IGNORECASE)


def explain_paper_purpose(
    title: str | None, abstract: str | None = None, venue: str | None = None
) -> tuple[str | None, str]:
    """The purpose of a paper and the reason, e.g. ``('security', "title/abstract: 'backdoor'")``.

    The purpose is None (reason ``'no title or venue'``) when there is nothing to judge.
    """
    kind = venue_type(venue)
    if kind == "Security":
        return "security", f"security venue {venue!r}"
    text = " ".join(t for t in (title, abstract) if t)
    for topic, pattern in _SECURITY.items():
        if text and pattern.search(text):
            return "security", f"title/abstract: {topic!r}"
    if not title:
        return (
            (None, "no title or venue")
            if not venue
            else ("other", f"no title; venue {venue!r} is not a security venue")
        )
    if _DATASET.search(title):
        return "other", "title: dataset or benchmark-suite paper"
    for topic, pattern in _ARCHITECTURE.items():
        if pattern.search(title):
            return "benchmark", f"title proposes an architecture: {topic!r}"
    return "other", "title names no security topic and no architecture"


def paper_purpose(title: str | None, abstract: str | None = None, venue: str | None = None) -> str | None:
    """``security``, ``benchmark`` or ``other`` for a paper (see :func:`explain_paper_purpose`); None without title
    and venue."""
    return explain_paper_purpose(title, abstract, venue)[0]


def model_purpose(
    paper_purpose: str | None = None, text: str | None = None, standard_release: bool = False
) -> str | None:
    """The purpose of one model from what its source knows.

    ``text`` (a model card, tags, a description) about a security topic makes it ``security``;
    otherwise its paper's purpose decides; a standard release of an architecture (a timm registry
    entry) without a paper purpose is ``benchmark``; else None (unknown, never guessed).
    """
    if text and any(p.search(text) for p in _SECURITY.values()):
        return "security"
    if paper_purpose in PURPOSES:
        return paper_purpose
    return "benchmark" if standard_release else None
