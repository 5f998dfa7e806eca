"""Venue rule: every spelling the sources use maps to one short name and the study's venue type."""

import pytest

from sn_lake.annotate.venues import VENUE_TYPES, VENUES, is_workshop, normalize_venue, venue_type

CASES = [
    # (as a source writes it, short name, venue type)
    ("CVPR", "CVPR", "CV"),
    ("Computer Vision and Pattern Recognition", "CVPR", "CV"),  # Semantic Scholar publicationVenue
    ("cvpr-2016-6", "CVPR", "CV"),  # Papers with Code conference slug
    ("Proceedings of the IEEE Conference on Computer Vision and Pattern Recognition (CVPR), 2016", "CVPR", "CV"),
    ("2021 IEEE/CVF International Conference on Computer Vision (ICCV)", "ICCV", "CV"),
    ("ECCV", "ECCV", "CV"),
    ("European Conference on Computer Vision", "ECCV", "CV"),
    ("NIPS", "NeurIPS", "ML"),
    ("Advances in Neural Information Processing Systems 33", "NeurIPS", "ML"),
    ("Accepted at ICLR 2021", "ICLR", "ML"),  # arXiv comment
    ("International Conference on Machine Learning", "ICML", "ML"),
    ("SP", "IEEE S&P", "Security"),  # DBLP
    ("IEEE Symposium on Security and Privacy", "IEEE S&P", "Security"),
    ("2022 IEEE 7th European Symposium on Security and Privacy (EuroS&P)", "Euro S&P", "Security"),
    ("USENIX Security Symposium", "USENIX Security", "Security"),
    ("ACM CCS 2021", "CCS", "Security"),
    ("AsiaCCS", "AsiaCCS", "Security"),
    ("NDSS", "NDSS", "Security"),
    ("Findings of the Association for Computational Linguistics: EMNLP 2021", "EMNLP", "NLP"),
    ("ACL 2020", "ACL", "NLP"),
    ("CoRR", "arXiv", "arXiv"),  # DBLP's arXiv venue
    ("arXiv.org", "arXiv", "arXiv"),  # Semantic Scholar
    ("arXiv preprint arXiv:1512.03385", "arXiv", "arXiv"),
    ("CVPR Workshops", "CVPR Workshops", "CV"),
]


@pytest.mark.parametrize(("text", "name", "kind"), CASES)
def test_spellings_map_to_one_venue_and_type(text, name, kind):
    assert normalize_venue(text) == name
    assert venue_type(text) == kind
    assert venue_type(name) == kind  # a short name reads back as itself


@pytest.mark.parametrize("text", ["Nature", "10 pages, 5 figures", "Journal of Foo"])
def test_unknown_venues_are_none_and_type_other(text):
    assert normalize_venue(text) is None
    assert venue_type(text) == "other"


@pytest.mark.parametrize("text", [None, "", "   "])
def test_no_venue_is_none(text):
    assert normalize_venue(text) is None and venue_type(text) is None


def test_every_securitynet_venue_is_known():
    for text in ("arXiv", "CVPR", "ECCV", "ICLR", "NeurIPS", "ICML", "ICCV", "NDSS"):
        assert normalize_venue(text) == text


def test_table_is_consistent():
    assert {kind for kind, _ in VENUES.values()} <= set(VENUE_TYPES)
    for name in VENUES:  # every short name is read back by its own patterns or an earlier, more specific one
        assert normalize_venue(name) == name, name
    assert is_workshop("ICLR 2021 Workshop on Security") and not is_workshop("ICLR")
