"""Purpose rule: security venues and topics, architecture papers, dataset papers, model-level purpose."""

import pytest

from sn_lake.annotate.purpose import explain_paper_purpose, model_purpose, paper_purpose

PAPERS = [
    # (title, abstract, venue, purpose) -- titles of papers in the SecurityNet table and a few more
    ("Deep Residual Learning for Image Recognition", None, "CVPR", "benchmark"),
    ("Squeeze-and-Excitation Networks", None, "CVPR", "benchmark"),
    ("Densely Connected Convolutional Networks", None, None, "benchmark"),
    ("ProxylessNAS: Direct Neural Architecture Search on Target Task and Hardware", None, "ICLR", "benchmark"),
    (
        "MedMNIST v2 - A large-scale lightweight benchmark for 2D and 3D biomedical image classification",
        None,
        "arXiv",
        "other",
    ),
    ("On the Loss Landscape of Adversarial Training", None, "NeurIPS", "security"),
    ("Do Adversarially Robust ImageNet Models Transfer Better?", None, "NeurIPS", "security"),
    (
        "BadNets: Identifying Vulnerabilities in the Machine Learning Model Supply Chain",
        "We study backdoors.",
        "arXiv",
        "security",
    ),
    (
        "Membership Inference Attacks Against Machine Learning Models",
        None,
        "IEEE Symposium on Security and Privacy",
        "security",
    ),
    ("Deep Learning with Differential Privacy", "differentially private training", "CCS", "security"),
    ("MIRROR: Model Inversion for Deep LearningNetwork with High Fidelity", None, "NDSS", "security"),  # venue alone
    (
        "A Simple Framework for Contrastive Learning of Visual Representations",
        "We study robustness to poisoning.",
        "ICML",
        "security",
    ),
    ("YOLOv3: An Incremental Improvement", None, "arXiv", "other"),
    (None, None, "CVPR", "other"),
    (None, None, "USENIX Security", "security"),
]


@pytest.mark.parametrize(("title", "abstract", "venue", "purpose"), PAPERS)
def test_paper_purpose(title, abstract, venue, purpose):
    assert paper_purpose(title, abstract, venue) == purpose


def test_nothing_to_judge_is_none_with_a_reason():
    assert explain_paper_purpose(None, None, None) == (None, "no title or venue")
    purpose, reason = explain_paper_purpose("Wide Residual Networks")
    assert purpose == "benchmark" and "architecture" in reason


@pytest.mark.parametrize(
    ("kwargs", "purpose"),
    [
        ({"paper_purpose": "other"}, "other"),
        ({"paper_purpose": "other", "text": "adversarially trained ResNet-50 (PGD, eps=4/255)"}, "security"),
        ({"standard_release": True}, "benchmark"),
        ({"paper_purpose": "security", "standard_release": True}, "security"),
        ({"text": "a ResNet fine-tuned on flowers"}, None),
        ({}, None),
    ],
)
def test_model_purpose(kwargs, purpose):
    assert model_purpose(**kwargs) == purpose
