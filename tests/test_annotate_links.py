"""Cross-source link rule: hub ids, weights URLs, paper + family; never within one source."""

import pytest

from sn_lake.annotate.links import find_links, hub_repo_id, weights_key


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://github.com/IVRL/AdversaryLossLandscape/tree/master", "github.com/ivrl/adversarylosslandscape"),
        ("https://github.com/IVRL/AdversaryLossLandscape", "github.com/ivrl/adversarylosslandscape"),
        ("http://www.github.com/osmr/imgclsmob/tree/master/pytorch/", "github.com/osmr/imgclsmob/pytorch"),
        ("https://github.com/hustvl/Vim?tab=readme-ov-file", "github.com/hustvl/vim"),
        ("https://zenodo.org/record/10519652", "zenodo.org/records/10519652"),
        ("https://zenodo.org/records/10519652#files", "zenodo.org/records/10519652"),
        ("not a url", None),
        (None, None),
    ],
)
def test_weights_key(url, key):
    assert weights_key(url) == key


@pytest.mark.parametrize(
    ("model_id", "url", "hub"),
    [
        ("huggingface:timm/resnet18.a1_in1k", None, "timm/resnet18.a1_in1k"),
        ("timm:resnet18.a1_in1k", "https://huggingface.co/timm/resnet18.a1_in1k", "timm/resnet18.a1_in1k"),
        (
            "kaggle:google/x/pyTorch/default",
            "https://huggingface.co/google/vit-base-patch16-224/tree/main",
            "google/vit-base-patch16-224",
        ),
        ("timm:x", "https://huggingface.co/datasets/cifar10", None),
        ("timm:x", "https://github.com/a/b", None),
        ("timm:x", None, None),
    ],
)
def test_hub_repo_id(model_id, url, hub):
    assert hub_repo_id(model_id, url) == hub


def test_links_across_sources_strongest_type_both_directions():
    models = [
        {
            "model_id": "timm:resnet18.a1_in1k",
            "weights_url": "https://huggingface.co/timm/resnet18.a1_in1k",
            "paper_id": "2110.00476",
            "model_type": "resnet",
        },
        {
            "model_id": "huggingface:timm/resnet18.a1_in1k",
            "weights_url": None,
            "paper_id": "2110.00476",
            "model_type": "resnet",
        },
        {
            "model_id": "securitynet:security/cifar-10/a",
            "weights_url": "https://github.com/IVRL/AdversaryLossLandscape/tree/master",
            "paper_id": "2006.08403",
            "model_type": "resnet",
        },
        {
            "model_id": "securitynet:security/cifar-10/b",
            "weights_url": "https://github.com/IVRL/AdversaryLossLandscape/tree/master",
            "paper_id": "2006.08403",
            "model_type": "vgg",
        },
        {
            "model_id": "kaggle:ivrl/landscape/pyTorch/default",
            "weights_url": "https://github.com/IVRL/AdversaryLossLandscape",
            "paper_id": None,
            "model_type": None,
        },
        {
            "model_id": "securitynet:benchmark/imagenet1k/resnet18",
            "weights_url": "https://github.com/osmr/imgclsmob/tree/master/pytorch",
            "paper_id": "1512.03385",
            "model_type": "resnet",
        },
        {
            "model_id": "timm:resnet18.tv_in1k",
            "weights_url": "https://download.pytorch.org/models/resnet18-5c106cde.pth",
            "paper_id": "1512.03385",
            "model_type": "resnet",
        },
        {"model_id": "timm:resnet34.tv_in1k", "weights_url": None, "paper_id": "1512.03385", "model_type": "vgg"},
    ]
    links = {(r["model_id"], r["linked_model_id"]): (r["link_type"], r["evidence"]) for r in find_links(models)}
    # same hub repo: linked by hub id, although paper + family also match (the stronger type wins)
    assert links[("timm:resnet18.a1_in1k", "huggingface:timm/resnet18.a1_in1k")] == (
        "same_hub_id",
        "timm/resnet18.a1_in1k",
    )
    assert links[("huggingface:timm/resnet18.a1_in1k", "timm:resnet18.a1_in1k")][0] == "same_hub_id"
    # the same release on GitHub seen from Kaggle and from the SecurityNet table
    assert links[("kaggle:ivrl/landscape/pyTorch/default", "securitynet:security/cifar-10/a")] == (
        "same_weights_url",
        "github.com/ivrl/adversarylosslandscape",
    )
    assert ("kaggle:ivrl/landscape/pyTorch/default", "securitynet:security/cifar-10/b") in links
    # paper + family across sources; a different family does not link
    assert links[("securitynet:benchmark/imagenet1k/resnet18", "timm:resnet18.tv_in1k")] == (
        "same_paper_and_family",
        "1512.03385 + resnet",
    )
    assert ("securitynet:benchmark/imagenet1k/resnet18", "timm:resnet34.tv_in1k") not in links
    # never within one source, even with the same URL
    assert ("securitynet:security/cifar-10/a", "securitynet:security/cifar-10/b") not in links
    assert all((b, a) in links for a, b in links)
    assert len(links) == 8
