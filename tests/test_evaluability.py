"""The evaluability rule: what the evaluation can load, decided from the crawl's facts, with a reason otherwise."""

import pytest

from sn_lake.evaluate.evaluability import TRANSFORMERS_IMAGE_CLASSIFIERS, Candidate, decide, reason_kind

TIMM = frozenset({"resnet18", "vit_tiny_patch16_224", "convnext_atto"})


def verdict(token=False, budget=10**9, **facts):
    facts = {
        "model_id": "huggingface:x/y",
        "source": "huggingface",
        "library": "transformers",
        "has_safetensors": True,
        "dataset": "beans",
        **facts,
    }
    return decide(Candidate(**facts), timm_architectures=TIMM, max_parameters=budget, has_token=token)


def test_the_class_list_is_the_pinned_transformers_own():
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES

    shipped = set()
    for names in MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES.values():
        shipped.update(names if isinstance(names, (list, tuple)) else [names])
    assert TRANSFORMERS_IMAGE_CLASSIFIERS == shipped


def test_evaluable_transformers_and_timm_models():
    v = verdict(architectures=("ViTForImageClassification",))
    assert (v.evaluable, v.loader, v.dataset_repo, v.reason) == (True, "transformers", "AI-Lab-Makerere/beans", None)
    v = verdict(library="timm", architecture="resnet18", dataset="cifar10")
    assert (v.evaluable, v.loader, v.dataset_repo) == (True, "timm", "uoft-cs/cifar10")
    v = verdict(
        source="local",
        model_id="local:z",
        library="timm",
        architecture="convnext_atto",
        dataset="digits",
        has_safetensors=None,
    )
    assert (v.evaluable, v.loader, v.dataset_repo) == (True, "timm", "scikit-learn:digits")
    assert (
        verdict(architectures=("ResNetForImageClassification",), dataset="someone/leaves").dataset_repo
        == "someone/leaves"
    )


@pytest.mark.parametrize(
    ("facts", "kind"),
    [
        ({"architectures": ("ViTForImageClassification",), "remote_code": True}, "remote code required"),
        ({"architectures": ("MyNetForImageClassification",)}, "unsupported architecture"),
        ({"architectures": ("BertForSequenceClassification",)}, "not an image classifier"),
        ({"library": "timm", "architecture": "hf-hub:other/repo"}, "unsupported architecture"),
        ({"library": "timm", "architecture": "local-dir:/etc"}, "unsupported architecture"),
        ({"library": "keras"}, "no PyTorch weights"),
        ({}, "no known model format"),
        ({"architectures": ("ViTForImageClassification",), "has_safetensors": False}, "no safetensors weights"),
        ({"architectures": ("ViTForImageClassification",), "n_parameters": 2 * 10**9}, "over the parameter budget"),
        ({"architectures": ("ViTForImageClassification",), "dataset": None}, "no dataset declared"),
        (
            {"architectures": ("ViTForImageClassification",), "dataset": None, "dataset_note": "imagefolder ..."},
            "no dataset",
        ),
        ({"architectures": ("ViTForImageClassification",), "dataset": "my-own-set"}, "dataset not on the Hub"),
        ({"architectures": ("ViTForImageClassification",), "dataset": "imagenet-1k"}, "gated dataset"),
        ({"source": "securitynet"}, "published results only"),
        ({"source": "timm"}, "registry entry"),
    ],
)
def test_not_evaluable_with_a_reason(facts, kind):
    v = verdict(**facts)
    assert not v.evaluable
    assert reason_kind(v.reason) == kind, v.reason


def test_a_gated_dataset_is_evaluable_with_a_token():
    v = verdict(architectures=("ViTForImageClassification",), dataset="imagenet-1k", token=True)
    assert v.evaluable and v.dataset_repo == "ILSVRC/imagenet-1k"
