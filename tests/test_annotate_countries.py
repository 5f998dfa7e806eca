"""Country rule: study spellings and OpenAlex ISO codes become the same sorted code lists."""

import pytest

from sn_lake.annotate.countries import (
    COUNTRIES,
    ISO_CODES,
    country_name,
    normalize_countries,
    normalize_country,
    unrecognized_countries,
)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("USA", "US"),
        ("United States of America", "US"),
        ("U.S.", "US"),
        ("us", "US"),
        ("China", "CN"),
        ("UK", "GB"),
        ("England", "GB"),
        ("Korea", "KR"),
        ("Republic of Korea", "KR"),
        ("Netherland", "NL"),
        ("The Netherlands", "NL"),
        ("Switzerland", "CH"),
        ("Hong Kong", "HK"),
        ("DE", "DE"),
        ("Mars", None),
        ("", None),
    ],
)
def test_one_country(name, code):
    assert normalize_country(name) == code


@pytest.mark.parametrize(
    ("value", "codes"),
    [
        ("China, USA", ["CN", "US"]),
        ("USA, China", ["CN", "US"]),
        ("Switzerland, UK", ["CH", "GB"]),
        ("USA; USA", ["US"]),
        ("France and Germany", ["DE", "FR"]),
        (["US", "CN", "US"], ["CN", "US"]),
        ("Mars, USA", None),
        ("", None),
        (None, None),
        ([], None),
    ],
)
def test_lists_become_sorted_distinct_codes_or_none(value, codes):
    assert normalize_countries(value) == codes


def test_unrecognized_parts_are_reported_as_written():
    assert unrecognized_countries("Mars, USA, Atlantis") == ["Mars", "Atlantis"]
    assert unrecognized_countries("China, USA") == []


def test_every_securitynet_country_is_known():
    for name in (
        "China",
        "USA",
        "Korea",
        "France",
        "UK",
        "Canada",
        "Singapore",
        "Netherland",
        "Germany",
        "Australia",
        "Switzerland",
    ):
        assert normalize_country(name) is not None, name


def test_every_iso_code_is_known_not_only_the_table():
    assert len(ISO_CODES) >= 240
    assert normalize_countries(["IS", "CY", "US"]) == ["CY", "IS", "US"]  # OpenAlex codes outside COUNTRIES
    assert (normalize_country("Iceland"), country_name("IS")) == ("IS", "Iceland")


def test_table_codes_and_names_round_trip():
    for code, (name, _aliases) in COUNTRIES.items():
        assert len(code) == 2 and code.isupper()
        assert normalize_country(name) == code and country_name(code) == name
    assert country_name("gb") == "United Kingdom" and country_name("XX") is None
