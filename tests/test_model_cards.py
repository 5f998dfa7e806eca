"""Model-card rules: front matter, model-index accuracies, Trainer-written bodies, listing metadata."""

import pytest

from sn_lake.annotate.model_cards import (
    architecture,
    body_facts,
    card_summary,
    model_index_accuracy,
    model_index_datasets,
    needs_card,
    split_card,
)

VIT_CARD = """---
license: apache-2.0
base_model: google/vit-base-patch16-224-in21k
datasets:
- uoft-cs/cifar10
tags:
- generated_from_trainer
model-index:
- name: vit-cifar10
  results:
  - task:
      type: image-classification
      name: Image Classification
    dataset:
      name: cifar10
      type: cifar10
      split: test
    metrics:
    - type: accuracy
      value: 0.9788
      name: Accuracy
---

# vit-cifar10

See [the ViT paper](https://arxiv.org/abs/2010.11929v2).
"""

TRAINER_BODY = """# my-model

This model is a fine-tuned version of [microsoft/resnet-50](https://huggingface.co/microsoft/resnet-50) \
on the svhn dataset.
It achieves the following results on the evaluation set:
- Loss: 0.2101
- Accuracy: 0.9512
"""


def test_split_card_reads_front_matter_and_body():
    meta, body = split_card(VIT_CARD)
    assert meta["license"] == "apache-2.0" and meta["datasets"] == ["uoft-cs/cifar10"]
    assert body.lstrip().startswith("# vit-cifar10")


@pytest.mark.parametrize(
    "text", [None, "", "# no front matter\n", "---\n: : not yaml [\n---\nbody\n", "---\n- a list\n---\nbody"]
)
def test_split_card_never_raises_on_odd_cards(text):
    meta, body = split_card(text)
    assert meta == {}
    assert isinstance(body, str)


def test_model_index_accuracy_prefers_top1_on_the_models_dataset_and_makes_fractions():
    index = [
        {
            "results": [
                {
                    "dataset": {"type": "imagenet-1k"},
                    "metrics": [{"type": "top-5 accuracy", "value": 99.1}, {"type": "accuracy", "value": 81.2}],
                },
                {"dataset": {"type": "cifar10", "name": "CIFAR-10"}, "metrics": [{"type": "Accuracy", "value": 97.5}]},
            ]
        }
    ]
    assert model_index_accuracy(index, "cifar10") == pytest.approx(0.975)
    assert model_index_accuracy(index) == pytest.approx(0.812)
    assert model_index_accuracy([{"results": [{"metrics": [{"type": "f1", "value": 0.9}]}]}]) is None
    assert model_index_accuracy("not a list") is None
    assert model_index_datasets(index) == ["imagenet-1k", "cifar10", "CIFAR-10"]


def test_body_facts_read_what_the_trainer_writes():
    facts = body_facts(TRAINER_BODY)
    assert facts == {
        "base_model": "microsoft/resnet-50",
        "datasets": ["svhn"],
        "accuracy": pytest.approx(0.9512),
        "papers": [],
    }
    assert body_facts("- Accuracy: 95.1%")["accuracy"] == pytest.approx(0.951)
    assert body_facts("nothing here") == {"base_model": None, "datasets": [], "accuracy": None, "papers": []}


def test_card_summary_from_a_full_card():
    summary = card_summary(
        {"id": "me/vit-cifar10", "tags": ["arxiv:2010.11929"], "library_name": "transformers"}, VIT_CARD
    )
    assert summary["dataset"] == "cifar10"
    assert summary["papers"] == ["2010.11929"]
    assert summary["accuracy"] == pytest.approx(0.9788)
    assert summary["base_model"] == "google/vit-base-patch16-224-in21k"
    assert summary["license"] == "apache-2.0"


def test_card_summary_from_listing_metadata_alone():
    listing = {
        "id": "timm/resnet18.a1_in1k",
        "library_name": "timm",
        "tags": [
            "timm",
            "dataset:imagenet-1k",
            "arxiv:2110.00476",
            "license:apache-2.0",
            "base_model:finetune:timm/resnet18.tv_in1k",
        ],
        "config": {"architecture": "resnet18", "num_classes": 1000},
        "model-index": [
            {"results": [{"dataset": {"type": "imagenet-1k"}, "metrics": [{"type": "top1", "value": 71.5}]}]}
        ],
    }
    summary = card_summary(listing)
    assert (summary["dataset"], summary["papers"], summary["license"]) == ("imagenet-1k", ["2110.00476"], "apache-2.0")
    assert summary["accuracy"] == pytest.approx(0.715)
    assert summary["base_model"] == "timm/resnet18.tv_in1k"
    assert (summary["architecture"], summary["model_type"], summary["num_classes"]) == ("resnet18", "resnet", 1000)
    assert not needs_card(listing)


def test_a_bare_listing_needs_its_card_and_the_card_fills_it():
    listing = {"id": "me/resnet-svhn", "library_name": "transformers", "tags": ["transformers"]}
    assert needs_card(listing)
    summary = card_summary(listing, TRAINER_BODY)
    assert (summary["dataset"], summary["accuracy"], summary["base_model"]) == (
        "svhn",
        pytest.approx(0.9512),
        "microsoft/resnet-50",
    )


def test_listing_card_data_wins_over_the_card_front_matter():
    listing = {"id": "me/x", "cardData": {"license": "mit", "datasets": ["mnist"]}}
    summary = card_summary(listing, VIT_CARD)
    assert summary["license"] == "mit" and summary["dataset"] == "mnist"


@pytest.mark.parametrize(
    ("config", "repo", "library", "expected"),
    [
        (
            {"architectures": ["ViTForImageClassification"], "model_type": "vit"},
            "google/vit-base",
            "transformers",
            ("ViTForImageClassification", "vit"),
        ),
        (
            {"architecture": "efficientnet_b0"},
            "timm/efficientnet_b0.ra_in1k",
            "timm",
            ("efficientnet_b0", "efficientnet"),
        ),
        (None, "timm/convnext_tiny.fb_in1k", "timm", ("convnext_tiny", "convnext")),
        (None, "someone/my-net", "pytorch", (None, None)),
    ],
)
def test_architecture(config, repo, library, expected):
    assert architecture(config, repo, library) == expected
