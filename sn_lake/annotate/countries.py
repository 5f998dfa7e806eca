"""Country rules: country names as sources write them -> ISO 3166-1 alpha-2 codes.

OpenAlex gives authors' institutions as ISO codes (``US``, ``CN``); the SecurityNet table writes
names as its annotators typed them (``USA``, ``UK``, ``Korea``, ``Netherland``). Both become the
same sorted list of codes, so they can be compared.

API: ``normalize_country(name) -> str | None``, ``normalize_countries(text_or_names) -> list[str] | None``,
``unrecognized_countries(text_or_names) -> list[str]``, ``country_name(code) -> str | None``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib import resources

# ISO code -> (English short name, other spellings) for the countries research papers name most, and
# the study's own spellings; every other ISO code and its iso3166.tab name is known too (ISO_CODES).
# Spellings are compared lower case, on letters only.
COUNTRIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "AE": ("United Arab Emirates", ("uae", "emirates")),
    "AR": ("Argentina", ()),
    "AT": ("Austria", ()),
    "AU": ("Australia", ()),
    "BE": ("Belgium", ()),
    "BR": ("Brazil", ("brasil",)),
    "CA": ("Canada", ()),
    "CH": ("Switzerland", ("swiss",)),
    "CL": ("Chile", ()),
    "CN": ("China", ("prc", "peoples republic of china", "mainland china", "p r china")),
    "CZ": ("Czechia", ("czech republic",)),
    "DE": ("Germany", ("deutschland",)),
    "DK": ("Denmark", ()),
    "EG": ("Egypt", ()),
    "ES": ("Spain", ()),
    "FI": ("Finland", ()),
    "FR": ("France", ()),
    "GB": (
        "United Kingdom",
        ("uk", "u k", "great britain", "britain", "england", "scotland", "wales", "northern ireland"),
    ),
    "GR": ("Greece", ()),
    "HK": ("Hong Kong", ("hong kong sar", "hongkong")),
    "HU": ("Hungary", ()),
    "IE": ("Ireland", ()),
    "IL": ("Israel", ()),
    "IN": ("India", ()),
    "IR": ("Iran", ()),
    "IT": ("Italy", ()),
    "JP": ("Japan", ()),
    "KR": ("South Korea", ("korea", "republic of korea", "korea republic of", "rok")),
    "LU": ("Luxembourg", ()),
    "MO": ("Macao", ("macau",)),
    "MX": ("Mexico", ()),
    "MY": ("Malaysia", ()),
    "NL": ("Netherlands", ("netherland", "the netherlands", "holland")),
    "NO": ("Norway", ()),
    "NZ": ("New Zealand", ()),
    "PK": ("Pakistan", ()),
    "PL": ("Poland", ()),
    "PT": ("Portugal", ()),
    "QA": ("Qatar", ()),
    "RU": ("Russia", ("russian federation",)),
    "SA": ("Saudi Arabia", ()),
    "SE": ("Sweden", ()),
    "SG": ("Singapore", ()),
    "TR": ("Turkey", ("turkiye",)),
    "TW": ("Taiwan", ()),
    "UA": ("Ukraine", ()),
    "US": ("United States", ("usa", "u s a", "u s", "us", "united states of america", "america")),
    "VN": ("Vietnam", ("viet nam",)),
    "ZA": ("South Africa", ()),
}

_SEPARATORS = re.compile(r"\s*(?:,|;|/|&|\band\b|\+)\s*")


def _spelling(name: str) -> str:
    return re.sub(r"[^a-z]+", " ", name.lower()).strip()


def _iso3166() -> dict[str, str]:
    """Every ISO 3166-1 alpha-2 code with its English name, from the IANA time-zone database's
    ``iso3166.tab`` (shipped by the pinned ``tzdata`` package), so any code OpenAlex sends is known."""
    text = resources.files("tzdata.zoneinfo").joinpath("iso3166.tab").read_text(encoding="utf-8")
    rows = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    return {code.strip(): name.strip() for code, name in rows}


ISO_CODES: dict[str, str] = _iso3166()

_LOOKUP: dict[str, str] = {}
for _code, _name in ISO_CODES.items():
    _LOOKUP[_spelling(_code.lower())] = _code
    _LOOKUP.setdefault(_spelling(_name), _code)
for _code, (_name, _aliases) in COUNTRIES.items():
    for _spelled in (_code.lower(), _name, *_aliases):
        _LOOKUP[_spelling(_spelled)] = _code


def normalize_country(name: str | None) -> str | None:
    """The ISO code of one country name or code: ``'USA'`` -> ``'US'``, ``'Korea'`` -> ``'KR'``, ``'gb'`` -> ``'GB'``;
    unknown -> None."""
    if not name or not name.strip():
        return None
    return _LOOKUP.get(_spelling(name))


def _parts(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    texts = [value] if isinstance(value, str) else [v for v in value if v]
    return [p for text in texts for p in _SEPARATORS.split(text.strip()) if p.strip()]


def normalize_countries(value: str | Iterable[str] | None) -> list[str] | None:
    """The sorted, distinct ISO codes of a list of countries (``'China, USA'`` or ``['US', 'CN']`` -> ``['CN', 'US']``).

    None when nothing is given or when any part is not a country we know: a partial list would
    compare as a wrong one, so the rule does not guess (see :func:`unrecognized_countries`).
    """
    parts = _parts(value)
    codes = [normalize_country(p) for p in parts]
    if not codes or None in codes:
        return None
    return sorted(set(codes))  # type: ignore[arg-type]


def unrecognized_countries(value: str | Iterable[str] | None) -> list[str]:
    """The parts of a list of countries that :func:`normalize_country` does not know, as written."""
    return [p.strip() for p in _parts(value) if normalize_country(p) is None]


def country_name(code: str | None) -> str | None:
    """The English short name of an ISO code: ``'GB'`` -> ``'United Kingdom'``; unknown -> None."""
    code = (code or "").upper()
    entry = COUNTRIES.get(code)
    return entry[0] if entry else ISO_CODES.get(code)
