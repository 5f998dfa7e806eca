"""The foundation's rule tables: datasets from timm tags, architecture families, arXiv ids."""

import pytest

from sn_lake.annotate.architectures import model_family
from sn_lake.annotate.datasets import (
    CATEGORIES,
    TIMM_TAG_DATASETS,
    canonical_dataset,
    data_category,
    dataset_from_timm_tag,
)
from sn_lake.annotate.papers import arxiv_ids


@pytest.mark.parametrize(
    ("tag", "dataset"),
    [
        ("a1_in1k", "imagenet-1k"),
        ("in1k", "imagenet-1k"),
        ("fb_in22k", "imagenet-22k"),
        ("augreg_in21k", "imagenet-21k"),
        ("in12k", "imagenet-12k"),
        ("augreg2_in21k_ft_in1k", "imagenet-1k"),  # fine-tuned last on ImageNet-1k
        ("fb_in22k_ft_in1k_384", "imagenet-1k"),
        ("laion2b_ft_in12k_in1k", "imagenet-1k"),
        ("clip_laion2b", "laion-2b"),
        ("ns_jft_in1k", "imagenet-1k"),
        ("webli", "webli"),
        ("openai", None),  # CLIP's data has no public name: unknown, not guessed
        ("a1h", None),
        ("", None),
        (None, None),
    ],
)
def test_dataset_from_timm_tag(tag, dataset):
    assert dataset_from_timm_tag(tag) == dataset


def test_every_tag_dataset_has_a_category():
    assert set(TIMM_TAG_DATASETS.values()) <= set(CATEGORIES)


@pytest.mark.parametrize(
    ("dataset", "category"),
    [
        ("imagenet-1k", "natural"),
        ("cifar10", "natural"),
        ("mnist", "digit"),
        ("bloodmnist", "medical"),
        ("laion-2b", "web"),
        (None, None),
        ("unheard-of", None),
    ],
)
def test_data_category(dataset, category):
    assert data_category(dataset) == category


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("CIFAR-10", "cifar10"),
        ("cifar_100", "cifar100"),
        ("uoft-cs/cifar10", "cifar10"),
        ("ImageNet1k", "imagenet-1k"),
        ("ILSVRC/imagenet-1k", "imagenet-1k"),
        ("imagenet-21k", "imagenet-21k"),
        ("BloodMNIST", "bloodmnist"),
        ("SVHN", "svhn"),
        ("CUB-200-2011", "cub-200-2011"),
        ("my-holiday-photos", None),
        ("  ", None),
        (None, None),
    ],
)
def test_canonical_dataset(name, canonical):
    assert canonical_dataset(name) == canonical


@pytest.mark.parametrize(
    ("architecture", "family"),
    [
        ("resnet18", "resnet"),
        ("resnet50d", "resnet"),
        ("resnet10t", "resnet"),
        ("vit_base_patch16_224", "vit"),
        ("vit_small_patch16_384", "vit"),
        ("convnext_tiny", "convnext"),
        ("convnextv2_atto", "convnextv2"),
        ("mobilenetv3_large_100", "mobilenetv3"),
        ("efficientnet_b0", "efficientnet"),
        ("tf_efficientnet_b0", "efficientnet"),
        ("efficientnetv2_rw_s", "efficientnetv2"),
        ("legacy_seresnet18", "seresnet"),
        ("wide_resnet50_2", "wide_resnet"),
        ("inception_v3", "inception"),
        ("res2net50_26w_4s", "res2net"),
        ("densenet121", "densenet"),
        ("vgg16_bn", "vgg"),
        ("swinv2_tiny_window8_256", "swinv2"),
        ("deit3_small_patch16_224", "deit"),
        ("", None),
        (None, None),
    ],
)
def test_model_family(architecture, family):
    assert model_family(architecture) == family


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("arXiv:2110.00476", ["2110.00476"]),
        ("arXiv:2104.10972v4", ["2104.10972"]),
        ("https://arxiv.org/abs/2010.11929v2 and arxiv.org/pdf/2010.11929", ["2010.11929"]),
        ("arXiv:1512.03385, arXiv:2201.03545", ["1512.03385", "2201.03545"]),
        ("arXiv:cs/0112017", ["cs/0112017"]),
        ("version 1.0.31", []),
        (None, []),
    ],
)
def test_arxiv_ids(text, ids):
    assert arxiv_ids(text) == ids
