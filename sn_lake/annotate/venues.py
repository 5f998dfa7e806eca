"""Venue rules: one short name per venue (``CVPR``, ``NeurIPS``, ``USENIX Security``, ``arXiv``) and its type.

Sources write venues many ways: DBLP (``CVPR``, ``NeurIPS``, ``SP``, ``CoRR``), Semantic Scholar
(``Computer Vision and Pattern Recognition``), Papers with Code (``cvpr-2016-6``), arXiv comments
(``Accepted at ICLR 2021``) and the SecurityNet table (``NeurIPS``). :func:`normalize_venue` maps
them to the short names of :data:`VENUES`; :func:`venue_type` gives the study's venue types
``CV``, ``ML``, ``Security``, ``NLP``, ``arXiv`` or ``other``.

API: ``normalize_venue(text) -> str | None``, ``venue_type(venue) -> str | None``,
``is_workshop(text) -> bool``.
"""

from __future__ import annotations

import re

VENUE_TYPES = ("CV", "ML", "Security", "NLP", "arXiv", "other")

# short name -> (venue type, patterns matched on the lower-cased text with punctuation turned into
# spaces, so `S&P` reads `s p`). Listed most specific first: the first venue whose pattern matches wins.
VENUES: dict[str, tuple[str, tuple[str, ...]]] = {
    # security (before the ML/CV names: `IEEE Symposium on Security and Privacy` must not read as anything else)
    "Euro S&P": ("Security", (r"\beuro ?s ?p\b", r"\beuropean symposium on security and privacy\b", r"\beurosp\b")),
    "IEEE S&P": (
        "Security",
        (
            r"\bieee s ?p\b",
            r"^s ?p\b",
            r"\bsymposium on security and privacy\b",
            r"\boakland\b",
            r"^sp$",
            r"^sp \d{4}$",
        ),
    ),
    "USENIX Security": ("Security", (r"\busenix security\b", r"\busenix sec\b", r"^uss$")),
    "AsiaCCS": ("Security", (r"\basia ?ccs\b", r"\basia conference on computer and communications security\b")),
    "CCS": ("Security", (r"\bccs\b", r"\bconference on computer and communications security\b")),
    "NDSS": ("Security", (r"\bndss\b", r"\bnetwork and distributed system security\b")),
    "ACSAC": ("Security", (r"\bacsac\b", r"\bannual computer security applications conference\b")),
    "RAID": ("Security", (r"\braid\b", r"\bresearch in attacks intrusions and defenses\b")),
    "PETS": ("Security", (r"\bpets\b", r"\bpopets\b", r"\bprivacy enhancing technologies\b")),
    "ESORICS": ("Security", (r"\besorics\b", r"\beuropean symposium on research in computer security\b")),
    "SaTML": ("Security", (r"\bsatml\b", r"\bsecure and trustworthy machine learning\b")),
    "TIFS": ("Security", (r"\btifs\b", r"\btransactions on information forensics and security\b")),
    "TDSC": ("Security", (r"\btdsc\b", r"\btransactions on dependable and secure computing\b")),
    # computer vision
    "CVPR": ("CV", (r"\bcvpr\b", r"\bcomputer vision and pattern recognition\b")),
    "ICCV": ("CV", (r"\biccv\b", r"\binternational conference on computer vision\b")),
    "ECCV": ("CV", (r"\beccv\b", r"\beuropean conference on computer vision\b")),
    "WACV": ("CV", (r"\bwacv\b", r"\bwinter conference on applications of computer vision\b")),
    "BMVC": ("CV", (r"\bbmvc\b", r"\bbritish machine vision conference\b")),
    "MICCAI": ("CV", (r"\bmiccai\b", r"\bmedical image computing and computer assisted intervention\b")),
    "TPAMI": ("CV", (r"\btpami\b", r"\bpami\b", r"\btransactions on pattern analysis and machine intelligence\b")),
    "IJCV": ("CV", (r"\bijcv\b", r"\binternational journal of computer vision\b")),
    "TIP": ("CV", (r"^(?:ieee )?tip\b", r"\btransactions on image processing\b")),
    # machine learning
    "NeurIPS": ("ML", (r"\bneurips\b", r"\bnips\b", r"\bneural information processing systems\b")),
    "ICML": ("ML", (r"\bicml\b", r"\binternational conference on machine learning\b")),
    "ICLR": ("ML", (r"\biclr\b", r"\binternational conference on learning representations\b")),
    "AAAI": ("ML", (r"\baaai\b",)),
    "IJCAI": ("ML", (r"\bijcai\b", r"\binternational joint conference on artificial intelligence\b")),
    "AISTATS": ("ML", (r"\baistats\b", r"\bartificial intelligence and statistics\b")),
    "UAI": ("ML", (r"\buai\b", r"\buncertainty in artificial intelligence\b")),
    "COLT": ("ML", (r"\bcolt\b", r"\bconference on learning theory\b")),
    "KDD": ("ML", (r"\bkdd\b", r"\bknowledge discovery and data mining\b")),
    "JMLR": ("ML", (r"\bjmlr\b", r"\bjournal of machine learning research\b")),
    "TMLR": ("ML", (r"\btmlr\b", r"\btransactions on machine learning research\b")),
    # natural language processing
    "ACL": (
        "NLP",
        (r"^acl\b", r"\bacl \d{4}\b", r"\bannual meeting of the association for computational linguistics\b"),
    ),
    "EMNLP": ("NLP", (r"\bemnlp\b", r"\bempirical methods in natural language processing\b")),
    "NAACL": ("NLP", (r"\bnaacl\b", r"\bnorth american chapter of the association for computational linguistics\b")),
    "COLING": ("NLP", (r"\bcoling\b", r"\bcomputational linguistics\b")),
    # preprints
    "arXiv": (
        "arXiv",
        (r"^arxiv\b", r"^corr\b", r"\barxiv org\b", r"^arxiv preprint\b", r"^computing research repository\b"),
    ),
}

_COMPILED = [(name, kind, [re.compile(p) for p in patterns]) for name, (kind, patterns) in VENUES.items()]
_PROCEEDINGS = re.compile(
    r"^(?:accepted (?:at|to|by|in)|to appear (?:at|in)|published (?:at|in)|in )\s*|\bproceedings of (?:the )?"
)


def _clean(text: str) -> str:
    spaced = re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()
    return _PROCEEDINGS.sub("", spaced).strip()


def is_workshop(text: str | None) -> bool:
    """Whether a venue string names a workshop (``CVPR Workshops``, ``ICLR 2021 Workshop RobustML``)."""
    return bool(text) and bool(re.search(r"\bworkshops?\b", text.lower()))


def normalize_venue(text: str | None) -> str | None:
    """The short name of the venue ``text`` names, ``None`` when it names none we know.

    ``'Computer Vision and Pattern Recognition'``, ``'CVPR 2016'``, ``'cvpr-2016-6'`` -> ``'CVPR'``;
    ``'NIPS'`` -> ``'NeurIPS'``; ``'IEEE Symposium on Security and Privacy'`` -> ``'IEEE S&P'``;
    ``'CoRR'`` -> ``'arXiv'``; ``'CVPR Workshops'`` -> ``'CVPR Workshops'``; ``'Nature'`` -> None.
    """
    if not text or not text.strip():
        return None
    cleaned = _clean(text)
    for name, _kind, patterns in _COMPILED:
        if any(p.search(cleaned) for p in patterns):
            return f"{name} Workshops" if is_workshop(text) and name != "arXiv" else name
    return None


def venue_type(venue: str | None) -> str | None:
    """The study's venue type of a venue (short name or any spelling :func:`normalize_venue` reads).

    ``'ICLR'`` -> ``'ML'``; ``'CVPR Workshops'`` -> ``'CV'``; ``'NDSS'`` -> ``'Security'``;
    ``'CoRR'`` -> ``'arXiv'``; a venue we do not know -> ``'other'``; no venue -> None.
    """
    if not venue or not venue.strip():
        return None
    name = normalize_venue(venue)
    if name is None:
        return "other"
    return VENUES[name.removesuffix(" Workshops")][0]
